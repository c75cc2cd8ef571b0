"""int8 quantization of an exported model with onnxruntime's own tooling (static, QDQ, per-channel
weights, activations calibrated on real images), and the accuracy change on a validation ``.lst``.

Runs where onnxruntime runs (the ``onnx`` extra, the core environment), on a ``.onnx`` written by
``icformat export``; the model's metadata (image_shape, classes, activation) is kept.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..io.atomic import open_output
from ..errors import IcformatError, InputNotFound, MissingDependencyError
from ..io.objects import ObjectStore
from .batches import iter_predictions
from .model import Predictor
from .onnx_backend import OnnxPredictor, import_onnxruntime, read_model_bytes
from .preprocess import preprocess
from .sources import ImageSource, iter_sources


@dataclass(frozen=True)
class QuantizeReport:
    """What was written, how many images calibrated it and, with a validation set, top-1 accuracy of
    the float32 and int8 models and how often their best class agrees."""

    path: str
    calibration_images: int
    validation_images: int = 0
    float32_accuracy: float | None = None
    int8_accuracy: float | None = None
    agreement: float | None = None


class _Calibration:
    """onnxruntime's ``CalibrationDataReader``: one preprocessed image per call."""

    def __init__(self, input_name: str, sources: Sequence[ImageSource], image_shape):
        self._input = input_name
        self._items = self._iter(sources, image_shape)
        self.count = 0

    def _iter(self, sources, image_shape) -> Iterator[dict]:
        store = ObjectStore()
        for source in sources:
            try:
                pixels = preprocess(store.read(source.uri), image_shape)
            except (IcformatError, OSError):
                continue  # calibration only needs usable images
            self.count += 1
            yield {self._input: pixels[None]}

    def get_next(self):
        return next(self._items, None)


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime's quantization logs advice on the root logger; keep it off the user's terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_int8(model: str, dest: str, *, calibration: Sequence[str], max_images: int = 200,
                  validation_lst: str | None = None, validation_root: str | None = None) -> QuantizeReport:
    """Quantize the ONNX ``model`` to ``dest`` (int8 weights and activations), calibrated on up to
    ``max_images`` images of ``calibration`` (files, folders, ``s3://`` prefixes)."""
    import_onnxruntime()
    try:
        import onnx
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise MissingDependencyError("int8 quantization needs onnx beside onnxruntime: pip install 'icformat[onnx]'") from exc
    floating = OnnxPredictor(model)
    sources = [s for _, s in zip(range(max_images), iter_sources(calibration))]
    with tempfile.TemporaryDirectory(prefix="icformat-quantize-") as tmp:
        source_path, prepared, out_path = (os.path.join(tmp, n) for n in ("float32.onnx", "prepared.onnx", "int8.onnx"))
        with open(source_path, "wb") as f:
            f.write(read_model_bytes(model))
        reader = _Calibration(floating.input_name, sources, floating.info.image_shape)
        try:
            with _quiet_root_logger():
                quant_pre_process(source_path, prepared)  # shape inference, graph folding (BatchNorm into Conv)
                quantize_static(prepared, out_path, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.MinMax)
        except ValueError as exc:  # onnxruntime: "No data is collected."
            if reader.count:
                raise
            raise InputNotFound(f"no usable calibration image in {', '.join(calibration)}") from exc
        if reader.count == 0:
            raise InputNotFound(f"no usable calibration image in {', '.join(calibration)}")
        quantized = onnx.load(out_path)
        original = onnx.load(source_path)
        del quantized.metadata_props[:]
        quantized.metadata_props.extend(original.metadata_props)
        with open_output(dest, "wb") as out:
            out.write(quantized.SerializeToString())
    report = QuantizeReport(os.fspath(dest), reader.count)
    if validation_lst:
        report = _validate(report, floating, OnnxPredictor(os.fspath(dest)), validation_lst, validation_root)
    return report


def _validate(report: QuantizeReport, floating: Predictor, quantized: Predictor, lst: str,
              root: str | None) -> QuantizeReport:
    from ..lst.parse import read_lst
    from ..manifest.refs import base_of, resolve_ref

    table = read_lst(lst)
    base = root or base_of(lst)
    sources = [ImageSource(resolve_ref(p, base), p) for p in table.paths]
    labels = table.labels[:, 0].astype(int)
    best = []
    for predictor in (floating, quantized):
        best.append(np.array([np.argmax(p.probabilities) if p.error is None else -1
                              for p in iter_predictions(predictor, sources)]))
    usable = (best[0] >= 0) & (best[1] >= 0)
    if not usable.any():
        raise InputNotFound(f"{lst}: no usable validation image", path=lst)
    return QuantizeReport(report.path, report.calibration_images, int(usable.sum()),
                          float(np.mean(best[0][usable] == labels[usable])),
                          float(np.mean(best[1][usable] == labels[usable])),
                          float(np.mean(best[0][usable] == best[1][usable])))
