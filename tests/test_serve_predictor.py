"""Both backends give MXNet's own probabilities (its unfused path) for the same preprocessed input."""
from __future__ import annotations

import io
import json
import os
import tarfile

import numpy as np
import pytest

from icformat.errors import FormatError, InputNotFound
from icformat.serve import open_predictor, preprocess

from .serve_support import BACKENDS, FIXTURE_CLASSES, FIXTURES, model_path, require_backend


def _fixture_batch():
    names = ["photo-0.jpg", "photo-1.png"]
    images = [open(os.path.join(FIXTURES, n), "rb").read() for n in names]
    return names, np.stack([preprocess(b, (3, 32, 32)) for b in images])


@pytest.mark.parametrize("multi_label", [False, True], ids=["softmax", "multi-label"])
def test_mxnet_backend_equals_unfused_mxnet(mx, photos, multi_label):
    from icformat.image import encode_jpeg

    from .serve_models import cached_model, oracle_probabilities

    model = cached_model(multi_label)
    batch = np.stack([preprocess(encode_jpeg(p, 90), (3, 32, 32)) for p in list(photos.values())[:6]])
    predictor = open_predictor(model)
    assert predictor.info.activation == ("sigmoid" if multi_label else "softmax")
    got = predictor.predict(batch)
    want = oracle_probabilities(mx, model, batch)
    np.testing.assert_allclose(got, want, atol=1e-5)
    if not multi_label:
        np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)
    else:
        assert (got.sum(axis=1) > 1.05).any()  # independent sigmoids, not a distribution
    assert np.abs(got[0] - got[1]).max() > 1e-3  # different photos, different answers


@pytest.mark.parametrize("multi_label", [False, True], ids=["softmax", "multi-label"])
def test_onnxruntime_equals_mxnet_probabilities(multi_label):
    """The committed export on onnxruntime (core environment) against MXNet's probabilities, which
    make_fixtures.py computed with the unfused MXNet path."""
    model = model_path("onnx", multi_label)
    expected = json.load(open(os.path.join(FIXTURES, "expected.json")))[os.path.basename(model)]
    names, batch = _fixture_batch()
    predictor = open_predictor(model)
    got = predictor.predict(batch)
    np.testing.assert_allclose(got, np.array([expected[n] for n in names]), atol=1e-5)
    assert predictor.info.backend == "onnxruntime" and predictor.info.image_shape == (3, 32, 32)
    assert predictor.info.activation == ("sigmoid" if multi_label else "softmax")
    assert predictor.info.classes == (None if multi_label else tuple(FIXTURE_CLASSES))


def test_onnxruntime_batch_size_is_dynamic():
    predictor = open_predictor(model_path("onnx"))
    _, batch = _fixture_batch()
    big = np.concatenate([batch] * 5)
    out = predictor.predict(big)
    assert out.shape == (10, 4)
    np.testing.assert_allclose(out[8:], predictor.predict(batch), atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_classes_file_must_match(tmp_path, backend):
    model = model_path(backend)
    names = tmp_path / "three.classes"
    names.write_text("a\nb\nc\n")
    with pytest.raises(FormatError, match="3 class names for a model with 4 classes"):
        open_predictor(model, classes=str(names))
    names.write_text("w\nx\ny\nz\n")
    assert open_predictor(model, classes=str(names)).info.classes == ("w", "x", "y", "z")


def test_missing_model_is_clear(tmp_path):
    with pytest.raises(InputNotFound, match="no such model"):
        open_predictor(str(tmp_path / "nope.tar.gz"))


def _tarball(path, members: dict[str, bytes], link: str | None = None) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("image-classification-0001.params")
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
    return str(path)


@pytest.mark.parametrize("member", ["../evil.json", "/tmp/evil.json", "a/../../evil.json"])
def test_archive_escaping_its_folder_is_refused(tmp_path, member):
    bad = _tarball(tmp_path / "bad.tar.gz", {member: b"x", "image-classification-symbol.json": b"{}"})
    with pytest.raises(FormatError, match="points outside the archive"):
        open_predictor(bad)
    assert not (tmp_path / "evil.json").exists() and not os.path.exists("/tmp/evil.json")


def test_archive_with_link_is_refused(tmp_path):
    bad = _tarball(tmp_path / "link.tar.gz", {"image-classification-symbol.json": b"{}"}, link="/etc/passwd")
    with pytest.raises(FormatError, match="links"):
        open_predictor(bad)


def test_not_an_archive_is_clear(tmp_path):
    junk = tmp_path / "model.tar.gz"
    junk.write_bytes(b"not a tarball at all")
    with pytest.raises(FormatError, match="not a model.tar.gz"):
        open_predictor(str(junk))


def test_unsupported_head_names_the_operator(mx, tmp_path):
    from icformat.train.artifacts import MODEL_PREFIX, write_model_tarball

    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(mx.sym.Flatten(data), num_hidden=3, name="fc")
    mx.model.save_checkpoint(str(tmp_path / MODEL_PREFIX), 1, net, {"fc_weight": mx.nd.zeros((3, 12)),
                                                                    "fc_bias": mx.nd.zeros(3)}, {})
    model = str(tmp_path / "model.tar.gz")
    write_model_tarball(model, str(tmp_path), [1], (1, 3, 2, 2))
    with pytest.raises(FormatError, match="ends in the operator FullyConnected"):
        open_predictor(model)


def test_onnx_garbage_is_clear(tmp_path):
    require_backend("onnx")
    junk = tmp_path / "model.onnx"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(FormatError, match="onnxruntime cannot load the model"):
        open_predictor(str(junk))
