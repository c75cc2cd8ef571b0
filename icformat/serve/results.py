"""The one postprocessing: probabilities as SageMaker answers them (a bare JSON array, or
``{"prediction": [...]}`` as JSON Lines and in batch-transform outputs) and the top-k classes."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np

JSON, JSONLINES = "application/json", "application/jsonlines"


@dataclass(frozen=True)
class Prediction:
    """The outcome for one image: ``probabilities`` or, for an image that could not be read or
    decoded, the ``error`` saying why."""

    source: str
    name: str
    probabilities: np.ndarray | None = None
    error: str | None = None


def as_list(probabilities: np.ndarray) -> list[float]:
    """Plain floats, one per class (float32 values, written exactly)."""
    return [float(p) for p in np.asarray(probabilities, dtype=np.float32).ravel()]


def top_k(probabilities: np.ndarray, k: int, classes: Sequence[str] | None = None) -> list[dict]:
    """The ``k`` most probable classes, best first: ``{"label", "probability"[, "class"]}``."""
    probs = np.asarray(probabilities, dtype=np.float32).ravel()
    order = np.argsort(-probs, kind="stable")[: max(0, k)]
    best = []
    for label in order:
        entry = {"label": int(label), "probability": float(probs[label])}
        if classes is not None:
            entry["class"] = classes[label]
        best.append(entry)
    return best


def prediction_record(pred: Prediction, k: int = 0, classes: Sequence[str] | None = None) -> dict:
    """The ``predict`` JSON line of one image: ``{"source", "prediction"[, "top_k"]}``."""
    record: dict = {"source": pred.source, "prediction": as_list(pred.probabilities)}
    if k:
        record["top_k"] = top_k(pred.probabilities, k, classes)
    return record


def transform_body(probabilities: np.ndarray) -> bytes:
    """A batch-transform ``.out`` object: ``{"prediction": [...]}``."""
    return json.dumps({"prediction": as_list(probabilities)}).encode()


def response_body(probabilities: np.ndarray, accept: str) -> bytes:
    """The ``/invocations`` body for ``accept`` (JSON: bare array; JSON Lines: one object and a newline)."""
    if accept == JSONLINES:
        return transform_body(probabilities) + b"\n"
    return json.dumps(as_list(probabilities)).encode()
