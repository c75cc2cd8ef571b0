"""``icformat predict`` and ``icformat transform`` on both backends, local and s3://."""
from __future__ import annotations

import json
import os
import shutil

import boto3
import numpy as np
import pytest

from icformat.cli import main
from icformat.serve import open_predictor, preprocess

from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from .serve_support import BACKENDS, FIXTURE_CLASSES, any_model, model_path

CORRUPT = b"\xff\xd8\xff\xe0 this JPEG stops here"


@pytest.fixture()
def image_dir(photo_tree, tmp_path):
    """The 3x4 photo tree plus one corrupt JPEG."""
    root = tmp_path / "images"
    shutil.copytree(photo_tree, root)
    (root / "class_1" / "corrupt.jpg").write_bytes(CORRUPT)
    return root


def _direct(model: str, paths) -> np.ndarray:
    predictor = open_predictor(model)
    return predictor.predict(np.stack([preprocess(open(p, "rb").read(), predictor.info.image_shape) for p in paths]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_folder_writes_one_line_per_image(backend, image_dir, tmp_path, capsys):
    model = model_path(backend)
    out = tmp_path / "pred.jsonl"
    code = main(["predict", "--model", model, str(image_dir), "--top-k", "2", "-o", str(out), "--batch-size", "5"])
    err = capsys.readouterr().err
    assert code == 1 and "corrupt.jpg" in err and "skipped" in err  # reported, the rest predicted
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 12 and all(len(line["prediction"]) == 4 for line in lines)
    sources = [line["source"] for line in lines]
    assert sources == sorted(sources)  # walk order
    want = _direct(model, sources)
    np.testing.assert_allclose([line["prediction"] for line in lines], want, atol=1e-6)
    for line in lines:
        best = line["top_k"]
        assert best[0]["label"] == int(np.argmax(line["prediction"])) and len(best) == 2
        assert ("class" in best[0]) == (backend == "onnx")  # the ONNX fixture stores class names


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_classes_file_names_top_k(backend, photo_tree, tmp_path, capsys):
    names = tmp_path / "train.classes"
    names.write_text("ant\nbee\ncat\ndog\n")
    image = os.path.join(photo_tree, "class_0", "img_00000.jpg")
    assert main(["predict", "-m", model_path(backend), image, "--top-k", "4", "--classes", str(names)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["source"] == image
    assert sorted(b["class"] for b in line["top_k"]) == ["ant", "bee", "cat", "dog"]


def test_predict_onnx_uses_stored_class_names(photo_tree, capsys):
    image = os.path.join(photo_tree, "class_0", "img_00000.jpg")
    assert main(["predict", "-m", model_path("onnx"), image, "--top-k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["top_k"][0]["class"] in FIXTURE_CLASSES


@pytest.mark.parametrize("backend", BACKENDS)
def test_transform_folder_with_a_corrupt_image(backend, image_dir, tmp_path, capsys):
    model, out = model_path(backend), tmp_path / "out"
    assert main(["transform", "-m", model, str(image_dir), str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == 12 and report["failed"] == 1
    assert report["failures"][0]["name"] == "class_1/corrupt.jpg"
    outputs = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert len(outputs) == 12 and "class_0/img_00000.jpg.out" in outputs
    assert not any(name.startswith("class_1/corrupt") for name in outputs)
    body = json.loads((out / "class_2" / "img_00003.jpg.out").read_text())
    np.testing.assert_allclose(body["prediction"], _direct(model, [image_dir / "class_2" / "img_00003.jpg"])[0],
                               atol=1e-6)
    # re-running skips what is done and still reports the bad image
    assert main(["transform", "-m", model, str(image_dir), str(out), "--json"]) == 1
    again = json.loads(capsys.readouterr().out)
    assert again["written"] == 0 and again["skipped_existing"] == 12 and again["failed"] == 1


def test_transform_output_inside_input_is_not_read_back(image_dir, capsys):
    model = any_model()
    (image_dir / "class_1" / "corrupt.jpg").unlink()
    assert main(["transform", "-m", model, str(image_dir), str(image_dir / "out"), "--json"]) == 0
    assert main(["transform", "-m", model, str(image_dir), str(image_dir / "out"), "--json"]) == 0
    lines = capsys.readouterr().out
    assert json.loads(lines[lines.rindex("{\n"):])["skipped_existing"] == 12


@pytest.mark.parametrize("backend", BACKENDS)
def test_transform_s3_to_s3(backend, s3_bucket, photo_tree, tmp_path, capsys):
    model = model_path(backend)
    client = boto3.session.Session().client("s3")
    names = sorted(os.path.relpath(os.path.join(d, f), photo_tree) for d, _, fs in os.walk(photo_tree) for f in fs)
    for name in names[:5]:
        client.upload_file(os.path.join(photo_tree, name), s3_bucket, f"in/{name}")
    client.put_object(Bucket=s3_bucket, Key="in/broken.png", Body=b"\x89PNG\r\n\x1a\nbroken")
    out = f"s3://{s3_bucket}/{backend}-out"
    assert main(["transform", "-m", model, f"s3://{s3_bucket}/in", out, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["written"], report["failed"]) == (5, 1)
    key = f"{backend}-out/{names[0]}.out"
    stored = client.get_object(Bucket=s3_bucket, Key=key)
    assert stored["ContentType"] == "application/json"  # what it holds, not binary/octet-stream
    body = json.loads(stored["Body"].read())
    np.testing.assert_allclose(body["prediction"], _direct(model, [os.path.join(photo_tree, names[0])])[0], atol=1e-6)
    assert main(["transform", "-m", model, f"s3://{s3_bucket}/in", out, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["skipped_existing"] == 5
    lines = f"s3://{s3_bucket}/{backend}-lines"
    assert main(["transform", "-m", model, f"s3://{s3_bucket}/in", lines, "--accept", "application/jsonlines"]) == 1
    stored = client.get_object(Bucket=s3_bucket, Key=f"{backend}-lines/{names[0]}.out")
    assert stored["ContentType"] == "application/jsonlines"
    text = stored["Body"].read().decode()
    assert text.endswith("\n") and text.count("\n") == 1 and "prediction" in json.loads(text)


@pytest.mark.parametrize("args, message", [
    (["predict", "-m", "/nonexistent/model.tar.gz", "x.jpg"], "no such model"),
    (["transform", "-m", "MODEL", "/nonexistent/in", "OUT"], "no such file or folder"),
])
def test_clear_errors(args, message, tmp_path, capsys):
    args = [a.replace("MODEL", any_model()).replace("OUT", str(tmp_path / "o")) for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
