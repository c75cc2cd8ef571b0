"""The one ordered parallel map of icformat (threads or processes) and the one start-method rule.

``map_ordered`` runs a function over items on a pool and yields the results in input order with a
bounded number of items in flight, so memory stays flat on any input size. Threads suit work that
waits (object reads) or releases the GIL (codecs); processes suit GIL-bound Python work.
"""
from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import select
import signal
import sys
import threading
from collections import deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

from ..errors import IcformatError, UsageError

T = TypeVar("T")
R = TypeVar("R")

KINDS = ("thread", "process", "serial")


_DIED = "a worker process ended unexpectedly (out of memory? killed?); nothing was written"


def start_method(preferred: str | None = None) -> str:
    """How to start worker processes: ``preferred`` when given; else ``fork`` on Linux while this
    process runs a single Python thread (fastest, and workers share the parent's memory);
    otherwise ``forkserver`` (safe beside threads), or ``spawn`` where that does not exist. Native
    threads of libraries (OpenBLAS, MXNet's engine) do not count: workers never use them."""
    methods = multiprocessing.get_all_start_methods()
    if preferred is not None:
        if preferred not in methods:
            raise UsageError(f"start method {preferred!r} is not available here; use one of: {', '.join(methods)}")
        return preferred
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


KEEP_FREED_BYTES = 64 << 20  # freed memory a worker process keeps for its next tasks
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_MMAP_THRESHOLD_MAX = 32 << 20  # the most glibc takes on 64-bit systems


def keep_freed_memory() -> bool:
    """Let this process keep the heap memory it frees (up to :data:`KEEP_FREED_BYTES`) for its next
    allocations. glibc's malloc otherwise hands a freed top of the heap back to the kernel and gives
    blocks over 128 KiB mappings of their own, so a worker that reads and frees megabytes a task
    takes page faults again on every task: in im2rec, 16 an image, about 80 us of CPU beside 1 ms of
    codec. For worker processes; True where the setting took (glibc), False elsewhere."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library to ask (Windows: TypeError), or not glibc's
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES)) and bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX))


def _init_worker(initializer: Callable | None, initargs: tuple) -> None:
    keep_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent stops workers with SIGTERM: just exit
    if initializer is not None:
        initializer(*initargs)


class Executor:
    """A thread or process pool with ``submit(fn, item) -> result getter``, ``close`` and ``abort``."""

    def __init__(self, kind: str, workers: int, *, initializer: Callable | None = None, initargs: tuple = (),
                 method: str | None = None, name: str = "icformat"):
        self.kind, self.size = kind, workers
        if kind == "process":
            self._pool: Any = _Processes(multiprocessing.get_context(start_method(method)), workers, initializer, initargs)
        elif kind == "thread":
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name, initializer=initializer, initargs=initargs)
        else:
            raise UsageError(f"unknown executor {kind!r}; use one of: {', '.join(KINDS)}")

    def submit(self, fn: Callable[[T], R], item: T) -> Callable[[], R]:
        if self.kind == "process":
            return self._pool.submit(fn, item)
        return self._pool.submit(fn, item).result

    def finish(self) -> None:
        """No more work will be submitted: worker processes exit as soon as they have done theirs
        (so that one done early is gone while the others finish)."""
        if self.kind == "process":
            self._pool.finish()

    def close(self) -> None:
        """Wait for the work in flight, then stop the workers."""
        if self.kind == "process":
            self._pool.close()
        else:
            self._pool.shutdown(wait=True)

    def abort(self) -> None:
        """Stop now: processes are terminated, queued thread work is cancelled."""
        if self.kind == "process":
            self._pool.abort()
        else:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _serve(conn, initializer: Callable | None, initargs: tuple) -> None:
    """A worker process: run each ``(task id, fn, item)`` the parent sends, send back ``(task id,
    True, result)`` or ``(task id, False, exception)``; stop at ``None`` or when the parent is gone."""
    _init_worker(initializer, initargs)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_id, fn, item = task
        try:
            answer = (task_id, True, fn(item))
        except BaseException as exc:  # the parent raises it at the item's turn
            answer = (task_id, False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # a result or exception that cannot be pickled
            conn.send((task_id, False, RuntimeError(f"{type(answer[2]).__name__} from a worker could not be sent back: {exc}")))


class _Processes:
    """Worker processes, each with its own pipe, and no helper thread in the parent (a
    ``multiprocessing.Pool`` keeps three, whose wake-ups cost the parent about as much CPU as
    writing what the workers made). The parent hands each task to the worker with the fewest
    waiting (at most ``depth``), and reads results only while it waits for one."""

    def __init__(self, context, workers: int, initializer: Callable | None, initargs: tuple, depth: int = 2):
        self.depth = depth
        self.conns: list = []
        self.procs: list = []
        self.waiting: list[int] = []  # tasks sent to each worker and not answered yet
        self.queued: deque = deque()  # (task id, fn, item) not sent yet
        self.done: dict[int, tuple[bool, Any]] = {}
        self.next_id = 0
        self.finishing = False  # no more tasks will come: stop each worker once it has them all
        self.stopped: set[int] = set()  # workers sent the stop (None)
        try:
            for _ in range(workers):
                parent_end, child_end = context.Pipe()
                proc = context.Process(target=_serve, args=(child_end, initializer, initargs), daemon=True)
                proc.start()
                child_end.close()
                self.conns.append(parent_end)
                self.procs.append(proc)
                self.waiting.append(0)
        except BaseException:
            self.abort()
            raise

    def submit(self, fn: Callable, item: Any) -> Callable[[], Any]:
        task_id = self.next_id
        self.next_id += 1
        self.queued.append((task_id, fn, item))
        self._dispatch()
        return lambda: self._result(task_id)

    def _dispatch(self) -> None:
        while self.queued:
            worker = min(range(len(self.conns)), key=self.waiting.__getitem__)
            if self.waiting[worker] >= self.depth:
                return
            try:
                self.conns[worker].send(self.queued.popleft())
            except OSError:  # its process died (a broken pipe): the same error as a lost answer
                raise IcformatError(_DIED) from None
            self.waiting[worker] += 1
        if self.finishing:
            self._stop_workers()

    def finish(self) -> None:
        self.finishing = True
        self._dispatch()

    def _stop_workers(self) -> None:
        """Send each worker the stop after its last task (it exits once it has answered them)."""
        for worker, conn in enumerate(self.conns):
            if worker not in self.stopped:
                self.stopped.add(worker)
                try:
                    conn.send(None)
                except OSError:
                    pass

    def _result(self, task_id: int) -> Any:
        while task_id not in self.done:
            busy = [conn for conn, count in zip(self.conns, self.waiting) if count]
            if not busy:
                raise UsageError(f"task {task_id} was never submitted or its result was already taken")
            for conn in _readable(busy):
                try:
                    answered, ok, value = conn.recv()
                except (EOFError, OSError):
                    raise IcformatError(_DIED) from None
                self.done[answered] = (ok, value)
                self.waiting[self.conns.index(conn)] -= 1
            self._dispatch()
        ok, value = self.done.pop(task_id)
        if not ok:
            raise value
        return value

    def close(self) -> None:
        self._stop_workers()
        for proc in self.procs:
            proc.join()
        self._release()

    def abort(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.join()
        self._release()

    def _release(self) -> None:
        for conn in self.conns:
            try:
                conn.close()
            except OSError:  # closed already by its own finalizer (a pool left to the garbage collector)
                pass
        self.conns, self.procs = [], []


def _readable(conns: list) -> list:
    """The connections among ``conns`` with something to read (or closed at the other end): one
    ``poll`` (``multiprocessing.connection.wait`` does the same through a selector it builds each
    time, several times the CPU); retried when a signal interrupts it, as Python retries system calls."""
    if len(conns) == 1:
        return conns  # nothing else to wait for: its recv waits
    poller = select.poll()
    for conn in conns:
        poller.register(conn.fileno(), select.POLLIN)
    ready = {fd for fd, _ in poller.poll()}
    return [conn for conn in conns if conn.fileno() in ready]


def map_ordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 1,
    kind: str = "thread",
    in_flight: int | None = None,
    initializer: Callable | None = None,
    initargs: tuple = (),
    method: str | None = None,
) -> Iterator[tuple[T, R]]:
    """Yield ``(item, fn(item))`` in input order, running ``fn`` on ``workers`` threads or processes
    (``kind``) with at most ``in_flight`` items (default ``4 x workers``) started ahead of the consumer.

    An exception from ``fn`` is raised when its item's turn comes, and the work still queued is
    dropped. With one worker, or ``kind="serial"``, ``fn`` runs inline (``initializer`` first). For
    processes ``fn`` must be picklable (a module-level function) and ``method`` overrides
    :func:`start_method`.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown executor {kind!r}; use one of: {', '.join(KINDS)}")
    if workers <= 1 or kind == "serial":
        if initializer is not None:
            initializer(*initargs)
        for item in items:
            yield item, fn(item)
        return
    yield from _pooled(fn, iter(items), Executor(kind, workers, initializer=initializer, initargs=initargs, method=method),
                       in_flight or workers * 4)


def _pooled(fn: Callable, items: Iterator, pool: Executor, limit: int) -> Iterator[tuple[Any, Any]]:
    pending: deque = deque()
    try:
        for item in itertools.islice(items, limit):
            pending.append((item, pool.submit(fn, item)))
        exhausted = len(pending) < limit
        if exhausted:
            pool.finish()
        while pending:
            item, result = pending.popleft()
            value = result()
            if not exhausted:
                for nxt in itertools.islice(items, 1):
                    pending.append((nxt, pool.submit(fn, nxt)))
                    break
                else:  # the last item is handed out: the workers may stop once done
                    exhausted = True
                    pool.finish()
            yield item, value
    except BaseException:
        pool.abort()
        raise
    pool.close()


DEFAULT_FETCHES = 16  # threads for remote reads: they wait on the network, not on the cores


def choose_workers(workers: int | None, first_ref: str | None) -> int:
    """``workers`` when given; otherwise threads pay off only for remote objects: 16 for URIs
    (``s3://``...), 1 for local files (page-cache reads are faster inline than through a pool)."""
    from .paths import is_uri

    if workers is not None:
        return max(1, int(workers))
    return DEFAULT_FETCHES if first_ref is not None and is_uri(first_ref) else 1


def peek(items: Iterable[T]) -> tuple[T | None, Iterator[T]]:
    """The first item (None when empty) and an iterator over all of them."""
    iterator = iter(items)
    for first in iterator:
        return first, itertools.chain([first], iterator)
    return None, iter(())
