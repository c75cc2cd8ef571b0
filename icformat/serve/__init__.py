"""Inference on image-classification models: ``predict``, batch ``transform`` and a SageMaker-compatible
HTTP endpoint, on MXNet (``model.tar.gz``, the ``train`` extra) or onnxruntime (``model.onnx``, the
``onnx`` extra). Neither runtime is imported until a model of its kind is opened."""
from .model import ModelInfo, Predictor
from .predictor import open_predictor
from .preprocess import preprocess, preprocess_batch
from .results import Prediction

__all__ = ["ModelInfo", "Predictor", "open_predictor", "preprocess", "preprocess_batch", "Prediction"]
