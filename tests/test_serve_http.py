"""``icformat serve`` over real HTTP on 127.0.0.1 (gunicorn, pre-forked workers), on both backends:
the probabilities of the model, and every error status of SageMaker's contract."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from icformat.image import encode_jpeg, encode_png
from icformat.serve import open_predictor, preprocess

from . import serve_support
from .serve_support import BACKENDS, FIXTURES, Server, any_model, free_port, icformat_env, invoke, model_path


@pytest.fixture(scope="module", params=BACKENDS)
def server(request):
    backend = request.param
    model = model_path(backend)
    srv = Server(model, workers=2)
    yield srv, model
    code, output = srv.stop()
    assert code == 130, output  # Ctrl-C is exit status 130
    assert "Traceback" not in output, output


def _reference(model: str, image: bytes) -> np.ndarray:
    predictor = open_predictor(model)
    return predictor.predict(preprocess(image, predictor.info.image_shape)[None])[0]


def test_ping_and_probabilities(server, photos):
    srv, model = server
    assert serve_support.request(srv.port, "GET", "/ping")[0] == 200
    for name in ("chelsea", "coffee", "astronaut"):
        for image, kind in ((encode_jpeg(photos[name], 90), "image/jpeg"), (encode_png(photos[name]), "image/png")):
            status, head, body = invoke(srv.port, image, kind)
            assert status == 200 and head["Content-Type"] == "application/json"
            assert isinstance(body, list) and len(body) == 4  # a bare array, as SageMaker answers JSON
            np.testing.assert_allclose(body, _reference(model, image), atol=1e-6)


def test_server_equals_mxnet_checkpoint(server, mx):
    """Probabilities over HTTP equal mx.model.load_checkpoint + the same preprocessing (unfused path)."""
    srv, model = server
    from .serve_models import oracle_probabilities

    if not model.endswith(".tar.gz"):
        pytest.skip("the MXNet oracle applies to the model.tar.gz; the ONNX export is checked against it elsewhere")
    images = [open(os.path.join(FIXTURES, n), "rb").read() for n in ("photo-0.jpg", "photo-1.png")]
    want = oracle_probabilities(mx, model, np.stack([preprocess(b, (3, 32, 32)) for b in images]))
    for image, row in zip(images, want):
        np.testing.assert_allclose(invoke(srv.port, image, "application/x-image")[2], row, atol=1e-5)


def test_jsonlines_accept(server, photos):
    srv, model = server
    image = encode_jpeg(photos["chelsea"], 90)
    status, head, _ = invoke(srv.port, image, accept="application/jsonlines")
    raw = serve_support.request(srv.port, "POST", "/invocations", image, {"Content-Type": "image/jpeg",
                                                            "Accept": "application/jsonlines"})[2]
    assert status == 200 and head["Content-Type"] == "application/jsonlines"
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    np.testing.assert_allclose(json.loads(raw)["prediction"], _reference(model, image), atol=1e-6)


@pytest.mark.parametrize("content_type, accept, body, status, says", [
    ("text/plain", None, b"hello", 415, "unsupported Content-Type"),
    ("application/x-recordio", None, b"x", 415, "unsupported Content-Type"),
    ("image/jpeg", "text/csv", None, 406, "accept application/json"),
    ("image/jpeg", None, b"", 400, "empty image"),
    ("image/jpeg", None, b"\xff\xd8\xff\xe0 not really a jpeg", 400, "cannot decode"),
    ("image/png", None, b"\x89PNG\r\n\x1a\n truncated", 400, "cannot decode"),
    ("image/jpeg", None, b"x" * (6 * 1024 * 1024 + 1), 413, "6 MB"),
])
def test_bad_requests(server, photos, content_type, accept, body, status, says):
    srv, _ = server
    if body is None:
        body = encode_jpeg(photos["coffee"], 80)
    got, head, answer = invoke(srv.port, body, content_type, accept)
    assert got == status and head["Content-Type"] == "application/json"
    assert says in answer["error"]
    assert serve_support.request(srv.port, "GET", "/ping")[0] == 200  # the worker is still there


def test_exactly_6_mb_is_accepted_then_judged_as_an_image(server):
    srv, _ = server
    status, _, answer = invoke(srv.port, b"\xff\xd8" + b"\0" * (6 * 1024 * 1024 - 2))
    assert status == 400 and "cannot decode" in answer["error"]


def test_unknown_paths_and_methods(server):
    srv, _ = server
    assert serve_support.request(srv.port, "GET", "/invocations")[0] == 405
    assert serve_support.request(srv.port, "GET", "/nothing")[0] == 404


def test_a_worker_that_dies_is_replaced(server, photos):
    """gunicorn starts a new worker, which loads the model the master staged (still there)."""
    import signal
    import subprocess
    import time

    srv, model = server
    children = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 2
    os.kill(int(children[0]), signal.SIGKILL)
    image = encode_jpeg(photos["coffee"], 90)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        if len(now) == 2 and children[0] not in now:
            break
        time.sleep(0.2)
    for _ in range(6):  # both workers answer
        status, _, body = invoke(srv.port, image)
        assert status == 200
        np.testing.assert_allclose(body, _reference(model, image), atol=1e-6)


def test_multi_label_server(photos):
    for backend in BACKENDS:
        try:
            model = model_path(backend, multi_label=True)
        except BaseException as exc:  # the other environment's backend (skip raised)
            if type(exc).__name__ == "Skipped":
                continue
            raise
        srv = Server(model)
        try:
            image = encode_jpeg(photos["chelsea"], 90)
            status, _, body = invoke(srv.port, image)
            assert status == 200 and len(body) == 4
            np.testing.assert_allclose(body, _reference(model, image), atol=1e-6)
            assert all(0 < p < 1 for p in body) and abs(sum(body) - 1) > 0.05  # sigmoids, not a softmax
        finally:
            assert srv.stop()[0] == 130


def test_bad_model_and_busy_port_fail_clearly(tmp_path):
    import subprocess
    import sys

    junk = tmp_path / "model.tar.gz"
    junk.write_bytes(b"junk")
    run = subprocess.run([sys.executable, "-m", "icformat", "serve", "--model", str(junk), "--port", str(free_port())],
                         env=icformat_env(), capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "not a model.tar.gz" in run.stderr and "Traceback" not in run.stderr
    srv = Server(any_model())
    try:
        run = subprocess.run([sys.executable, "-m", "icformat", "serve", "--model", any_model(), "--port",
                              str(srv.port)], env=icformat_env(), capture_output=True, text=True, timeout=60)
        assert run.returncode == 1 and f"cannot listen on 127.0.0.1:{srv.port}" in run.stderr
    finally:
        srv.stop()
    run = subprocess.run([sys.executable, "-m", "icformat", "serve"], env=icformat_env(), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "give --model" in run.stderr
