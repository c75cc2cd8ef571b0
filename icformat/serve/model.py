"""The ``Predictor`` interface and how a model path picks its backend.

``model.tar.gz`` (or its extracted folder, such as SageMaker's ``/opt/ml/model``) runs on MXNet;
``*.onnx`` (or a folder holding one) runs on onnxruntime. Both take the same preprocessed batch and
give the same probabilities; nothing here imports either runtime.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..io.paths import PathLike, is_uri, local_path
from ..errors import FormatError, InputNotFound
from ..lst.make import read_classes_file

MXNET, ONNXRUNTIME = "mxnet", "onnxruntime"


@dataclass(frozen=True)
class ModelInfo:
    """What inference needs to know: the input ``image_shape`` (C, H, W), the number of classes, the
    output ``activation`` (softmax or sigmoid), class names when known, the source and the backend."""

    image_shape: tuple[int, int, int]
    num_classes: int
    activation: str
    classes: tuple[str, ...] | None
    source: str
    backend: str


class Predictor(Protocol):
    """A loaded model: ``predict`` maps a float32 ``(N, C, H, W)`` batch of raw 0-255 pixels to
    ``(N, num_classes)`` probabilities."""

    info: ModelInfo

    def predict(self, batch: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


def backend_of(model: PathLike) -> str:
    """``onnxruntime`` for a ``.onnx`` file or a folder holding one (and no MXNet symbol), else ``mxnet``."""
    name = os.fspath(model)
    if name.lower().endswith(".onnx"):
        return ONNXRUNTIME
    if not is_uri(name) and os.path.isdir(name) and onnx_file_in(name) and not glob.glob(
            os.path.join(glob.escape(name), "*-symbol.json")):
        return ONNXRUNTIME
    return MXNET


def onnx_file_in(folder: str) -> str | None:
    """The single ``*.onnx`` file directly in ``folder`` (None when there is none)."""
    found = sorted(glob.glob(os.path.join(glob.escape(folder), "*.onnx")))
    if len(found) > 1:
        raise FormatError(f"{len(found)} .onnx files in the folder; give --model the one to serve", path=folder)
    return found[0] if found else None


def load_classes(path: str | None, num_classes: int, stored: Sequence[str] | None = None) -> tuple[str, ...] | None:
    """Class names from ``path`` (when given) or ``stored`` with the model; their count must match."""
    names = None
    if path is not None:
        if not is_uri(path) and not os.path.isfile(local_path(path)):
            raise InputNotFound(f"{path}: no such classes file", path=path)
        names = read_classes_file(path)
        where = path
    elif stored:
        names, where = list(stored), "the model's class list"
    if names is None:
        return None
    if len(names) != num_classes:
        raise FormatError(f"{len(names)} class names for a model with {num_classes} classes", path=where)
    return tuple(names)


def find_classes_file(folder: str) -> str | None:
    """A ``*.classes`` file stored beside the model files (the trainer's or ``lst make``'s)."""
    found = sorted(glob.glob(os.path.join(glob.escape(folder), "**", "*.classes"), recursive=True))
    return found[0] if len(found) == 1 else None
