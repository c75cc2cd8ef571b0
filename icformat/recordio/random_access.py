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
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .. import io as icio
from ..errors import RecordIOError
from ..io import s3
from ..io.streams import open_local, remote_errors
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
    both: a worker process handed offsets by its parent reads nothing else. ``key_type`` makes the
    ``.idx`` keys as MXNet's ``key_type`` does (default: ints when all are written as ints).

    It pickles as its path and index: the copy (in a ``spawn`` worker, say) opens the file again.
    """

    def __init__(self, rec: icio.PathLike, idx: icio.PathLike | None = None, *, key: str = "auto",
                 offsets: Sequence[int] | None = None, keys: Sequence | None = None,
                 key_type: Callable[[str], Any] | None = None):
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
                self.keys, self.offsets = read_index(self.index_path, key_type=key_type)
            else:
                self.keys, self.offsets = scan_offsets(self.path, key=key)
        self._setup()

    def _setup(self) -> None:
        self._position = {k: i for i, k in enumerate(self.keys)}
        self._sorted = sorted(self.offsets)
        self._file = self._mmap = self._view = None
        self._lock = threading.Lock()  # only for URIs other than s3:// (one shared stream)
        self._open()

    def __getstate__(self) -> dict:
        """The path and the index (offsets as one array, which pickles fast); no file handle."""
        return {"path": self.path, "index_path": self.index_path, "keys": self.keys,
                "offsets": np.asarray(self.offsets, dtype=np.int64)}

    def __setstate__(self, state: dict) -> None:
        self.path, self.index_path, self.keys = state["path"], state["index_path"], state["keys"]
        self.offsets = state["offsets"].tolist()
        self._setup()

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
        return self.at(self.position(key))

    read_idx = __getitem__  # MXNet's name

    def position(self, key: Any) -> int:
        """Where the record with ``.idx`` key ``key`` is in the index (``KeyError`` if nowhere)."""
        try:
            return self._position[key]
        except KeyError:
            raise KeyError(f"{self.path}: no record with key {key!r}") from None

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
        return self.record_at(offset, span)[0]

    def record_at(self, offset: int, span: int | None = None) -> tuple[memoryview | bytes, int]:
        """:meth:`read_at`'s payload and the byte offset where the record after it starts (the
        file's size after the last one): what a sequential cursor needs."""
        if self._view is not None:
            return self._local_at(offset)
        if self._file is None and not icio.is_s3(self.path):
            raise RecordIOError("file is empty" if self.size == 0 else "file is closed", self.path, offset)
        return self._fetched_at(offset, span)

    def _local_at(self, offset: int) -> tuple[memoryview, int]:
        view, size = self._view, self.size
        if 0 <= offset <= size - FRAME_SIZE:  # fast path: one whole record
            magic, lrec = FRAME.unpack_from(view, offset)
            end = offset + FRAME_SIZE + (lrec & LENGTH_MASK)
            if magic == MAGIC and lrec >> 29 == 0 and end <= size:
                return view[offset + FRAME_SIZE : end], min(end + (-end & 3), size)
        if not 0 <= offset < size:
            raise RecordIOError(f"index offset {offset} is past the end of the file ({size:,} bytes)", self.path, offset)
        # multi-part records, and every error with its explanation
        _, payloads, next_pos = scan_sequential(view, offset, size, 0, final=True, path=self.path, max_records=1)
        return payloads[0], next_pos

    def _span(self, offset: int) -> int:
        """Bytes from ``offset`` to the next indexed record (or the end of the object); without an
        index, a read-ahead."""
        i = bisect.bisect_right(self._sorted, offset)
        end = self._sorted[i] if i < len(self._sorted) else (self.size if self._sorted else None)
        span = (end - offset) if end is not None and end > offset else READ_AHEAD
        return min(span, self.size - offset) if self.size is not None else span

    def _fetched_at(self, offset: int, span: int | None) -> tuple[bytes, int]:
        """A record of a remote object: ranged requests on ``s3://``, else reads of the one stream."""
        if self.size is not None and not 0 <= offset < self.size:
            raise RecordIOError(f"index offset {offset} is past the end of the object ({self.size:,} bytes)", self.path, offset)
        length = max(int(span or 0), self._span(offset), FRAME_SIZE)
        while True:
            data = self._fetch(offset, length)
            final = len(data) < length or (self.size is not None and offset + len(data) >= self.size)
            _, payloads, next_pos = scan_sequential(memoryview(data), 0, len(data), offset, final=final, path=self.path, max_records=1)
            if payloads:
                return bytes(payloads[0]), offset + next_pos
            length *= 4  # the record is longer than the index suggested (or a multi-part record)

    def _fetch(self, offset: int, length: int) -> bytes:
        if icio.is_s3(self.path):
            return s3.read_range(self.path, offset, length)
        with self._lock, remote_errors(self.path):  # one stream: seek and read must not interleave
            self._file.seek(offset)
            return self._file.read(length)

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

