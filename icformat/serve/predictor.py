"""Opening a model on its backend: MXNet for a ``model.tar.gz`` or its folder, onnxruntime for an
``.onnx``. Each backend is imported only when its model is opened."""
from __future__ import annotations

import os

from ..io.paths import PathLike, is_uri, local_path
from ..errors import InputNotFound
from .model import ONNXRUNTIME, Predictor, backend_of


def open_predictor(model: PathLike, *, classes: str | None = None, threads: int | None = None) -> Predictor:
    """Load ``model`` (local or ``s3://``) on its backend; ``classes`` is a class-names file (one per
    line, label order) that overrides names stored with the model; ``threads`` caps the compute threads."""
    name = os.fspath(model)
    if not is_uri(name) and not os.path.exists(local_path(name)):
        raise InputNotFound(f"{name}: no such model (give a model.tar.gz, its extracted folder or a .onnx file)",
                            path=name)
    if backend_of(name) == ONNXRUNTIME:
        from .onnx_backend import OnnxPredictor

        return OnnxPredictor(name, classes=classes, threads=threads)
    from .mxnet_backend import MXNetPredictor

    return MXNetPredictor(name, classes=classes, threads=threads)
