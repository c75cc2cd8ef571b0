"""Which records an epoch reads, in which order, split into batches and across parts.

With an index, every epoch is a true global permutation of all records, keyed by ``(seed, epoch)``
and the same in every process and on every machine. Sharding cuts that permutation into
``num_parts`` contiguous pieces whose sizes differ by at most one, so the parts together read every
record exactly once per epoch, and each part reads a different random subset every epoch (all parts
must use the same seed). A stream has no index: it is sharded by record number modulo
``num_parts`` and shuffled through a bounded buffer.
"""
from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple, TypeVar

import numpy as np

from ..errors import UsageError

from .rng import SampleRandom, mix_array, stream_key

T = TypeVar("T")
LAST_BATCH = ("keep", "discard", "pad")
_ORDER_TAG = 0x5EED0  # keeps the order stream apart from the per-sample augmentation streams


def validate_parts(num_parts: int, part_index: int) -> None:
    """Raise ``ValueError`` unless ``0 <= part_index < num_parts``."""
    if int(num_parts) < 1:
        raise UsageError(f"num_parts must be at least 1, got {num_parts}")
    if not 0 <= int(part_index) < int(num_parts):
        raise UsageError(f"part_index must be in [0, {num_parts}), got {part_index}")


def epoch_order(n: int, *, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """Positions ``0..n-1`` in this epoch's order: a seeded permutation, or file order."""
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    keys = mix_array(np.arange(n, dtype=np.uint64), stream_key(seed, epoch, _ORDER_TAG))
    return np.argsort(keys, kind="stable").astype(np.int64)


def part_bounds(n: int, num_parts: int, part_index: int) -> tuple[int, int]:
    """``[start, stop)`` of part ``part_index`` when ``n`` items are cut into near-equal pieces."""
    validate_parts(num_parts, part_index)
    return n * part_index // num_parts, n * (part_index + 1) // num_parts


def part_order(
    n: int, *, seed: int, epoch: int, shuffle: bool = True, num_parts: int = 1, part_index: int = 0
) -> np.ndarray:
    """The positions this part reads in ``epoch``, in order."""
    start, stop = part_bounds(n, num_parts, part_index)
    return epoch_order(n, seed=seed, epoch=epoch, shuffle=shuffle)[start:stop]


class BatchSpan(NamedTuple):
    """Items ``[start, stop)`` of an epoch's order, plus ``pad`` items wrapped from its start."""

    start: int
    stop: int
    pad: int = 0


def batch_spans(count: int, batch_size: int, last_batch: str = "keep") -> list[BatchSpan]:
    """Cut ``count`` items into batches; the last short one is kept, discarded, or padded with
    items from the start of the epoch (as MXNet's ``round_batch``)."""
    if last_batch not in LAST_BATCH:
        raise UsageError(f"last_batch must be one of {', '.join(LAST_BATCH)}, got {last_batch!r}")
    spans = [BatchSpan(s, min(s + batch_size, count)) for s in range(0, count, batch_size)]
    if spans and spans[-1].stop - spans[-1].start < batch_size:
        if last_batch == "discard":
            spans.pop()
        elif last_batch == "pad":
            last = spans[-1]
            spans[-1] = BatchSpan(last.start, last.stop, batch_size - (last.stop - last.start))
    return spans


def take(order: np.ndarray, span: BatchSpan) -> np.ndarray:
    """The positions of one batch (padding wraps around ``order``)."""
    items = order[span.start : span.stop]
    if span.pad:
        items = np.concatenate([items, np.resize(order, span.pad)])
    return items


def shard_stream(records: Iterable[T], num_parts: int = 1, part_index: int = 0) -> Iterator[tuple[int, T]]:
    """``(record_number, record)`` for the records of this part: number modulo ``num_parts``."""
    validate_parts(num_parts, part_index)
    for number, record in enumerate(records):
        if number % num_parts == part_index:
            yield number, record


def shuffle_buffer(items: Iterable[T], size: int, rng: SampleRandom | None) -> Iterator[T]:
    """Shuffle a stream through a buffer of ``size`` items (a local shuffle); ``rng=None`` or
    ``size <= 1`` passes items through in order."""
    if rng is None or size <= 1:
        yield from items
        return
    buffer: list[T] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        j = rng.randint(0, size - 1)
        buffer[j], item = item, buffer[j]
        yield item
    while buffer:
        j = rng.randint(0, len(buffer) - 1)
        buffer[j], buffer[-1] = buffer[-1], buffer[j]
        yield buffer.pop()


def batch_stream(items: Iterable[T], batch_size: int, last_batch: str = "keep") -> Iterator[tuple[list[T], int]]:
    """Group a stream into ``(items, pad)`` batches with the same last-batch rules as
    :func:`batch_spans`; padding repeats items from the start of the stream."""
    if last_batch not in LAST_BATCH:
        raise UsageError(f"last_batch must be one of {', '.join(LAST_BATCH)}, got {last_batch!r}")
    first: list[T] = []
    batch: list[T] = []
    for item in items:
        if len(first) < batch_size:
            first.append(item)
        batch.append(item)
        if len(batch) == batch_size:
            yield batch, 0
            batch = []
    if batch and last_batch == "keep":
        yield batch, 0
    elif batch and last_batch == "pad":
        pad = batch_size - len(batch)
        yield batch + [first[i % len(first)] for i in range(pad)], pad
