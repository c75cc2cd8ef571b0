"""Pipe-mode FIFOs: ``<dir>/<channel>_<epoch>``, one per epoch, as SageMaker lays them out.

SageMaker creates ``/opt/ml/input/data/train_0``, streams the channel into it, then ``train_1`` for
the next epoch, and so on; a reader reads ``train_0`` to its end (or closes it early), then opens
``train_1``, retrying while it does not exist yet. :func:`serve_channel` plays SageMaker's side.
"""
from __future__ import annotations

import errno
import os
import select
import stat
import time
from dataclasses import dataclass
from typing import BinaryIO, Callable, Sequence

from ..io.paths import PathLike, is_uri, local_path
from ..errors import IcformatError, InputNotFound, ManifestError, RecordIOError
from ..manifest.validator import EMPTY_MANIFEST
from .wrap import StreamStats, write_pipe_stream

PIPE_BYTES = 1 << 20  # asked of the kernel for each FIFO; Linux's default is 64 KiB
WRITE_BUFFER = 1 << 20
_FIRST_PAUSE, _MAX_PAUSE = 0.005, 0.25


def fifo_path(directory: PathLike, channel: str, epoch: int) -> str:
    """``<directory>/<channel>_<epoch>``, the name SageMaker gives a channel's FIFO for an epoch."""
    return os.path.join(os.fspath(directory), f"{channel}_{epoch}")


def make_fifo(path: str) -> None:
    """Create the FIFO ``path`` (an existing FIFO is reused; any other file is an error)."""
    try:
        os.mkfifo(path, 0o644)
    except FileExistsError:
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise IcformatError(f"{path}: exists and is not a FIFO; remove it or serve into another folder") from None


def _pauses(timeout: float | None):
    """Sleep lengths that grow from 5 ms to 250 ms, until ``timeout`` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = _FIRST_PAUSE
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        yield pause if left is None else min(pause, left)
        pause = min(pause * 2, _MAX_PAUSE)


def _enlarge(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError, ImportError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default size works too


def open_fifo_for_reading(path: str, timeout: float | None) -> BinaryIO:
    """Open a channel FIFO (or a plain file) for reading, as SageMaker's readers do.

    Waits for ``path`` to appear, then for a writer to connect (a first read on a FIFO without a
    writer would look like an empty epoch), up to ``timeout`` seconds in all (None: forever).
    Returns an unbuffered binary file (named ``path``) in blocking mode.
    """
    start = time.monotonic()
    pauses = _pauses(timeout)
    while not os.path.exists(path):
        pause = next(pauses, None)
        if pause is None:
            raise IcformatError(
                f"{path}: no pipe-mode FIFO appeared within {timeout:g} s; is 'icformat pipe serve' "
                "(or SageMaker) feeding this channel and epoch?"
            )
        time.sleep(pause)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
            _wait_for_writer(fd, path, left, timeout)
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    f.name = path
    return f


def _wait_for_writer(fd: int, path: str, left: float | None, timeout: float | None) -> None:
    """Block until the FIFO has data or its writer has come and gone (an empty epoch)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    if not poller.poll(None if left is None else int(left * 1000) + 1):
        raise IcformatError(f"{path}: no writer opened the FIFO within {timeout:g} s; is the stream being served?")


def open_fifo_for_writing(path: str, timeout: float | None) -> BinaryIO:
    """Open a FIFO for writing once a reader has opened it (up to ``timeout`` seconds; None: forever)."""
    if timeout is None:
        fd = os.open(path, os.O_WRONLY)
    else:
        fd = _open_when_read(path, timeout)
    try:
        os.set_blocking(fd, True)
        _enlarge(fd)
        f = os.fdopen(fd, "wb", buffering=WRITE_BUFFER)
    except BaseException:
        os.close(fd)
        raise
    return f


def _open_when_read(path: str, timeout: float) -> int:
    pauses = _pauses(timeout)
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        pause = next(pauses, None)
        if pause is None:
            raise IcformatError(f"{path}: no reader opened the FIFO within {timeout:g} s")
        time.sleep(pause)


@dataclass
class EpochReport:
    """One served epoch: its FIFO, what was written, and whether the reader read it all."""

    epoch: int
    path: str
    stats: StreamStats
    complete: bool


def serve_epoch(path: str, sources: Sequence, attribute_names, *, timeout: float | None, workers: int | None) -> tuple[StreamStats, bool]:
    """Create ``path``, wait for its reader, stream ``sources`` into it and close it.
    A reader that closes early ends the epoch (``complete`` is then False)."""
    make_fifo(path)
    out = open_fifo_for_writing(path, timeout)
    stats = StreamStats()
    complete = True
    try:
        stats = write_pipe_stream(out, sources, attribute_names, workers=workers)
    except BrokenPipeError:
        complete = False
    finally:
        try:
            out.close()
        except BrokenPipeError:
            complete = False
    return stats, complete


def serve_channel(
    directory: PathLike,
    channel: str,
    sources: Sequence[PathLike],
    *,
    epochs: int = 1,
    attribute_names=None,
    first_epoch: int = 0,
    timeout: float | None = None,
    workers: int | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> list[EpochReport]:
    """Serve ``sources`` as SageMaker's pipe-mode channel ``channel`` for ``epochs`` epochs.

    Epoch ``e`` goes into the FIFO ``<directory>/<channel>_<e>``, created when the previous epoch is
    done; each waits for its reader (``timeout`` seconds at most; None: forever). Sources are
    augmented manifests when ``attribute_names`` is given, else ``.rec`` files (see
    :func:`~icformat.pipe.write_pipe_stream`; a folder or prefix of ``.rec`` shards is its shards, in
    order). FIFOs are left in place, as SageMaker leaves them.
    """
    if epochs < 1:
        raise IcformatError(f"epochs must be at least 1, got {epochs}")
    if not sources:
        raise IcformatError("nothing to serve: give at least one source (.rec file or manifest)")
    if attribute_names is None:  # folders and prefixes of shards: listed once, missing ones refused now
        from .wrap import rec_sources

        sources = [shard for src in sources for shard in rec_sources(src)]
    for src in sources:  # before any FIFO exists: a reader must not wait for a server that cannot start
        if not is_uri(src) and not os.path.isfile(local_path(src)):
            raise InputNotFound(f"{src}: no such file; give .rec files or manifests", os.fspath(src))
        if not is_uri(src) and os.path.getsize(local_path(src)) == 0:
            if attribute_names is None:
                raise RecordIOError("empty file: no records (SageMaker fails with 'Empty .rec file')", os.fspath(src), 0)
            raise ManifestError(EMPTY_MANIFEST, os.fspath(src))
    os.makedirs(os.fspath(directory), exist_ok=True)
    reports = []
    for epoch in range(first_epoch, first_epoch + epochs):
        path = fifo_path(directory, channel, epoch)
        stats, complete = serve_epoch(path, sources, attribute_names, timeout=timeout, workers=workers)
        report = EpochReport(epoch, path, stats, complete)
        reports.append(report)
        if on_epoch is not None:
            on_epoch(report)
    return reports
