"""Batched inference over many images: read and preprocess on a thread pool (decoding and resizing
release the GIL), run the network on whole batches, and yield one ``Prediction`` per image in input
order. An image that cannot be read or decoded yields a ``Prediction`` with its ``error``."""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..errors import ImageError
from ..io.objects import ObjectStore, describe_error
from ..io.parallel import map_ordered
from .model import Predictor
from .preprocess import preprocess
from .results import Prediction
from .sources import ImageSource

DEFAULT_BATCH_SIZE = 32


def _loader(read: Callable[[Any], bytes], image_shape: tuple[int, int, int]):
    def load(source) -> np.ndarray | str:
        try:
            return preprocess(read(source), image_shape)
        except ImageError as exc:
            return f"not a usable image: {exc}"
        except Exception as exc:  # a read failure of the transport (OSError, botocore's ClientError)
            if isinstance(exc, OSError) or getattr(exc, "response", None) is not None:
                return f"cannot read: {describe_error(exc)}"
            raise
    return load


def iter_predictions(predictor: Predictor, sources: Iterable[ImageSource], *, batch_size: int = DEFAULT_BATCH_SIZE,
                     workers: int | None = None, store: ObjectStore | None = None,
                     read: Callable[[Any], bytes] | None = None) -> Iterator[Prediction]:
    """One :class:`Prediction` per source, in order, computed ``batch_size`` images at a time.
    ``read(source)`` gives a source's bytes (default: ``store.read(source.uri)``), so that images
    already in hand (records of a ``.rec``) take the same path."""
    if read is None:
        store = store or ObjectStore()
        read = lambda source: store.read(source.uri)  # noqa: E731
    load = _loader(read, predictor.info.image_shape)
    threads = workers or max(2, os.cpu_count() or 1)
    pending: list[tuple[ImageSource, np.ndarray | str]] = []
    good = 0
    for source, loaded in map_ordered(load, sources, workers=threads, in_flight=max(threads * 4, batch_size * 2)):
        pending.append((source, loaded))
        good += not isinstance(loaded, str)
        if good >= batch_size:
            yield from _run(predictor, pending)
            pending, good = [], 0
    if pending:
        yield from _run(predictor, pending)


def _run(predictor: Predictor, pending: list[tuple[ImageSource, np.ndarray | str]]) -> Iterator[Prediction]:
    arrays = [loaded for _, loaded in pending if not isinstance(loaded, str)]
    probabilities = iter(predictor.predict(np.stack(arrays)) if arrays else ())
    for source, loaded in pending:
        if isinstance(loaded, str):
            yield Prediction(source.uri, source.name, error=loaded)
        else:
            yield Prediction(source.uri, source.name, probabilities=next(probabilities))
