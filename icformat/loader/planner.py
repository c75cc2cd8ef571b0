"""Each epoch's batches as plans: which records, in which order, with what references.

Shared by the CPU loader (which ships plans to worker processes) and the GPU loader (which reads
the bytes itself), so both see the same records in the same order for the same seed.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np

from .pipeline import sample_random
from .sampler import batch_spans, batch_stream, part_bounds, part_order, shard_stream, shuffle_buffer, take, validate_parts
from .sources import StreamSource


class Planned(NamedTuple):
    """One batch: record keys (stream keys of the samples), source references, lst labels, pad."""

    keys: np.ndarray
    refs: Any
    labels: np.ndarray | None
    pad: int
    payloads: list | None = None  # stream records (bytes), in key order


class Planner:
    def __init__(
        self,
        source,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        num_parts: int = 1,
        part_index: int = 0,
        last_batch: str = "keep",
        shuffle_buffer: int = 1024,
    ):
        validate_parts(num_parts, part_index)
        batch_spans(0, 1, last_batch)  # validates last_batch
        self.source = source
        self.batch_size = int(batch_size)
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.num_parts, self.part_index, self.last_batch = int(num_parts), int(part_index), last_batch
        self.shuffle_buffer = int(shuffle_buffer)

    @property
    def is_stream(self) -> bool:
        return isinstance(self.source, StreamSource)

    @property
    def num_samples(self) -> int | None:
        """Records this part reads per epoch (before padding and skips); None for a stream."""
        if self.is_stream:
            return None
        start, stop = part_bounds(len(self.source), self.num_parts, self.part_index)
        return stop - start

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch for this part; None for a stream."""
        samples = self.num_samples
        return None if samples is None else len(batch_spans(samples, self.batch_size, self.last_batch))

    def __len__(self) -> int:
        batches = self.num_batches
        if batches is None:  # len() must be an int: a stream has none (num_batches says None)
            raise TypeError("a stream source has no length: num_batches and num_samples are None")
        return batches

    def plan(self, epoch: int) -> Iterable[Planned]:
        """The batches of ``epoch`` (a stream source reads its first record now)."""
        source = self.source
        if self.is_stream:
            return self._plan_stream(epoch, source.records(epoch))
        order = part_order(
            len(source), seed=self.seed, epoch=epoch, shuffle=self.shuffle,
            num_parts=self.num_parts, part_index=self.part_index,
        )
        spans = batch_spans(len(order), self.batch_size, self.last_batch)
        labels = getattr(source, "labels", None)
        return (
            Planned(keys, source.refs(keys), None if labels is None else labels[keys], span.pad)
            for span in spans
            for keys in (take(order, span),)
        )

    def _plan_stream(self, epoch: int, records: Iterator) -> Iterator[Planned]:
        mine = shard_stream(records, self.num_parts, self.part_index)
        rng = sample_random(self.seed, epoch, -1) if self.shuffle else None
        mixed = shuffle_buffer(mine, self.shuffle_buffer, rng)
        width = self.source.label_width or 1
        for batch, pad in batch_stream(mixed, self.batch_size, self.last_batch):
            keys = np.fromiter((number for number, _ in batch), dtype=np.int64, count=len(batch))
            if isinstance(batch[0][1], tuple):  # (image bytes, label) pairs
                labels = np.full((len(batch), width), np.nan, np.float32)
                for row, (_, (_, label)) in enumerate(batch):
                    values = np.asarray(label, np.float32).ravel()
                    if values.size == width:  # a wrong count stays NaN: the worker skips that record
                        labels[row] = values
                yield Planned(keys, None, labels, pad, [item[0] for _, item in batch])
            else:
                yield Planned(keys, None, None, pad, [record for _, record in batch])
