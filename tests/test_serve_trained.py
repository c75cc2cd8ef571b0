"""Inference and ONNX export of a model trained by ``icformat train`` (its own ResNet-20 v2 builder,
real digits): the served probabilities and the exported graph equal MXNet's unfused path."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from .train_fixtures import N_VAL, SIZE, digits_data, rec_job_channels, run_train, split_indices  # noqa: F401

from icformat import samples  # noqa: E402
from icformat.cli import main  # noqa: E402
from icformat.image import encode_png  # noqa: E402
from icformat.serve import open_predictor, preprocess  # noqa: E402

from .serve_models import oracle_probabilities  # noqa: E402
from .serve_support import onnxruntime_in_core_env  # noqa: E402


@pytest.fixture(scope="module")
def trained(digits_data, tmp_path_factory):  # noqa: F811
    """A model.tar.gz from the trainer (3 epochs) and the validation digits as PNG files."""
    folder = tmp_path_factory.mktemp("trained")
    output = str(folder / "model.tar.gz")
    result = run_train(folder, *rec_job_channels(digits_data), output=output, epochs=3)
    images, targets = samples.digit_images(SIZE)
    _, val_idx = split_indices()
    pngs = folder / "val"
    pngs.mkdir()
    for n, i in enumerate(val_idx):
        (pngs / f"{n:03d}_d{targets[i]}.png").write_bytes(encode_png(images[i]))
    return output, str(pngs), result


def test_trained_model_serves_mxnet_probabilities(mx, trained):
    model, pngs, result = trained
    names = sorted(os.listdir(pngs))
    batch = np.stack([preprocess(open(os.path.join(pngs, n), "rb").read(), (3, SIZE, SIZE)) for n in names])
    got = open_predictor(model).predict(batch)
    np.testing.assert_allclose(got, oracle_probabilities(mx, model, batch), atol=1e-5)
    accuracy = np.mean([int(n.split("_d")[1][0]) == p for n, p in zip(names, got.argmax(axis=1))])
    assert len(names) == N_VAL and accuracy > 0.3  # trained: well above the 10% of chance


def test_trained_model_exports_to_onnx(mx, trained, tmp_path):
    """Exported here (MXNet + onnx), run on onnxruntime in the core environment (numpy 2)."""
    import onnx

    model, pngs, _ = trained
    dest = str(tmp_path / "trained.onnx")
    assert main(["export", "--model", model, "-o", dest, "--json"]) == 0
    assert [i.name for i in onnx.load(dest).graph.input] == ["data"]
    names = sorted(os.listdir(pngs))
    batch = np.stack([preprocess(open(os.path.join(pngs, n), "rb").read(), (3, SIZE, SIZE)) for n in names])
    got = onnxruntime_in_core_env(dest, batch, tmp_path)
    np.testing.assert_allclose(got, oracle_probabilities(mx, model, batch), atol=1e-5)


def test_predict_cli_on_trained_model(trained, capsys):
    model, pngs, _ = trained
    assert main(["predict", "-m", model, pngs, "--top-k", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == N_VAL and all(len(line["prediction"]) == 10 for line in lines)
