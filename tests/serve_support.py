"""Helpers of the inference tests: which backends this environment runs, the model each one
serves, a real gunicorn server on a free 127.0.0.1 port, and bounded HTTP requests."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from .conftest import HAS_MXNET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "data", "serve")
ONNX_MODELS = {False: os.path.join(FIXTURES, "tiny-resnet.onnx"), True: os.path.join(FIXTURES, "tiny-resnet-ml.onnx")}
FIXTURE_CLASSES = ["cat", "coffee", "dog", "rocket"]


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


HAS_ORT = _has_onnxruntime()
BACKENDS = ["mxnet", "onnx"]


def require_backend(backend: str) -> None:
    """Skip visibly where the backend's runtime belongs to the other environment."""
    if backend == "mxnet" and not HAS_MXNET:
        pytest.skip("mxnet not installed (core environment): MXNet backend test skipped")
    if backend == "onnx" and not HAS_ORT:
        if HAS_MXNET:
            pytest.skip("onnxruntime needs numpy >= 1.24, so it is not beside MXNet: runs in the core environment")
        raise AssertionError("onnxruntime should be installed in the core environment (the onnx extra)")


def model_path(backend: str, multi_label: bool = False) -> str:
    """The test model for ``backend``: the seeded SageMaker-layout tarball, or its committed export."""
    require_backend(backend)
    if backend == "onnx":
        return ONNX_MODELS[multi_label]
    from .serve_models import cached_model

    return cached_model(multi_label)


def any_model(multi_label: bool = False) -> str:
    """The test model of whichever backend this environment runs (MXNet in the full one)."""
    return model_path("mxnet" if HAS_MXNET else "onnx", multi_label)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def icformat_env() -> dict:
    return {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}


class Server:
    """``icformat serve`` in a subprocess, on 127.0.0.1, until ``stop``."""

    def __init__(self, model: str, *extra: str, workers: int = 1, preexec_fn=None):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "icformat", "serve", "--model", model, "--port", str(self.port),
             "--workers", str(workers), *extra],
            env=icformat_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.proc.stdout.read().decode()}")
            try:
                if request(self.port, "GET", "/ping", timeout_s=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError("server did not answer /ping in time")

    def stop(self) -> tuple[int, str]:
        """Ctrl-C the server; returns its exit status and output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out.decode(errors="replace")


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout_s: float = 30) -> tuple[int, dict, bytes]:
    """One HTTP request; returns ``(status, headers, body)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def invoke(port: int, image: bytes, content_type: str = "image/jpeg", accept: str | None = None):
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    status, head, body = request(port, "POST", "/invocations", image, headers)
    return status, head, json.loads(body) if body else None


def core_python() -> str | None:
    """The core environment's interpreter (numpy 2 + onnxruntime), for checks that need both sides:
    ``$ICFORMAT_CORE_PYTHON``, else ``.venv-core`` beside the running venv or in the repository."""
    candidates = [os.environ.get("ICFORMAT_CORE_PYTHON"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(sys.executable))), ".venv-core",
                               "bin", "python"),
                  os.path.join(REPO, ".venv-core", "bin", "python")]
    return next((c for c in candidates if c and os.path.exists(c)), None)


_ORT_SCRIPT = """
import sys, numpy as np
from icformat.serve import open_predictor
batch = np.load(sys.argv[2])
np.save(sys.argv[3], open_predictor(sys.argv[1]).predict(batch))
"""


def onnxruntime_in_core_env(model: str, batch, tmp_path):
    """Probabilities of ``model`` (.onnx) on onnxruntime, computed by the core environment."""
    import numpy as np

    python = core_python()
    if python is None:
        pytest.skip("no core environment (.venv-core, or set ICFORMAT_CORE_PYTHON) to run onnxruntime in")
    np.save(tmp_path / "batch.npy", batch)
    run = subprocess.run([python, "-c", _ORT_SCRIPT, model, str(tmp_path / "batch.npy"), str(tmp_path / "out.npy")],
                         env=icformat_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return np.load(tmp_path / "out.npy")
