"""Batch transform as SageMaker runs it for this algorithm: every image under INPUT gives
``OUTPUT/<relative name>.out`` holding ``{"prediction": [...]}``.

Outputs appear whole (local files through a temporary name, S3 objects in one put); images whose
output already exists are skipped, so an interrupted run resumes; bad images are reported, not fatal.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..io.paths import is_uri, local_path
from ..io.objects import ObjectStore
from ..io.paths import join_uri, split_s3
from .batches import DEFAULT_BATCH_SIZE, iter_predictions
from .model import Predictor
from .results import JSON, JSONLINES, Prediction, transform_body
from .sources import ImageSource, iter_sources, list_keys

OUT_SUFFIX = ".out"


@dataclass
class TransformReport:
    """What a run did: outputs ``written``, images ``skipped`` (output already there), ``failed``
    images as ``(name, reason)``."""

    written: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def output_name(output: str, name: str) -> str:
    """Where the output for the image named ``name`` goes."""
    if is_uri(output):
        return join_uri(output, name + OUT_SUFFIX)
    return os.path.join(output, *name.split("/")) + OUT_SUFFIX


def existing_outputs(output: str, store: ObjectStore) -> set[str]:
    """The outputs already there (one listing for ``s3://``; ``set()`` for a new local folder)."""
    if output.startswith("s3://"):
        bucket, key = split_s3(output)
        prefix = key if not key or key.endswith("/") else key + "/"
        return {f"s3://{bucket}/{k}" for k in list_keys(store, bucket, prefix) if k.endswith(OUT_SUFFIX)}
    found = set()
    for root, _, files in os.walk(output):
        found.update(os.path.join(root, f) for f in files if f.endswith(OUT_SUFFIX))
    return found


def run_transform(predictor: Predictor, input_path: str, output: str, *, batch_size: int = DEFAULT_BATCH_SIZE,
                  workers: int | None = None, on_result: Callable[[Prediction | None], None] | None = None,
                  store: ObjectStore | None = None, accept: str = JSON) -> TransformReport:
    """Transform every image under ``input_path`` into ``output``; ``on_result`` is called per image
    (None for one skipped). ``accept`` is ``application/json`` (SageMaker's batch default) or
    ``application/jsonlines`` (the body ends with a newline); S3 outputs get it as Content-Type."""
    if accept not in (JSON, JSONLINES):
        raise ValueError(f"accept must be {JSON} or {JSONLINES}, not {accept!r}")
    store = store or ObjectStore()
    local_output = None if is_uri(output) else local_path(output)
    done = existing_outputs(output if local_output is None else local_output, store)
    report = TransformReport()
    todo = _todo(iter_sources([input_path], exclude=local_output, store=store), output, done, report, on_result)
    for pred in iter_predictions(predictor, todo, batch_size=batch_size, workers=workers, store=store):
        if pred.error is not None:
            report.failed.append((pred.name, pred.error))
        else:
            body = transform_body(pred.probabilities) + (b"\n" if accept == JSONLINES else b"")
            _write(store, output_name(output, pred.name), body, accept)
            report.written += 1
        if on_result:
            on_result(pred)
    return report


def _todo(sources: Iterator[ImageSource], output: str, done: set[str], report: TransformReport,
          on_result) -> Iterator[ImageSource]:
    for source in sources:
        if output_name(output, source.name) in done:
            report.skipped += 1
            if on_result:
                on_result(None)
        else:
            yield source


def _write(store: ObjectStore, target: str, body: bytes, content_type: str) -> None:
    if not is_uri(target):
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    store.write(target, body, content_type)
