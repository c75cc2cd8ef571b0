"""Classification metrics from labels and probabilities, in numpy (the same definitions as
scikit-learn's, which the tests compare against; scikit-learn itself is not a dependency).

Single label: accuracy, top-k accuracy, the confusion matrix and per-class precision, recall, F1 and
support (a class never predicted, or never present, scores 0, as scikit-learn's ``zero_division=0``).
Multi-label: per-class average precision (the area under the precision-recall steps, as
``average_precision_score``) and precision, recall and F1 of ``probability >= threshold``.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``(num_classes, num_classes)`` counts: row = true class, column = predicted class."""
    true, predicted = np.asarray(true, np.int64), np.asarray(predicted, np.int64)
    flat = np.bincount(true * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def precision_recall_f1(true_positives, predicted, actual) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 from the counts of true positives, predicted positives
    and actual positives."""
    precision = _ratio(true_positives, predicted)
    recall = _ratio(true_positives, actual)
    f1 = _ratio(2 * np.asarray(true_positives, np.float64), np.asarray(predicted, np.float64) + actual)
    return precision, recall, f1


def per_class_from_confusion(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """``precision``, ``recall``, ``f1`` and ``support`` per class."""
    diagonal = np.diag(matrix)
    precision, recall, f1 = precision_recall_f1(diagonal, matrix.sum(axis=0), matrix.sum(axis=1))
    return {"precision": precision, "recall": recall, "f1": f1, "support": matrix.sum(axis=1)}


def top_k_accuracy(true: np.ndarray, probabilities: np.ndarray, k: int) -> float:
    """The share of images whose true class is among the ``k`` most probable."""
    if not len(true):
        return 0.0
    k = min(k, probabilities.shape[1])
    best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(best == np.asarray(true, np.int64)[:, None], axis=1)))


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision of one class (None when it has no positive image)."""
    positive = np.asarray(positive, bool)
    if not positive.any():
        return None
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    hits, ranked = positive[order], np.asarray(scores, np.float64)[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    true_positives = np.cumsum(hits)[last_of_each]
    precision = true_positives / (last_of_each + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def multi_label_scores(truth: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, list]:
    """Per class: ``average_precision`` (None without positives), and ``precision``, ``recall``,
    ``f1`` and ``support`` of ``probability >= threshold``."""
    actual = np.asarray(truth) >= 0.5
    predicted = np.asarray(probabilities) >= threshold
    true_positives = np.sum(actual & predicted, axis=0)
    precision, recall, f1 = precision_recall_f1(true_positives, predicted.sum(axis=0), actual.sum(axis=0))
    ap = [average_precision(actual[:, c], probabilities[:, c]) for c in range(actual.shape[1])]
    return {"average_precision": ap, "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": actual.sum(axis=0).tolist()}
