"""MXNet backend: a SageMaker/icformat ``model.tar.gz`` (or its folder) bound for inference.

MXNet is imported through ``icformat.mxnet_runtime.import_mxnet``, which switches off the fused CPU
path that computes pre-activation ResNets wrongly. The loss layer is replaced by the plain activation
(``graph.inference_symbol``), the same graph the ONNX export writes.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from ..errors import FormatError
from ..train.artifacts import ModelFiles, extract_model_tarball
from ..mxnet_runtime import import_mxnet, quiet_bind
from .graph import Head, inference_symbol, read_head
from .model import MXNET, ModelInfo, find_classes_file, load_classes
from .preprocess import check_image_shape


def inspect_model(files: ModelFiles, source: str) -> tuple[Head, tuple[int, int, int]]:
    """The head and ``image_shape`` of an extracted model, read without MXNet."""
    with open(files.symbol_path) as f:
        head = read_head(f.read(), source)
    if files.image_shape is None:
        raise FormatError("no model-shapes.json in the model: the input image_shape is unknown", path=source)
    try:
        return head, check_image_shape(files.image_shape)
    except ValueError as exc:
        raise FormatError(f"model-shapes.json: {exc}", path=source) from exc


class MXNetPredictor:
    """A ``Predictor`` on MXNet's CPU executor."""

    def __init__(self, model: str, *, classes: str | None = None, threads: int | None = None):
        # the extracted files are needed only until the weights are bound: the folder goes at once, so
        # that no stop of a server (whose workers leave through os._exit) leaves it in the temp folder
        with tempfile.TemporaryDirectory(prefix="icformat-model-") as folder:
            files = extract_model_tarball(model, folder)
            head, shape = inspect_model(files, model)
            if threads:
                os.environ.setdefault("OMP_NUM_THREADS", str(threads))
            # OpenMP threads that spin while waiting starve each other (and the decoding threads) as soon
            # as the cores are shared: measured 5-8x fewer requests/s from one 2-thread worker on 2 busy
            # cores; blocking waits restore it. Only takes effect before MXNet's first import.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            self._mx = import_mxnet()
            self._module = self._bind(files, head, shape, model)
            num_classes = int(self._module.output_shapes[0][1][-1])
            names = load_classes(classes or find_classes_file(files.folder), num_classes)
        self.info = ModelInfo(shape, num_classes, head.activation, names, model, MXNET)

    def _bind(self, files: ModelFiles, head: Head, shape: tuple[int, int, int], source: str):
        mx = self._mx
        try:
            symbol, args, aux = mx.model.load_checkpoint(files.prefix, files.epoch)
            net = inference_symbol(mx, symbol, head)
            module = mx.mod.Module(net, data_names=("data",), label_names=None, context=mx.cpu())
            with quiet_bind():
                module.bind(data_shapes=[("data", (1,) + shape)], for_training=False)
            module.set_params(args, aux, allow_missing=False, allow_extra=True)
        except (mx.base.MXNetError, ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FormatError(f"MXNet cannot load the checkpoint: {reason}", path=source) from exc
        return module

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, num_classes)`` for a float32 ``(N, C, H, W)`` batch."""
        mx = self._mx
        data = mx.nd.array(batch, dtype=np.float32)
        self._module.forward(mx.io.DataBatch(data=[data]), is_train=False)
        return self._module.get_outputs()[0].asnumpy()

    def close(self) -> None:
        """Nothing to release: the extracted model is gone once bound."""
