"""Accuracy as SageMaker's algorithm reports it, computed on NumPy copies of the outputs.

Single label: top-1 accuracy (and top-k with ``top_k``). Multi-label: the fraction of the
``samples x classes`` decisions (probability >= 0.5) that match the labels, i.e. the average over all
classes. Padded samples (``batch.pad``) are left out.
"""
from __future__ import annotations

import numpy as np


class Accuracy:
    """Running accuracy (and top-k accuracy) over batches."""

    def __init__(self, *, multi_label: bool = False, top_k: int | None = None):
        self.multi_label = multi_label
        self.top_k = top_k
        self.reset()

    def reset(self) -> None:
        self.correct = 0.0
        self.correct_k = 0.0
        self.count = 0

    def update(self, probabilities: np.ndarray, labels: np.ndarray, pad: int = 0) -> None:
        keep = len(probabilities) - pad
        probs, labels = probabilities[:keep], labels[:keep]
        if self.multi_label:
            labels = labels.reshape(probs.shape)
            self.correct += float(((probs >= 0.5) == (labels >= 0.5)).mean(axis=1).sum())
        else:
            labels = labels.reshape(-1).astype(np.int64)
            self.correct += float((probs.argmax(axis=1) == labels).sum())
            if self.top_k:
                top = np.argpartition(-probs, self.top_k - 1, axis=1)[:, : self.top_k]
                self.correct_k += float((top == labels[:, None]).any(axis=1).sum())
        self.count += keep

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else 0.0

    @property
    def top_k_accuracy(self) -> float:
        return self.correct_k / self.count if self.count else 0.0
