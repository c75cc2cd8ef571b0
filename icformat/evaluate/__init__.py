"""Evaluate a model on labelled data: accuracy, top-k, per-class precision/recall/F1, the confusion
matrix and the most confident mistakes; average precision and F1 at a threshold for multi-label
models. The images go through ``predict``'s own preprocessing and backend."""
from .run import Evaluation, Mistake, evaluate

__all__ = ["Evaluation", "Mistake", "evaluate"]
