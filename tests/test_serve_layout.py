"""The inference package imports neither runtime until a model needs it; SageMaker's layout defaults."""
from __future__ import annotations

import subprocess
import sys

from icformat.serve import server

from .serve_support import icformat_env


def test_core_imports_neither_runtime():
    code = ("import sys, icformat.serve, icformat.serve.http, icformat.serve.transform, icformat.serve.server, "
            "icformat.cli; print(sorted(m for m in ('mxnet', 'onnxruntime', 'onnx', 'gunicorn') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], env=icformat_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_sagemaker_layout_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(server, "SAGEMAKER_MODEL_DIR", str(tmp_path))
    monkeypatch.delenv("SAGEMAKER_BIND_TO_PORT", raising=False)
    monkeypatch.delenv("SAGEMAKER_MODEL_SERVER_WORKERS", raising=False)
    assert server.sagemaker_defaults() == (str(tmp_path), "0.0.0.0", 8080, None)
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9090")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "3")
    assert server.sagemaker_defaults() == (str(tmp_path), "0.0.0.0", 9090, 3)
    monkeypatch.setattr(server, "SAGEMAKER_MODEL_DIR", str(tmp_path / "absent"))
    assert server.sagemaker_defaults()[0] is None
