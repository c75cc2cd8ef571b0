"""``icformat export --quantize int8`` on onnxruntime (core environment): calibrated on real photos,
metadata kept, close to float32, and the accuracy change reported on a validation .lst."""
from __future__ import annotations

import json
import os

import numpy as np

from icformat.cli import main
from icformat.lst import write_lst
from icformat.serve import open_predictor, preprocess

from .serve_support import FIXTURE_CLASSES, any_model, model_path


def test_quantize_int8_with_validation(photo_tree, tmp_path, capsys):
    model = model_path("onnx")
    names = sorted(os.path.relpath(os.path.join(d, f), photo_tree) for d, _, fs in os.walk(photo_tree) for f in fs)
    lst = tmp_path / "val.lst"
    write_lst(str(lst), [(i, [float(int(n.split("/")[0][-1]))], n) for i, n in enumerate(names)])
    dest = tmp_path / "int8.onnx"
    assert main(["export", "-m", model, "--quantize", "int8", "-o", str(dest), "--validation-lst", str(lst),
                 "--validation-root", photo_tree, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calibration_images"] == len(names) == report["validation_images"]
    for key in ("float32_accuracy", "int8_accuracy", "agreement"):
        assert 0.0 <= report[key] <= 1.0
    import onnx

    graph = onnx.load(str(dest)).graph
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)
    int8 = open_predictor(str(dest))
    assert int8.info.classes == tuple(FIXTURE_CLASSES) and int8.info.image_shape == (3, 32, 32)
    batch = np.stack([preprocess(open(os.path.join(photo_tree, n), "rb").read(), (3, 32, 32)) for n in names])
    float32 = open_predictor(model).predict(batch)
    assert np.abs(int8.predict(batch) - float32).max() < 0.15


def test_quantize_needs_an_onnx_model_and_images(tmp_path, capsys):
    model = any_model()
    if model.endswith(".tar.gz"):
        assert main(["export", "-m", model, "--quantize", "int8", "-o", str(tmp_path / "q.onnx"),
                     "--calibration", str(tmp_path)]) == 2
        assert "takes an exported .onnx" in capsys.readouterr().err
    else:
        assert main(["export", "-m", model, "--quantize", "int8", "-o", str(tmp_path / "q.onnx")]) == 2
        assert "needs calibration images" in capsys.readouterr().err
    assert not (tmp_path / "q.onnx").exists()


def test_quantize_without_usable_calibration_images(tmp_path, capsys):
    model = model_path("onnx")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not an image")
    assert main(["export", "-m", model, "--quantize", "int8", "-o", str(tmp_path / "q.onnx"),
                 "--calibration", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "no usable calibration image" in err and "Traceback" not in err
    assert not (tmp_path / "q.onnx").exists()
