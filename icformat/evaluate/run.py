"""``evaluate``: run a model over a labelled data set and measure it.

The images go through exactly what ``predict`` runs (``serve.batches.iter_predictions``: the one
preprocessing, batched on the model's backend); the labels come from the data (record headers, the
``.lst`` or the manifest). What is kept per image is its true label(s) and probabilities; the most
confident mistakes keep their image bytes too (a bounded heap), for a report to show.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from ..errors import IcformatError
from ..serve.batches import DEFAULT_BATCH_SIZE, iter_predictions
from ..serve.graph import SIGMOID
from ..serve.model import Predictor
from ..serve.results import Prediction
from ..train.data import Example
from . import metrics


@dataclass
class Mistake:
    """A wrongly classified image: ``name``, where it is (``uri``), its true ``label``(s), the
    ``predicted`` class(es) and the ``confidence`` of the wrong answer; ``image`` holds its bytes."""

    name: str
    uri: str
    label: int | list[int]
    predicted: int | list[int]
    confidence: float
    image: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict:
        return {"name": self.name, "where": self.uri, "label": self.label, "predicted": self.predicted,
                "confidence": round(self.confidence, 6)}


@dataclass
class Evaluation:
    """What :func:`evaluate` measured (``to_dict`` is the ``--json`` output)."""

    model: str
    backend: str
    multi_label: bool
    classes: list[str]
    images: int
    names: list[str]
    labels: np.ndarray
    probabilities: np.ndarray
    failed: list[tuple[str, str]]
    mistakes: list[Mistake]
    top_k: int = 5
    threshold: float = 0.5

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=1) if len(self.probabilities) else np.zeros(0, np.int64)

    def confusion(self) -> np.ndarray:
        return metrics.confusion_matrix(self.labels, self.predicted, len(self.classes))

    def summary(self) -> dict:
        """The metrics (no per-image data)."""
        out: dict = {"model": self.model, "backend": self.backend, "images": self.images, "failed": len(self.failed),
                     "multi_label": self.multi_label, "classes": self.classes}
        if self.multi_label:
            scores = metrics.multi_label_scores(self.labels, self.probabilities, self.threshold)
            present = [ap for ap in scores["average_precision"] if ap is not None]
            out.update(threshold=self.threshold, mean_average_precision=float(np.mean(present)) if present else None,
                       per_class=_rows(self.classes, scores))
        else:
            matrix = self.confusion()
            per_class = metrics.per_class_from_confusion(matrix)
            correct = int(np.trace(matrix))
            out.update(accuracy=correct / self.images if self.images else 0.0,
                       top_k={str(k): metrics.top_k_accuracy(self.labels, self.probabilities, k)
                              for k in sorted({1, min(self.top_k, len(self.classes))})},
                       per_class=_rows(self.classes, {k: v.tolist() for k, v in per_class.items()}),
                       confusion_matrix=matrix.tolist())
        return out

    def to_dict(self) -> dict:
        return {**self.summary(), "mistakes": [m.to_dict() for m in self.mistakes],
                "failures": [{"where": w, "error": e} for w, e in self.failed]}


def class_names(value: int | list[int], classes: list[str]) -> str:
    """A class id's name, or the names of several joined by ``+`` (``(none)`` for no class)."""
    if isinstance(value, list):
        return "+".join(classes[i] for i in value) or "(none)"
    return classes[value]


def _rows(classes: list[str], columns: dict[str, list]) -> list[dict]:
    return [{"class": name, **{k: columns[k][i] for k in columns}} for i, name in enumerate(classes)]


def evaluate(predictor: Predictor, examples: Iterable[Example], *, top_k: int = 5, threshold: float = 0.5,
             mistakes: int = 20, batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None,
             on_result: Callable[[Prediction], None] | None = None) -> Evaluation:
    """Predict every example and measure the model against its labels. A sigmoid model is scored
    as multi-label (labels must be multi-hot, one value per class); a softmax one by class id.
    Images that cannot be decoded (or records without an image header) are counted in ``failed``."""
    info = predictor.info
    multi = info.activation == SIGMOID
    classes = list(info.classes) if info.classes else [str(c) for c in range(info.num_classes)]
    names, labels, probabilities, failed = [], [], [], []
    worst: list = []  # a min-heap of (confidence, n, Mistake): the most confident mistakes
    pending: deque[Example] = deque()
    labelled = (_checked(e, info.num_classes, multi, failed) for e in examples)
    usable = (e for e in labelled if e is not None)
    for n, pred in enumerate(iter_predictions(predictor, _remember(usable, pending), batch_size=batch_size,
                                              workers=workers, read=_image_of)):
        example = pending.popleft()
        if on_result is not None:
            on_result(pred)
        if pred.error is not None:
            failed.append((example.uri, pred.error))
            continue
        truth = example.labels if multi else int(example.labels[0])
        names.append(example.name)
        labels.append(truth)
        probabilities.append(pred.probabilities)
        mistake = _mistake(example, truth, pred.probabilities, multi, threshold)
        if mistake is not None and mistakes:
            entry = (mistake.confidence, n, mistake)
            (heapq.heappush if len(worst) < mistakes else heapq.heappushpop)(worst, entry)
    width = info.num_classes
    return Evaluation(
        info.source, info.backend, multi, classes, len(names), names,
        np.asarray(labels, np.float32 if multi else np.int64).reshape((-1, width) if multi else (-1,)),
        np.asarray(probabilities, np.float32).reshape(-1, width), failed,
        [m for _, _, m in sorted(worst, key=lambda t: (-t[0], t[1]))], top_k, threshold)


def _image_of(example: Example) -> bytes:
    return bytes(example.image)


def _remember(examples: Iterator[Example], pending: deque) -> Iterator[Example]:
    for example in examples:
        pending.append(example)
        yield example


def _checked(example: Example, num_classes: int, multi: bool, failed: list) -> Example | None:
    """The example when its labels fit the model; else None (noted in ``failed``), or an error for
    labels of the wrong kind altogether."""
    if example.labels is None:
        failed.append((example.uri, "no readable image header (label unknown)"))
        return None
    values = example.labels
    if multi and len(values) != num_classes:
        raise IcformatError(f"{example.uri}: {len(values)} label value(s), but the model is multi-label with "
                            f"{num_classes} classes; evaluate it on multi-hot data of that width")
    if not multi and not (len(values) >= 1 and float(values[0]).is_integer() and 0 <= values[0] < num_classes):
        failed.append((example.uri, f"label {values[0]:g} is not a class id of the model (0..{num_classes - 1})"))
        return None
    return example


def _mistake(example: Example, truth, probs: np.ndarray, multi: bool, threshold: float) -> Mistake | None:
    if multi:
        predicted = probs >= threshold
        actual = np.asarray(truth) >= 0.5
        wrong = predicted != actual
        if not wrong.any():
            return None
        confidence = float(np.max(np.abs(probs[wrong] - threshold))) + threshold
        return Mistake(example.name, example.uri, np.flatnonzero(actual).tolist(), np.flatnonzero(predicted).tolist(),
                       confidence, bytes(example.image))
    best = int(np.argmax(probs))
    if best == truth:
        return None
    return Mistake(example.name, example.uri, truth, best, float(probs[best]), bytes(example.image))


__all__ = ["Evaluation", "Mistake", "class_names", "evaluate"]
