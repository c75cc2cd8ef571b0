"""The HTTP endpoint on gunicorn: a pre-forking master and ``workers`` processes, each loading its own
copy of the model (the master never imports MXNet or onnxruntime, whose thread pools do not survive a
fork), then serving ``http.InferenceApp``. The master unpacks and checks the model once, before any
worker starts, so a bad archive is one clear error instead of workers failing to boot.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import tempfile
from dataclasses import dataclass

from ..errors import IcformatError, MissingDependencyError
from ..train.artifacts import extract_model_tarball
from .model import ONNXRUNTIME, backend_of

SAGEMAKER_MODEL_DIR = "/opt/ml/model"
SAGEMAKER_PORT = 8080
WORKER_BOOT_ERROR = 3  # gunicorn's exit status when a worker cannot load its app


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: address, number of worker processes, compute threads per worker (default: the
    cores shared out), request timeout and an optional class-names file."""

    host: str = "127.0.0.1"
    port: int = SAGEMAKER_PORT
    workers: int = 1
    threads: int | None = None
    timeout_s: int = 60
    classes: str | None = None
    access_log: bool = False


def sagemaker_defaults() -> tuple[str | None, str, int, int | None]:
    """``(model, host, port, workers)`` inside SageMaker's container layout: ``/opt/ml/model`` when it
    exists, ``0.0.0.0``, ``SAGEMAKER_BIND_TO_PORT`` (8080) and ``SAGEMAKER_MODEL_SERVER_WORKERS``."""
    model = SAGEMAKER_MODEL_DIR if os.path.isdir(SAGEMAKER_MODEL_DIR) else None
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", SAGEMAKER_PORT))
    workers = os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS")
    return model, "0.0.0.0", port, int(workers) if workers else None


def stage_model(model: str, workdir: str) -> str:
    """A local path every worker loads: the ``.onnx`` file, or the folder the archive unpacked to.
    Checks what can be checked without a runtime (archive members, symbol head, image shape)."""
    if backend_of(model) == ONNXRUNTIME:
        from .onnx_backend import OnnxPredictor, read_model_bytes

        local = os.path.join(workdir, "model.onnx")
        with open(local, "wb") as f:
            f.write(read_model_bytes(model))
        OnnxPredictor(local, threads=1).close()  # a clear error now rather than workers failing to boot
        return local
    from .mxnet_backend import inspect_model

    files = extract_model_tarball(model, workdir)
    inspect_model(files, model)
    if importlib.util.find_spec("mxnet") is None:
        raise MissingDependencyError("a model.tar.gz needs MXNet 1.9.1: pip install 'icformat[train]' "
                                     "(or export it to ONNX where MXNet is installed and serve the .onnx)")
    return files.folder


def check_port_free(host: str, port: int) -> None:
    """Fail early, and clearly, when the address is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise IcformatError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port or --host") from exc


def serve(model: str, options: ServeOptions) -> int:
    """Serve ``model`` until interrupted; returns the exit status (0, or 130 on Ctrl-C)."""
    check_port_free(options.host, options.port)
    with tempfile.TemporaryDirectory(prefix="icformat-serve-") as workdir:
        local = stage_model(model, workdir)
        try:
            from .gunicorn_app import run_gunicorn
        except ImportError as exc:
            raise MissingDependencyError("serve needs gunicorn: pip install 'icformat[serve]'") from exc
        return run_gunicorn(local, options)
