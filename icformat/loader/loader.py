"""``ImageLoader``: batches of decoded, augmented images from a ``.rec``, a ``.lst`` or a stream.

The main process only plans: it picks each batch's records (global shuffle, sharding), sends
the worker a few integers, waits for the batch it needs next and hands out NumPy views of the
shared-memory slot the worker filled. Decoding, augmentation and the conversion to the output
type all happen in the workers, several batches ahead.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import weakref
from collections import deque
from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import BadRecordError, UsageError
from . import shm
from .base import LoaderBase
from .batch import Batch
from .options import Augmentation
from .pipeline import StageClock
from .planner import Planned
from .resample import resolve_backend
from .sources import StreamSource
from .workers import InlinePool, Task, WorkerConfig, WorkerPool, check_can_start_workers
from ..errors import WorkerError

_HELD = 2  # batches the caller may be holding: the current one and the one before
_MIN_CHUNK = 4  # samples per task at least: smaller tasks cost more in messages than they gain


class _Resources:
    """The processes and shared memory of one loader (kept apart so a finalizer can close them)."""

    def __init__(self):
        self.pool = None
        self.ring: shm.SlotRing | None = None
        self.input: shm.InputRing | None = None

    def lookup(self, name: str):
        """A segment of ours by name (for the in-process runner)."""
        try:
            return self.ring.lookup(name)
        except KeyError:
            return self.input.lookup(name)

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()
        for name in ("ring", "input"):
            ring = getattr(self, name)
            setattr(self, name, None)
            if ring is not None:
                ring.close()


def _default_workers() -> int:
    """One process per available core; none inside a daemonic process (a Pool worker has no children)."""
    if mp.current_process().daemon:
        return 0
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ImageLoader(LoaderBase):
    """Iterate to get one epoch of :class:`~icformat.loader.batch.Batch` ``(data, label)``
    tuples; iterate again for the next epoch. Close it (or leave its ``with`` block) to stop
    the workers.

    ``source``: a ``.rec`` path (its ``.idx`` beside it or ``idx=``; without one the file is
    scanned once), a ``.lst`` path (images under ``root``, default the ``.lst``'s folder), a
    FIFO, an iterable of records (``IRHeader`` + image bytes, e.g. a pipe-mode reader) or a
    callable ``f(epoch)`` returning one.

    ``data_shape``: ``(c, h, w)`` or ``"3,224,224"``; ``resize``: shorter side in pixels before
    cropping; ``augmentation_type``: SageMaker's ``crop``, ``crop_color``,
    ``crop_color_transform`` (or an :class:`Augmentation`); None means a centre crop.

    ``dtype``: ``float32`` (raw 0-255 values unless ``mean``/``std`` are given, as SageMaker's
    network normalises in its graph) or ``uint8``. Labels are float32, shape ``(n,)``, or
    ``(n, num_labels)`` for multi-label records.

    ``shuffle`` with ``seed``: a new global permutation every epoch, reproducible; streams are
    shuffled through a ``shuffle_buffer`` of records. ``num_parts``/``part_index``: this
    machine's share; all parts together read each record exactly once per epoch (give every part
    the same seed). ``last_batch``: ``keep`` a short last batch, ``discard`` it, or ``pad`` it
    from the start of the epoch (``batch.pad`` says how many).

    Bad records are skipped with a :class:`BadRecordWarning` and counted in ``stats``, so a batch
    can be shorter than ``batch_size``; ``strict=True`` raises :class:`BadRecordError` instead.

    Returned arrays are views of shared memory, never overwritten while referenced (see
    :mod:`icformat.loader.shm`). ``num_workers=None`` uses one process per available core (none
    inside a daemonic process such as a ``multiprocessing.Pool`` worker, where more are refused);
    ``0`` runs everything in the calling process. Each batch is split into one task per worker
    (at least 4 samples each), so all workers fill the same batch; ``prefetch`` batches are
    filled ahead. Shared memory: ``(prefetch + 2) x batch`` bytes. ``start_method``: see
    :func:`~icformat.loader.workers.default_start_method`. A worker that neither answers nor dies
    for ``worker_timeout`` seconds raises :class:`~icformat.errors.WorkerTimeout` (None: wait forever).

    ``profile=True`` makes every worker time its stages (decode, resample, convert, hand-over) in
    CPU seconds; :attr:`stage_times` adds them up. Off by default (it costs about 1 us per sample).
    """

    def __init__(
        self,
        source: Any,
        batch_size: int,
        data_shape,
        resize: int | None = None,
        augmentation_type: str | Augmentation | None = None,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int | None = None,
        dtype: str = "float32",
        num_parts: int = 1,
        part_index: int = 0,
        last_batch: str = "keep",
        *,
        root=None,
        idx=None,
        label_width: int | None = None,
        mean=None,
        std=None,
        strict: bool = False,
        shuffle_buffer: int = 1024,
        prefetch: int = 2,
        apply_exif: bool = True,
        backend: str = "auto",
        start_method: str | None = None,
        epoch: int = 0,
        max_warnings: int = 10,
        worker_timeout: float | None = 600.0,
        profile: bool = False,
    ):
        options = dict(locals())  # the arguments, for the parts every loader shares
        del options["self"]
        if num_workers is None:
            num_workers = _default_workers()
        check_can_start_workers(int(num_workers))
        if int(num_workers) < 0 or int(prefetch) < 1:
            raise UsageError("num_workers must be >= 0 and prefetch >= 1")
        self.backend = resolve_backend(backend)
        self.num_workers, self.prefetch, self.start_method = int(num_workers), int(prefetch), start_method
        if worker_timeout is not None and not float(worker_timeout) > 0:
            raise UsageError(f"worker_timeout must be a positive number of seconds or None, got {worker_timeout}")
        self.worker_timeout = None if worker_timeout is None else float(worker_timeout)
        self._configure(options)
        self._res = _Resources()
        self._finalizer = weakref.finalize(self, self._res.close)
        self._task_ids = itertools.count()
        self._free: list[int] = []
        self._task_slot: dict[int, int] = {}  # task id -> slot, for every task not yet answered
        self._slot_tasks: dict[int, int] = {}  # slot -> tasks not yet answered
        self._waiting: dict[int, _InFlight] = {}  # task id -> its batch, for this epoch's tasks
        self._pending: deque[_InFlight] = deque()  # this epoch's batches in flight, in order
        self._orphans: set[int] = set()  # slots of abandoned batches still being written
        self._held: deque[int] = deque()
        self._chunk = self.batch_size
        self._token: object | None = None
        self.profile = bool(profile)
        self._stage_totals: dict = {}

    @property
    def stage_times(self) -> dict | None:
        """With ``profile=True``: ``{"images": n, "decode": s, "resample": s, "convert": s,
        "handover": s}``, CPU seconds summed over all workers since the loader started (or since
        :meth:`reset_stage_times`); None without ``profile``."""
        if not self.profile:
            return None
        from .pipeline import STAGES

        return {"images": 0, **dict.fromkeys(STAGES, 0.0), **self._stage_totals}

    def reset_stage_times(self) -> None:
        """Start :attr:`stage_times` again from zero (tasks still in flight count towards the new totals)."""
        self._stage_totals = {}

    @property
    def worker_pids(self) -> list[int]:
        return list(self._res.pool.pids) if self._res.pool is not None else []

    # ---- life cycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop every worker and free the shared memory (arrays still referenced stay valid)."""
        self._token = None
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __iter__(self) -> Iterator[Batch]:
        if self.closed:
            raise UsageError("the loader is closed")
        epoch = self._next_epoch()
        plan = self._plan(epoch)  # for a stream this reads the first record (label width)
        self._start()
        token = self._token = object()
        return self._iterate(epoch, plan, token)

    def _start(self) -> None:
        res = self._res
        if res.ring is not None:
            return
        layout = shm.SlotLayout(self.batch_size, self.prep.data_shape, self.prep.dtype, self.source.label_width or 1)
        count = self.prefetch + _HELD
        res.ring = shm.SlotRing(count, layout)
        if isinstance(self.source, StreamSource):
            res.input = shm.InputRing(count, 1 << 20)
        config = WorkerConfig(self.source.spec, self.prep, layout, self.seed, self.backend, self.profile)
        if self.num_workers:
            res.pool = WorkerPool(config, self.num_workers, self.start_method)
        else:
            res.pool = InlinePool(config, res.lookup)
        self._free = list(range(count))
        self._chunk = max(_MIN_CHUNK, -(-self.batch_size // max(1, self.num_workers)))

    def _plan(self, epoch: int) -> Iterable[Planned]:
        return self.planner.plan(epoch)

    def _dispatch(self, epoch: int, planned: Planned) -> None:
        """Fill a free slot with ``planned``: one task per chunk, so that every worker helps."""
        slot = self._free.pop()
        name = self._res.ring.name(slot)
        refs, input_name = planned.refs, None
        if planned.payloads is not None:
            input_name, refs = self._res.input.fill(slot, planned.payloads)
        batch = _InFlight(slot, planned.keys, planned.pad)
        for start in range(0, len(planned.keys), self._chunk):
            stop = start + self._chunk
            labels = None if planned.labels is None else planned.labels[start:stop]
            task = Task(
                next(self._task_ids), epoch, slot, name, planned.keys[start:stop], refs[start:stop], labels,
                input_name, start,
            )
            batch.chunks.append(task.task_id)
            self._task_slot[task.task_id] = slot
            self._waiting[task.task_id] = batch
            self._res.pool.submit(task)
        self._slot_tasks[slot] = len(batch.chunks)
        self._pending.append(batch)

    # ---- the epoch -----------------------------------------------------------------------

    def _iterate(self, epoch: int, plan: Iterable[Planned], token: object) -> Iterator[Batch]:
        self._abandon()
        plan = iter(plan)
        exhausted = False
        number = 0
        self._skips.start_epoch()
        try:
            while True:
                if self._token is not token:
                    raise RuntimeError("this epoch's iterator was superseded by a newer one (or the loader closed)")
                while not exhausted and self._free:
                    planned = next(plan, None)
                    if planned is None:
                        exhausted = True
                        break
                    self._dispatch(epoch, planned)
                if not self._pending:
                    if exhausted:
                        break
                    self._collect()  # every slot is busy with an abandoned epoch's batches
                    continue
                head = self._pending[0]
                while not head.done:
                    self._collect()
                self._pending.popleft()
                batch = self._deliver(head, epoch, number)
                if batch is None:
                    continue
                number += 1
                yield batch
            self._epoch_done(epoch)
        finally:
            if self._token is token:
                self._token = None
                self._abandon()

    def _abandon(self) -> None:
        """Forget the batches of an epoch left unfinished. A slot is free again once no worker
        writes into it any more; tasks an in-process pool has not started are dropped."""
        cancel = getattr(self._res.pool, "cancel", None)
        for task_id in cancel() if cancel is not None else ():
            self._slot_tasks[self._task_slot.pop(task_id)] -= 1
        while self._pending:
            slot = self._pending.popleft().slot
            if self._slot_tasks.get(slot, 0) == 0:
                self._free.append(slot)
            else:
                self._orphans.add(slot)
        self._waiting.clear()

    def _collect(self) -> None:
        """Wait for task results; file them with their batch, or free an abandoned batch's slot."""
        if not self._task_slot:
            raise RuntimeError("icformat loader: waiting for a batch while none is in flight (a bug)")
        for result in self._res.pool.next_results(self.worker_timeout):
            if result.timing:
                StageClock.add(self._stage_totals, result.timing)
            slot = self._task_slot.pop(result.task_id)
            self._slot_tasks[slot] -= 1
            batch = self._waiting.pop(result.task_id, None)
            if batch is not None:
                batch.results.append(result)
            elif slot in self._orphans and self._slot_tasks[slot] == 0:
                self._orphans.discard(slot)
                self._free.append(slot)

    def _deliver(self, batch: "_InFlight", epoch: int, number: int) -> Batch | None:
        results = sorted(batch.results, key=lambda r: r.start)
        keys, pad, slot = batch.keys, batch.pad, batch.slot
        for result in results:
            if result.error:
                self._free.append(slot)
                raise WorkerError(f"loader worker failed on a batch:\n{result.error}")
        bad = sorted(result.start + i for result in results for i, _ in result.bad)
        for result in results:
            for _, message in result.bad:
                try:
                    self._bad_record(message)
                except BadRecordError:
                    self._free.append(slot)
                    raise
        count = sum(result.count for result in results)
        if bad:
            self._compact(slot, results)
            pad -= sum(1 for i in bad if i >= len(keys) - pad)
            keys = np.delete(keys, bad)
        if count == 0:
            self._free.append(slot)
            return None
        data, labels = self._res.ring.arrays(slot, count)
        self._hold(slot)
        self._delivered(count)
        label = labels.reshape(count) if labels.shape[1] == 1 else labels
        return Batch(data, label, pad=max(pad, 0), epoch=epoch, index=number, keys=keys)

    def _compact(self, slot: int, results: list) -> None:
        """Close the gaps skipped records left after each chunk (rare: bad records only)."""
        segment = self._res.ring.segments[slot]
        data, labels = self._res.ring.layout.views(segment)
        to = 0
        for result in results:
            for i in range(result.count):
                if to != result.start + i:
                    data[to] = data[result.start + i]
                    labels[to] = labels[result.start + i]
                to += 1
        del data, labels

    def _hold(self, slot: int) -> None:
        held = self._held
        held.append(slot)
        while len(held) > _HELD:
            old = held.popleft()
            self._res.ring.reclaim(old)
            self._free.append(old)
        self.stats.retired_slots = self._res.ring.retired


class _InFlight:
    """A batch being filled: its slot, records, and the results of its chunk tasks so far."""

    __slots__ = ("slot", "keys", "pad", "chunks", "results")

    def __init__(self, slot: int, keys: np.ndarray, pad: int):
        self.slot, self.keys, self.pad = slot, keys, pad
        self.chunks: list[int] = []
        self.results: list = []

    @property
    def done(self) -> bool:
        return len(self.results) == len(self.chunks)
