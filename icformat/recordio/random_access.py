"""Random access to the records of a ``.rec``: by ``.idx`` key, by position, or by byte offset.

Local files are memory-mapped; ``s3://`` objects are read with stateless ranged requests (one GET
per record, sized from the next record's offset), so one ``IndexedRecordFile`` can be shared by any
number of threads, locally and remotely, and every record read is the one asked for. Errors name the
object's full path or URI and the absolute byte offset.
"""
from __future__ import annotations

import bisect
import mmap
import os
import threading
from typing import Any, Iterator, Sequence

import numpy as np

from .. import io as icio
from ..errors import RecordIOError
from ..io import s3
from ..io.streams import open_local
from .framing import FRAME, FRAME_SIZE, LENGTH_MASK, MAGIC
from .header import split_record
from .index import read_index, scan_offsets
from .scan import scan_sequential
from .writer import default_index_path

READ_AHEAD = 64 << 10  # bytes asked for when the record's length is not known from the index


class IndexedRecordFile:
    """Random access to the records of a ``.rec`` by key (``f[key]``), by position (``f.at(i)``) and
    by byte offset (``f.read_at(offset)``); safe to share between threads.

    Uses ``idx`` (default: the ``.idx`` beside ``rec``) when it exists, else builds the index by
    scanning the file once. ``offsets`` (with optional ``keys``) gives the index directly and skips
    both: a worker process handed offsets by its parent reads nothing else.
    """

    def __init__(self, rec: icio.PathLike, idx: icio.PathLike | None = None, *, key: str = "auto",
                 offsets: Sequence[int] | None = None, keys: Sequence | None = None):
        self.path = os.fspath(rec)
        self.index_path: str | None = None
        if offsets is not None:
            self.offsets = [int(o) for o in offsets]
            self.keys = list(keys) if keys is not None else list(range(len(self.offsets)))
        else:
            if idx is None and icio.exists(default_index_path(self.path)):
                idx = default_index_path(self.path)
            self.index_path = os.fspath(idx) if idx is not None else None
            if self.index_path is not None:
                self.keys, self.offsets = read_index(self.index_path)
            else:
                self.keys, self.offsets = scan_offsets(self.path, key=key)
        self._position = {k: i for i, k in enumerate(self.keys)}
        self._sorted = sorted(self.offsets)
        self._file = self._mmap = self._view = None
        self._lock = threading.Lock()  # only for URIs other than s3:// (one shared stream)
        self._open()

    def _open(self) -> None:
        if icio.is_s3(self.path):
            self.size = s3.size(self.path)
        elif icio.is_uri(self.path):
            self._file = icio.open_input(self.path)
            self.size = None
        else:
            self._file = open_local(self.path)
            self.size = os.fstat(self._file.fileno()).st_size
            if self.size:
                self._mmap = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
                self._view = memoryview(self._mmap)

    def __len__(self) -> int:
        return len(self.offsets)

    def __contains__(self, key: Any) -> bool:
        return key in self._position

    def __getitem__(self, key: Any) -> bytes:
        """The payload whose ``.idx`` key is ``key``."""
        try:
            position = self._position[key]
        except KeyError:
            raise KeyError(f"{self.path}: no record with key {key!r}") from None
        return self.at(position)

    read_idx = __getitem__  # MXNet's name

    def at(self, position: int) -> bytes:
        """The payload of the ``position``-th record of the index (file order of the ``.idx``)."""
        return bytes(self.view_at(position))

    def view_at(self, position: int) -> memoryview | bytes:
        """Like :meth:`at` without a copy for local files (valid while the file is open)."""
        return self.read_at(self.offsets[position])

    def header_at(self, position: int):
        """The image header of the ``position``-th record."""
        return split_record(self.view_at(position), self.offsets[position], self.path).header

    def read_at(self, offset: int, span: int | None = None) -> memoryview | bytes:
        """The payload of the record whose frame starts at byte ``offset``: a view into the map for
        local files, ``bytes`` for remote ones (``span``: how many bytes to ask for first)."""
        if self._view is not None:
            return self._local_at(offset)
        if icio.is_s3(self.path):
            return self._ranged_at(offset, span)
        if self._file is None:
            raise RecordIOError("file is empty" if self.size == 0 else "file is closed", self.path, offset)
        return self._stream_at(offset)

    def _local_at(self, offset: int) -> memoryview:
        view, size = self._view, self.size
        if 0 <= offset <= size - FRAME_SIZE:  # fast path: one whole record
            magic, lrec = FRAME.unpack_from(view, offset)
            end = offset + FRAME_SIZE + (lrec & LENGTH_MASK)
            if magic == MAGIC and lrec >> 29 == 0 and end <= size:
                return view[offset + FRAME_SIZE : end]
        if not 0 <= offset < size:
            raise RecordIOError(f"index offset {offset} is past the end of the file ({size:,} bytes)", self.path, offset)
        # multi-part records, and every error with its explanation
        _, payloads, _ = scan_sequential(view, offset, size, 0, final=True, path=self.path, max_records=1)
        return payloads[0]

    def _span(self, offset: int) -> int:
        """Bytes from ``offset`` to the next indexed record (or the end of the object)."""
        i = bisect.bisect_right(self._sorted, offset)
        end = self._sorted[i] if i < len(self._sorted) else self.size
        span = (end - offset) if end is not None and end > offset else READ_AHEAD
        return min(span, self.size - offset) if self.size is not None else span

    def _ranged_at(self, offset: int, span: int | None) -> bytes:
        if not 0 <= offset < self.size:
            raise RecordIOError(f"index offset {offset} is past the end of the object ({self.size:,} bytes)", self.path, offset)
        length = max(int(span or 0), self._span(offset), FRAME_SIZE)
        while True:
            data = s3.read_range(self.path, offset, length)
            final = offset + len(data) >= self.size
            _, payloads, _ = scan_sequential(memoryview(data), 0, len(data), offset, final=final, path=self.path, max_records=1)
            if payloads:
                return bytes(payloads[0])
            length *= 4  # the record is longer than the index suggested (or a multi-part record)

    def _stream_at(self, offset: int) -> bytes:
        from .reader import RecordReader

        with self._lock:  # one stream: seek and read must not interleave
            self._file.seek(offset)
            for record in RecordReader(_Unclosable(self._file, self.path), chunk_bytes=1 << 16):
                return record
        raise RecordIOError("index offset is past the end of the file", self.path, offset)

    def prefetch(self, spans: np.ndarray) -> None:
        """Ask the kernel to start reading ``(offset, length)`` ranges (a batch's records) now, so
        that reading a cold local file overlaps decoding; nothing for remote objects."""
        if self._mmap is None or not hasattr(mmap, "MADV_WILLNEED"):
            return
        page = mmap.PAGESIZE
        for offset, length in np.asarray(spans).tolist():
            start = offset - offset % page
            length = min(offset + length, self.size) - start
            if length > 0:
                try:
                    self._mmap.madvise(mmap.MADV_WILLNEED, start, length)
                except (OSError, ValueError):
                    return

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self)):
            yield self.at(i)

    def close(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:  # a record view is still referenced: garbage collection unmaps it
                pass
            self._mmap = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "IndexedRecordFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Unclosable:
    """Reads from a shared stream without closing it."""

    def __init__(self, stream, name: str):
        self._stream = stream
        self.name = name

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)
