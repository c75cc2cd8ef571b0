"""Record batches: many records in one buffer with offset and length arrays, no object per record.

:meth:`RecordReader.iter_batches <icformat.recordio.reader.RecordReader.iter_batches>` yields them.
"""
from __future__ import annotations

import mmap
from typing import Iterator

import numpy as np

from .header import HeaderColumns, label_rows, unpack_columns
from .scan import SMALL_RECORD_BYTES, Scanned


class RecordBatch:
    """Records ``i`` of a batch are ``buffer[offsets[i] : offsets[i] + lengths[i]]``.

    ``buffer`` is a ``memoryview`` into the file's map (local files) or over one ``bytes`` object
    (streams, and batches holding a multi-part record, whose parts are joined with the magic
    re-inserted). It stays valid as long as the batch is referenced. ``file_offsets[i]`` is the byte
    position of record ``i``'s first frame header in the file (for ``.idx`` files and errors).
    """

    __slots__ = ("_source", "_view", "offsets", "lengths", "file_offsets", "path")

    def __init__(self, source, offsets: np.ndarray, lengths: np.ndarray, file_offsets: np.ndarray, path: str | None = None):
        self._source = source  # bytes or mmap: slicing it gives bytes
        self._view: memoryview | None = None
        self.offsets = offsets
        self.lengths = lengths
        self.file_offsets = file_offsets
        self.path = path

    @property
    def buffer(self) -> memoryview:
        """The bytes the records live in."""
        if self._view is None:
            self._view = memoryview(self._source)
        return self._view

    @property
    def nbytes(self) -> int:
        """Total payload bytes of the batch's records."""
        return int(self.lengths.sum())

    def __len__(self) -> int:
        return self.offsets.size

    def __getitem__(self, i: int) -> memoryview:
        start = int(self.offsets[i])
        return self.buffer[start : start + int(self.lengths[i])]

    def __iter__(self) -> Iterator[memoryview]:
        """Each record as a ``memoryview`` (no copy)."""
        view = self.buffer
        return map(view.__getitem__, self._slices())

    def iter_bytes(self) -> Iterator[bytes]:
        """Each record as ``bytes``, copied one at a time as it is requested."""
        return map(self._sliceable().__getitem__, self._slices())

    def to_list(self) -> list[bytes]:
        """Every record as ``bytes``."""
        n = len(self)
        if n > 1:
            length = int(self.lengths[0])
            stride = int(self.offsets[1] - self.offsets[0])
            if length > 0 and (self.lengths == length).all() and (np.diff(self.offsets) == stride).all():
                # uniform records (labels, embeddings): numpy makes the bytes objects in one call
                rows = np.ndarray((n,), dtype=f"V{length}", buffer=self.buffer, offset=int(self.offsets[0]), strides=(stride,))
                return rows.tolist()
        source = self._sliceable()
        return [source[a:b] for a, b in zip(self.offsets.tolist(), (self.offsets + self.lengths).tolist())]

    def records(self, copy: bool = True) -> Iterator[bytes] | list[bytes] | Iterator[memoryview]:
        """The records as :class:`RecordReader` iteration gives them: small ones copied in one go,
        large ones copied one at a time as requested (memory stays bounded), views without ``copy``."""
        if not copy:
            return iter(self)
        if len(self) and self.nbytes < SMALL_RECORD_BYTES * len(self):
            return self.to_list()
        return self.iter_bytes()

    def headers(self, check: bool = True) -> HeaderColumns:
        """Every record's image header, decoded at once (``flag``, ``label``, ``id``, ``id2`` and
        where each image lies in :attr:`buffer`). With ``check``, a record without a valid header
        raises the ``RecordIOError`` :func:`~icformat.recordio.split_record` raises, naming its offset."""
        columns = unpack_columns(self.buffer, self.offsets, self.lengths)
        if check:
            columns.check(self.lengths, self.file_offsets, self.path)
        return columns

    def labels(self, width: int, columns: HeaderColumns | None = None) -> np.ndarray:
        """The ``(len, width)`` float32 labels of records that all carry ``width`` labels."""
        columns = self.headers() if columns is None else columns
        return label_rows(self.buffer, self.offsets, columns, width)

    def _slices(self) -> Iterator[slice]:
        return map(slice, self.offsets.tolist(), (self.offsets + self.lengths).tolist())

    def _sliceable(self):
        source = self._source
        return source if isinstance(source, (bytes, mmap.mmap)) else bytes(source)

    def __repr__(self) -> str:
        return f"RecordBatch({len(self)} records, {self.nbytes} bytes)"


def cut_points(lengths: np.ndarray, max_records: int | None, max_bytes: int | None) -> list[int]:
    """Where to cut ``lengths`` into batches of at most ``max_records`` records and ``max_bytes``
    payload bytes (a batch holds at least one record): the end index of each batch."""
    n = lengths.size
    if max_records is None and max_bytes is None:
        return [n] if n else []
    step = n if max_records is None else max(1, int(max_records))
    if max_bytes is None:
        return list(range(step, n, step)) + [n] if n else []
    cum = np.concatenate(([0], np.cumsum(lengths)))
    cuts = []
    i = 0
    while i < n:
        fit = int(np.searchsorted(cum, cum[i] + max_bytes, side="right")) - 1
        i = min(n, i + step, max(i + 1, fit))
        cuts.append(i)
    return cuts


def make_batch(scan: Scanned, view: memoryview, first: int, stop: int, base: int, path: str | None, source=None) -> RecordBatch:
    """Records ``first:stop`` of ``scan`` (parsed from ``view``, whose byte 0 is at file offset
    ``base``) as a batch: slices of ``source`` (the map ``view`` is over) when given and no record
    there is multi-part, else one new ``bytes`` object."""
    starts = scan.starts[first:stop]
    lengths = scan.lengths[first:stop]
    file_offsets = scan.heads[first:stop] + base
    joined = sorted(k for k in scan.joined if first <= k < stop) if scan.joined else []
    if not joined:
        if source is not None:
            return RecordBatch(source, starts, lengths, file_offsets, path)
        lo, hi = int(starts[0]), int(starts[-1] + lengths[-1])
        return RecordBatch(bytes(view[lo:hi]), starts - lo, lengths, file_offsets, path)
    pieces = []
    offsets = np.empty_like(starts)
    out = 0
    run = first
    for k in joined + [stop]:
        if k > run:  # a run of whole records: one slice, frames between them included
            lo = int(scan.starts[run])
            hi = int(scan.starts[k - 1] + scan.lengths[k - 1])
            pieces.append(view[lo:hi])
            offsets[run - first : k - first] = scan.starts[run:k] - lo + out
            out += hi - lo
        if k < stop:
            pieces.append(scan.joined[k])
            offsets[k - first] = out
            out += len(scan.joined[k])
        run = k + 1
    return RecordBatch(b"".join(pieces), offsets, lengths, file_offsets, path)
