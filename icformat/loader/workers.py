"""Worker processes: each takes whole-batch tasks, decodes and augments every sample straight
into a shared-memory slot, and answers with a count and the records it had to skip.

A bad record never kills a worker: any exception while handling one sample is caught, described
(``path@offset: what went wrong``) and reported. A worker that dies anyway (killed, out of memory)
is noticed through its process sentinel and reported as a :class:`WorkerError` rather than left
as a hang. Workers exit when told to, when their pipe closes, or when the main process dies.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable, NamedTuple

import numpy as np

from ..errors import BadRecordError, IcformatError, UsageError, WorkerError, WorkerTimeout
from ..io import parallel
from . import shm
from .options import Preprocess
from .pipeline import SampleProcessor, StageClock, clock_now
from .sources import SourceSpec, image_and_labels, open_rec_file, read_file


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs, sent once at start."""

    spec: SourceSpec
    prep: Preprocess
    layout: shm.SlotLayout
    seed: int = 0
    backend: str = "auto"
    profile: bool = False  # time each stage (StageClock) and send the times with every result


class Task(NamedTuple):
    """One batch to fill: sample ``i`` has stream key ``keys[i]`` and source reference ``refs[i]``."""

    task_id: int
    epoch: int
    slot: int
    slot_name: str
    keys: np.ndarray
    refs: Any  # rec: (byte offset, read-ahead span) rows; lst: relative paths; stream: (start, length) in the input slab
    labels: np.ndarray | None = None  # .lst rows and (image, label) stream items
    input_name: str | None = None  # stream only
    start: int = 0  # where in the slot this chunk's first sample goes


class Result(NamedTuple):
    task_id: int
    count: int  # samples written, packed from the task's start position in the slot
    bad: list  # (item index in the task, message) for each record skipped
    error: str | None = None  # a failure of the task itself (a traceback), not of one record
    start: int = 0
    timing: dict | None = None  # with WorkerConfig.profile: StageClock.take() of the worker since its last result


class TaskRunner:
    """Runs tasks in whatever process holds it (a worker, or the main one with ``num_workers=0``)."""

    def __init__(self, config: WorkerConfig, resolve: Callable[[str], Any] = shm.attach, owns: bool = True):
        self.config = config
        self.clock = StageClock() if config.profile else None
        self.processor = SampleProcessor(config.prep, seed=config.seed, backend=config.backend, clock=self.clock)
        self._resolve = resolve
        self._owns = owns  # close attachments we made; never the main process's own segments
        self._slots: dict[int, tuple] = {}
        self._input: tuple | None = None
        self._rec = open_rec_file(config.spec) if config.spec.kind == "rec" else None

    def run(self, task: Task) -> Result:
        if self.clock is None:
            return self._run(task)
        seconds = self.clock.seconds
        start, sampled = clock_now(), seconds["decode"] + seconds["resample"] + seconds["convert"]
        result = self._run(task)
        spent = clock_now() - start
        seconds["handover"] += spent - (seconds["decode"] + seconds["resample"] + seconds["convert"] - sampled)
        return result._replace(timing=self.clock.take())

    def note_handover(self, seconds: float) -> None:
        """Add time spent outside :meth:`run` on a task (receiving it, sending its result)."""
        if self.clock is not None:
            self.clock.seconds["handover"] += seconds

    def _run(self, task: Task) -> Result:
        try:
            data, labels = self._slot_views(task.slot, task.slot_name)
            fetch = self._fetcher(task)
        except Exception:
            return Result(task.task_id, 0, [], traceback.format_exc(), task.start)
        width = self.config.layout.label_width
        write = self.processor.write
        count = task.start
        bad = []
        for i, key in enumerate(task.keys.tolist()):
            try:
                record = fetch(i)
                if task.labels is not None:  # .lst rows, (image, label) stream items
                    image, sample_labels = record, task.labels[i]
                    if np.isnan(sample_labels).any():
                        raise BadRecordError(f"label does not have {width} value(s)")
                else:
                    image, sample_labels = image_and_labels(record, width)
                write(image, task.epoch, key, data[count])
                labels[count] = sample_labels
                count += 1
            except Exception as exc:  # one bad record: report it, carry on
                bad.append((i, _describe(exc, self._where(task, i))))
        return Result(task.task_id, count - task.start, bad, None, task.start)

    def _fetcher(self, task: Task) -> Callable[[int], Any]:
        kind = self.config.spec.kind
        if kind == "rec":
            rec, refs = self._rec, task.refs.tolist()
            rec.prefetch(task.refs)
            return lambda i: rec.read_at(*refs[i])
        if kind == "lst":
            root, refs = self.config.spec.path, task.refs
            return lambda i: read_file(root, refs[i])
        view = self._input_view(task.input_name)
        spans = task.refs
        return lambda i: view[spans[i][0] : spans[i][0] + spans[i][1]]

    def _where(self, task: Task, i: int) -> str:
        spec = self.config.spec
        if spec.kind == "rec":
            return f"{spec.path}@{int(task.refs[i, 0])}"
        if spec.kind == "lst":
            return os.path.join(spec.path, task.refs[i])
        return f"<stream> record {int(task.keys[i])}"

    def _slot_views(self, slot: int, name: str):
        cached = self._slots.get(slot)
        if cached is not None and cached[0] == name:
            return cached[2]
        if cached is not None:
            self._drop(cached)
        segment = self._resolve(name)
        views = self.config.layout.views(segment)
        self._slots[slot] = (name, segment, views)
        return views

    def _input_view(self, name: str) -> memoryview:
        if self._input is not None and self._input[0] == name:
            return self._input[2]
        if self._input is not None:
            self._drop(self._input)
        segment = self._resolve(name)
        self._input = (name, segment, segment.buf)
        return segment.buf

    def _drop(self, entry: tuple) -> None:
        name, segment, views = entry
        del views, entry
        if self._owns:
            segment.close()

    def close(self) -> None:
        for entry in list(self._slots.values()):
            self._drop(entry)
        self._slots.clear()
        if self._input is not None:
            self._input = None
        if self._rec is not None:
            self._rec.close()
            self._rec = None


def _describe(exc: BaseException, where: str) -> str:
    text = str(exc)
    if isinstance(exc, IcformatError) and where in text:
        return text
    return f"{where}: {text or type(exc).__name__}"


def worker_main(conn, config: WorkerConfig) -> None:
    """Entry point of a worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    parent = mp.parent_process()
    watch = [conn] + ([parent.sentinel] if parent is not None else [])
    runner = None
    try:
        runner = TaskRunner(config)
        while True:
            ready = wait(watch)
            if conn not in ready:
                break  # the main process is gone
            received = clock_now()
            try:
                task = conn.recv()
            except (EOFError, OSError):
                break
            if task is None:
                break
            started = clock_now()
            result = runner.run(task)
            finished = clock_now()
            conn.send(result)
            runner.note_handover(started - received + clock_now() - finished)
    except (BrokenPipeError, EOFError):
        pass
    except BaseException:
        try:
            conn.send(Result(-1, 0, [], traceback.format_exc()))
        except Exception:
            pass
    finally:
        if runner is not None:
            runner.close()
        conn.close()


def default_start_method() -> str:
    """How loader workers start: :func:`icformat.io.parallel.start_method`, the one rule (``fork``
    while this process runs a single Python thread, else ``forkserver``, else ``spawn``)."""
    return parallel.start_method()


class StartMethodWarning(UserWarning):
    """The loader starts its workers with ``forkserver`` (or ``spawn``) because threads are running."""


_told: set = set()  # what this process was already told once


def check_can_start_workers(num_workers: int) -> None:
    """Refuse, in words, to start workers inside a daemonic process (a ``multiprocessing.Pool``
    worker), where ``multiprocessing`` would only fail an assertion."""
    if num_workers and mp.current_process().daemon:
        raise UsageError(
            f"ImageLoader(num_workers={num_workers}) cannot start worker processes inside a daemonic process "
            "(a multiprocessing.Pool worker): pass num_workers=0 there (decode in that process), or run the "
            "loader in a non-daemonic process (concurrent.futures.ProcessPoolExecutor, multiprocessing.Process)"
        )


def _say_start_method(chosen: str, requested: str | None) -> None:
    """Warn once per process when threads made the loader leave ``fork`` (slower start, no shared pages)."""
    if requested is not None or chosen == "fork" or "fork" not in mp.get_all_start_methods() or "start" in _told:
        return
    if not sys.platform.startswith("linux"):
        return
    _told.add("start")
    warnings.warn(
        f"icformat loader: this process runs {threading.active_count()} Python threads, so loader workers start "
        f"with {chosen!r} instead of 'fork' (forking beside threads can deadlock); pass start_method= to choose",
        StartMethodWarning, stacklevel=5,
    )


class WorkerPool:
    """``num_workers`` processes, each fed through its own pipe; tasks go to the least busy."""

    def __init__(self, config: WorkerConfig, num_workers: int, start_method: str | None = None):
        check_can_start_workers(num_workers)
        method = parallel.start_method(start_method)
        _say_start_method(method, start_method)
        ctx = mp.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload([__name__])
        self._conns = []
        self._procs = []
        self._load = [0] * num_workers
        self._owner: dict[int, int] = {}
        self.start_method = method
        try:
            for i in range(num_workers):
                parent_end, child_end = ctx.Pipe(duplex=True)
                proc = ctx.Process(target=worker_main, args=(child_end, config), name=f"icformat-loader-{i}", daemon=True)
                proc.start()
                child_end.close()
                self._conns.append(parent_end)
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def submit(self, task: Task) -> None:
        i = min(range(len(self._load)), key=self._load.__getitem__)
        try:
            self._conns[i].send(task)
        except (BrokenPipeError, OSError):
            raise self._death(i) from None
        self._load[i] += 1
        self._owner[task.task_id] = i

    def collect(self, timeout: float | None = None) -> list[Result]:
        """Results ready now (waiting up to ``timeout`` seconds for the first)."""
        sentinels = {p.sentinel: i for i, p in enumerate(self._procs)}
        ready = wait(self._conns + list(sentinels), timeout)
        results = []
        for obj in ready:
            if obj in sentinels:
                i = sentinels[obj]
                if self._conns[i].poll():
                    continue  # its last answer is still in the pipe: read it first
                raise self._death(i)
            i = self._conns.index(obj)
            try:
                result = obj.recv()
            except (EOFError, OSError):
                raise self._death(i) from None
            if result.task_id == -1:
                raise WorkerError(f"loader worker {i} failed:\n{result.error}")
            self._load[i] -= 1
            self._owner.pop(result.task_id, None)
            results.append(result)
        return results

    def next_results(self, timeout: float | None = None) -> list[Result]:
        """Wait for at least one result; ``WorkerTimeout`` when no worker answers (nor dies) within
        ``timeout`` seconds, so that a worker stuck on a record is reported instead of a hang."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            results = self.collect(left)
            if results:
                return results
            if deadline is not None and time.monotonic() >= deadline:
                raise WorkerTimeout(
                    f"no loader worker answered for {timeout:g} s (pids {', '.join(map(str, self.pids))}); one may be "
                    "stuck reading or decoding a record: find it with num_workers=0, or raise worker_timeout"
                )

    def _death(self, i: int) -> WorkerError:
        proc = self._procs[i]
        proc.join(timeout=1)
        code = proc.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        hint = "a decoder crash or running out of memory can cause this: try fewer workers or a smaller batch_size"
        if self.start_method != "fork" and code == 1:
            hint = (
                f"with start_method={self.start_method!r} a worker imports the main script again: guard the "
                "script's code with 'if __name__ == \"__main__\":' (see its error output above)"
            )
        return WorkerError(f"loader worker {i} (pid {proc.pid}) died ({how}); {hint}")

    def close(self, timeout: float = 5.0) -> None:
        """Stop every worker: ask, then terminate, then kill."""
        for conn in self._conns:
            try:
                conn.send(None)
            except Exception:
                pass
        for proc in self._procs:
            proc.join(timeout)
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(1)
            if proc.is_alive():
                proc.kill()
                proc.join(1)
        for conn in self._conns:
            conn.close()
        for proc in self._procs:
            try:
                proc.close()
            except ValueError:
                pass
        self._conns, self._procs, self._load = [], [], []


class InlinePool:
    """The same interface run in the calling process (``num_workers=0``): for debugging and tests."""

    start_method = None
    pids: list[int] = []

    def __init__(self, config: WorkerConfig, resolve: Callable[[str], Any]):
        self._runner = TaskRunner(config, resolve, owns=False)
        self._queue: list[Task] = []

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def collect(self, timeout: float | None = None) -> list[Result]:
        """Run the oldest task (the one the loader waits for) and return its result."""
        return [self._runner.run(self._queue.pop(0))] if self._queue else []

    def next_results(self, timeout: float | None = None) -> list[Result]:
        """The oldest task's result (run here and now; ``timeout`` does not apply in-process)."""
        return self.collect()

    def cancel(self) -> list[int]:
        """Drop the tasks not run yet; returns their ids."""
        dropped, self._queue = [t.task_id for t in self._queue], []
        return dropped

    def close(self) -> None:
        self._runner.close()
