"""Streaming RecordIO reader: constant memory, from a path, an ``s3://`` URI, a FIFO or a file object."""
from __future__ import annotations

import itertools
import mmap
import os
from typing import BinaryIO, Iterator

from ..io.paths import PathLike, is_uri, local_path
from ..io.streams import open_input
from ..io.streams import remote_errors
from .batch import RecordBatch, cut_points, make_batch
from .scan import Scanned, scan_records

CHUNK_BYTES = 8 << 20


class RecordReader:
    """Iterate over the payloads of a ``.rec`` file (multi-part records rejoined, magic re-inserted).

    ``src`` is a local path (read through ``mmap``), an ``s3://`` or other URI (smart_open), a FIFO,
    or a binary file object. Memory stays bounded by the largest record whatever the file size.
    Iterating yields ``bytes``; :meth:`iter_views` yields zero-copy ``memoryview`` objects instead.
    :meth:`iter_with_offsets` yields ``(offset, payload)`` pairs, offset being the byte position of
    the record's first header. :meth:`iter_batches` yields :class:`~icformat.recordio.batch.RecordBatch`
    objects (many records in one buffer, no Python object per record): the fast way through files
    of small records; the other iterators are built on it. Bad framing raises
    :class:`~icformat.errors.RecordIOError` naming the byte offset, after every record before it.
    """

    def __init__(self, src: PathLike | BinaryIO, *, chunk_bytes: int = CHUNK_BYTES):
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
        # chain keeps the per-record step in C: a batch's records are handed out as a list
        return itertools.chain.from_iterable(map(_copies, self._batches(None, None, release=True)))

    def iter_views(self) -> Iterator[memoryview]:
        """Yield records without copying (views into the file's map, or into a window's bytes)."""
        return itertools.chain.from_iterable(self._batches(None, None, release=False))

    def iter_with_offsets(self, copy: bool = True) -> Iterator[tuple[int, bytes | memoryview]]:
        """Yield ``(offset, payload)`` pairs."""
        pairs = _offset_copies if copy else _offset_views
        return itertools.chain.from_iterable(map(pairs, self._batches(None, None, release=copy)))

    def iter_batches(self, max_records: int | None = None, max_bytes: int | None = None) -> Iterator[RecordBatch]:
        """Yield the records as :class:`~icformat.recordio.batch.RecordBatch` objects: one buffer
        with offset and length arrays, no Python object per record.

        A batch holds at most ``max_records`` records and ``max_bytes`` payload bytes (at least one
        record), and no fewer except the last one and one before an error (the window the reader
        parses grows to hold a full batch); without limits, one batch per window (``chunk_bytes``).
        Concatenated, the batches are exactly what iterating gives, and bad framing raises the same
        ``RecordIOError`` after the same records: every record before the damage is delivered first.
        """
        if max_records is not None and max_records < 1 or max_bytes is not None and max_bytes < 1:
            raise ValueError("max_records and max_bytes must be at least 1")
        return self._batches(max_records, max_bytes, release=False)

    def _batches(self, max_records: int | None, max_bytes: int | None, release: bool) -> Iterator[RecordBatch]:
        """The batches of the file; with ``release`` the file is closed at the end (nothing handed
        out points into it)."""
        self.close()
        limited = max_records is not None or max_bytes is not None
        try:
            if self._is_local_file():
                yield from self._mmap_batches(max_records, max_bytes, limited)
            else:
                yield from self._stream_batches(max_records, max_bytes, limited)
        finally:
            if release:
                self.close()

    def _is_local_file(self) -> bool:
        if hasattr(self.src, "read") or is_uri(self.src):
            return False
        return os.path.isfile(local_path(self.src))

    def _mmap_batches(self, max_records, max_bytes, limited) -> Iterator[RecordBatch]:
        self._file = open(local_path(self.src), "rb")
        size = os.fstat(self._file.fileno()).st_size
        if size == 0:
            return
        self._mmap = mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        mm.madvise(mmap.MADV_SEQUENTIAL)
        view = memoryview(mm)
        try:
            pos = dropped = 0
            window = self.chunk_bytes
            while pos < size:
                end = min(size, pos + window)
                scan = scan_records(view, pos, end, 0, final=end == size, path=self.path)
                if not scan.heads.size and scan.error is None and not limited:  # one record larger than the window
                    scan = scan_records(view, pos, size, 0, final=True, path=self.path, max_records=1)
                new_pos = yield from _emit(scan, view, 0, self.path, mm, max_records, max_bytes, limited and end < size)
                del scan
                if new_pos == pos:  # not one full batch in the window: widen it
                    window *= 2
                    continue
                pos = new_pos
                dropped = _drop_pages(mm, dropped, pos)  # keep resident memory flat on huge files
        finally:
            view.release()

    def _stream_batches(self, max_records, max_bytes, limited) -> Iterator[RecordBatch]:
        stream = self._file = open_input(self.src)
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
                scan = scan_records(view, pos, filled, base, final=eof, path=self.path)
                pos = yield from _emit(scan, view, base, self.path, None, max_records, max_bytes, limited and not eof)
                del scan
            if pos > 0:  # move the unparsed tail to the front
                buf[: filled - pos] = buf[pos:filled]
                base += pos
                filled -= pos
                pos = 0
            if filled == len(buf):  # one record fills the buffer: grow it only as data really arrives
                bigger = bytearray(2 * len(buf))
                bigger[:filled] = buf[:filled]
                buf = bigger


def _emit(scan: Scanned, view, base, path, source, max_records, max_bytes, defer: bool) -> Iterator[RecordBatch]:
    """Yield a window's records as batches, then raise its framing error if it has one; returns
    where the next window starts. With ``defer`` (the window does not end the file), a last batch
    short of ``max_records`` waits for the next window (parsed again there) so that batches come
    out full; when that is the only batch nothing is yielded and the window must grow."""
    cuts = cut_points(scan.lengths, max_records, max_bytes)
    next_pos = scan.next_pos
    if defer and scan.error is None and (not cuts or cuts[-1] - (cuts[-2] if len(cuts) > 1 else 0) != max_records):
        if not cuts:
            return next_pos
        cuts.pop()
        next_pos = int(scan.heads[cuts[-1] if cuts else 0])  # the head of the first deferred record
    first = 0
    for stop in cuts:
        yield make_batch(scan, view, first, stop, base, path, source)
        first = stop
    if scan.error is not None:
        raise scan.error
    return next_pos


def _copies(batch: RecordBatch):
    return batch.records(copy=True)


def _offset_copies(batch: RecordBatch):
    return zip(batch.file_offsets.tolist(), batch.records(copy=True))


def _offset_views(batch: RecordBatch):
    return zip(batch.file_offsets.tolist(), batch.records(copy=False))


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


def iter_records(src: PathLike | BinaryIO) -> Iterator[bytes]:
    """Yield each payload of ``src`` as ``bytes`` (see :class:`RecordReader`)."""
    with RecordReader(src) as reader:
        yield from reader
