"""onnxruntime backend: a ``.onnx`` file exported by ``icformat export`` (or any graph taking raw
``(N, C, H, W)`` pixels and giving probabilities). Runs without MXNet, with numpy 2."""
from __future__ import annotations

import json
import os

import numpy as np

from ..io.paths import is_uri
from ..io.streams import open_input
from ..errors import FormatError, InputNotFound, MissingDependencyError
from .graph import SIGMOID, SOFTMAX
from .model import ONNXRUNTIME, ModelInfo, load_classes, onnx_file_in
from .preprocess import check_image_shape

#: metadata keys ``icformat export`` writes into the model
META_IMAGE_SHAPE, META_CLASSES, META_ACTIVATION = "image_shape", "classes", "activation"


def import_onnxruntime():
    """``onnxruntime``, or a clear error saying how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError(
            "this needs onnxruntime: pip install 'icformat[onnx]' (numpy >= 1.24; not beside MXNet)") from exc
    return onnxruntime


def read_model_bytes(model: str) -> bytes:
    """The bytes of ``model`` (a .onnx file, a folder holding one, or an ``s3://`` object)."""
    if not is_uri(model) and os.path.isdir(model):
        model = onnx_file_in(model) or model
    try:
        with open_input(model, "rb") as f:
            return f.read()
    except FileNotFoundError as exc:
        raise InputNotFound(f"{model}: no such ONNX model", path=model) from exc


class OnnxPredictor:
    """A ``Predictor`` on onnxruntime's CPU provider, with every graph optimisation on."""

    def __init__(self, model: str, *, classes: str | None = None, threads: int | None = None):
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or 0)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # idle compute threads block instead of spinning, leaving the cores to the decoding threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        data = read_model_bytes(model)
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail...)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FormatError(f"onnxruntime cannot load the model: {reason}", path=model) from exc
        self.input_name = self._session.get_inputs()[0].name
        meta = self._session.get_modelmeta().custom_metadata_map
        shape = self._image_shape(meta, model)
        num_classes = self._num_classes(shape)
        stored = json.loads(meta[META_CLASSES]) if META_CLASSES in meta else None
        activation = meta.get(META_ACTIVATION, SOFTMAX)
        if activation not in (SOFTMAX, SIGMOID):
            raise FormatError(f"unknown output activation {activation!r} in the model's metadata", path=model)
        self.info = ModelInfo(shape, num_classes, activation, load_classes(classes, num_classes, stored),
                              model, ONNXRUNTIME)

    def _image_shape(self, meta: dict, model: str) -> tuple[int, int, int]:
        try:
            if META_IMAGE_SHAPE in meta:
                return check_image_shape(json.loads(meta[META_IMAGE_SHAPE]))
            return check_image_shape(self._session.get_inputs()[0].shape[1:])
        except (ValueError, TypeError) as exc:
            raise FormatError(f"cannot tell the input image_shape ({exc}); export it with icformat export",
                              path=model) from exc

    def _num_classes(self, shape: tuple[int, int, int]) -> int:
        declared = self._session.get_outputs()[0].shape[-1]
        if isinstance(declared, int):
            return declared
        return int(self.predict(np.zeros((1,) + shape, np.float32)).shape[-1])

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, num_classes)`` for a float32 ``(N, C, H, W)`` batch."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return self._session.run(None, {self.input_name: batch})[0]

    def close(self) -> None:
        self._session = None
