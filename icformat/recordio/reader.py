"""Streaming RecordIO reader: constant memory, from a path, an ``s3://`` URI, a FIFO or a file object."""
from __future__ import annotations

import itertools
import mmap
import os
from typing import BinaryIO, Iterable, Iterator

from .. import streams
from ..io.streams import remote_errors
from .scan import scan_fast, scan_sequential, scan_uniform

CHUNK_BYTES = 8 << 20
_SMALL_RECORD_BYTES = 4096  # below this average size the vectorised parser pays off
_PROBE_RECORDS = 64


def parse_window(
    view: memoryview, pos: int, end: int, base: int, *, final: bool, path: str | None, copy_source=None
) -> tuple[list[int], list, int, bool]:
    """Parse every whole record in ``view[pos:end]`` (all of it, or fail, when ``final``).

    Returns ``(offsets, payloads, next_pos, lazy)``. Runs of small records go through the
    vectorised parser and, when ``copy_source`` (a callable giving ``(source, shift)``) is given,
    come out as ``bytes`` sliced from that source. Large records come out as views and ``lazy`` is
    True: the caller copies each one as it is consumed, so only one copy is in flight at a time.
    """
    offsets, payloads, pos = scan_sequential(view, pos, end, base, final=final, path=path, max_records=_PROBE_RECORDS)
    if not payloads or offsets[-1] - offsets[0] >= _SMALL_RECORD_BYTES * len(payloads) or pos >= end:
        if payloads and pos < end:
            more_offsets, more, pos = scan_sequential(view, pos, end, base, final=final, path=path)
            offsets += more_offsets
            payloads += more
        return offsets, payloads, pos, copy_source is not None
    source, shift = copy_source() if copy_source is not None else (None, 0)
    if source is not None:
        payloads = [p if isinstance(p, bytes) else bytes(p) for p in payloads]
    while True:
        if source is not None:
            got_offsets, got, pos = scan_uniform(view, pos, end, base)
            offsets += got_offsets
            payloads += got
        got_offsets, got, pos = scan_fast(view, pos, end, base, source=source, shift=shift)
        offsets += got_offsets
        payloads += got
        got_offsets, got, pos = scan_sequential(
            view, pos, end, base, final=final, path=path, max_records=1, source=source, shift=shift
        )
        if not got:
            return offsets, payloads, pos, False
        offsets += got_offsets
        payloads += got


class RecordReader:
    """Iterate over the payloads of a ``.rec`` file (multi-part records rejoined, magic re-inserted).

    ``src`` is a local path (read through ``mmap``), an ``s3://`` or other URI (smart_open), a FIFO,
    or a binary file object. Memory stays bounded by the largest record whatever the file size.
    Iterating yields ``bytes``; :meth:`iter_views` yields zero-copy ``memoryview`` objects instead,
    valid only until the next record is requested. :meth:`iter_with_offsets` yields
    ``(offset, payload)`` pairs, offset being the byte position of the record's first header.
    Bad framing raises :class:`~icformat.errors.RecordIOError` naming the byte offset.
    """

    def __init__(self, src: streams.PathLike | BinaryIO, *, chunk_bytes: int = CHUNK_BYTES):
        self.src = src
        name = getattr(src, "name", None) if hasattr(src, "read") else os.fspath(src)
        self.path = name if isinstance(name, str) else None
        self.chunk_bytes = max(int(chunk_bytes), 64)
        self._file = None
        self._mmap = None

    def __enter__(self) -> "RecordReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (a file object passed in by the caller is left open)."""
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:  # a caller still holds a view: garbage collection closes it later
                pass
            self._mmap = None
        if self._file is not None and self._file is not self.src:
            self._file.close()
        self._file = None

    def __iter__(self) -> Iterator[bytes]:
        # chain keeps the per-record step in C: a window's records are handed out as a batch
        return itertools.chain.from_iterable(self._windows(copy=True, with_offsets=False))

    def iter_views(self) -> Iterator[memoryview | bytes]:
        """Yield records without copying; each is valid only until the next one is requested."""
        return itertools.chain.from_iterable(self._windows(copy=False, with_offsets=False))

    def iter_with_offsets(self, copy: bool = True) -> Iterator[tuple[int, bytes | memoryview]]:
        """Yield ``(offset, payload)`` pairs."""
        return itertools.chain.from_iterable(self._windows(copy=copy, with_offsets=True))

    def _windows(self, copy: bool, with_offsets: bool) -> Iterator[Iterable]:
        """One iterable of records per parsed window."""
        self.close()
        windows = self._mmap_windows(copy) if self._is_local_file() else self._stream_windows(copy)
        try:
            for offsets, payloads, lazy in windows:
                if lazy:
                    payloads = map(bytes, payloads)
                yield zip(offsets, payloads) if with_offsets else payloads
        finally:
            windows.close()
            if copy:  # nothing handed out points into the file: release it now
                self.close()

    def _is_local_file(self) -> bool:
        if hasattr(self.src, "read") or streams.is_uri(self.src):
            return False
        return os.path.isfile(streams.local_path(self.src))

    def _mmap_windows(self, copy: bool) -> Iterator[tuple[list[int], list]]:
        self._file = open(streams.local_path(self.src), "rb")
        size = os.fstat(self._file.fileno()).st_size
        if size == 0:
            return
        self._mmap = mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        mm.madvise(mmap.MADV_SEQUENTIAL)
        view = memoryview(mm)
        copy_source = (lambda: (mm, 0)) if copy else None  # slicing the mmap gives bytes: one copy
        try:
            pos = dropped = 0
            while pos < size:
                end = min(size, pos + self.chunk_bytes)
                offsets, payloads, new_pos, lazy = parse_window(
                    view, pos, end, 0, final=end == size, path=self.path, copy_source=copy_source
                )
                if not payloads:  # one record larger than the window
                    offsets, payloads, new_pos = scan_sequential(
                        view, pos, size, 0, final=True, path=self.path, max_records=1
                    )
                    lazy = copy
                yield offsets, payloads, lazy
                del offsets, payloads
                dropped = _drop_pages(mm, dropped, new_pos)  # keep resident memory flat on huge files
                pos = new_pos
        finally:
            view.release()

    def _stream_windows(self, copy: bool) -> Iterator[tuple[list[int], list]]:
        stream = self._file = streams.open_input(self.src)
        readinto = getattr(stream, "readinto", None)
        buf = bytearray(self.chunk_bytes)
        base = pos = filled = 0
        eof = False
        while not (eof and pos >= filled):
            if not eof:
                with remote_errors(self.path):
                    count = _read_into(stream, readinto, buf, filled)
                eof = count == 0
                filled += count
            with memoryview(buf) as view:
                start, stop = pos, filled
                copy_source = (lambda: (bytes(view[start:stop]), start)) if copy else None
                offsets, payloads, pos, lazy = parse_window(
                    view, pos, filled, base, final=eof, path=self.path, copy_source=copy_source
                )
                if payloads:
                    yield offsets, payloads, lazy
                del payloads, copy_source
            if pos > 0:  # move the unparsed tail to the front
                buf[: filled - pos] = buf[pos:filled]
                base += pos
                filled -= pos
                pos = 0
            if filled == len(buf):  # one record fills the buffer: grow it only as data really arrives
                bigger = bytearray(2 * len(buf))
                bigger[:filled] = buf[:filled]
                buf = bigger


def _drop_pages(mm: mmap.mmap, dropped: int, pos: int) -> int:
    """Release the mapping's pages before ``pos`` (the page cache keeps them; views stay valid,
    since a read-only file mapping faults them back in). Returns the new dropped mark."""
    upto = pos - pos % mmap.PAGESIZE
    if upto - dropped >= (32 << 20):
        mm.madvise(mmap.MADV_DONTNEED, dropped, upto - dropped)
        return upto
    return dropped


def _read_into(stream, readinto, buf: bytearray, filled: int) -> int:
    if readinto is not None:
        with memoryview(buf) as view:
            return readinto(view[filled:]) or 0
    data = stream.read(len(buf) - filled)
    if not data:
        return 0
    buf[filled : filled + len(data)] = data
    return len(data)


def iter_records(src: streams.PathLike | BinaryIO) -> Iterator[bytes]:
    """Yield each payload of ``src`` as ``bytes`` (see :class:`RecordReader`)."""
    with RecordReader(src) as reader:
        yield from reader
