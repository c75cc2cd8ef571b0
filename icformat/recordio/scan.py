"""Parsing framed records out of a byte buffer: a sequential parser that explains every error,
and a vectorised fast path for runs of small whole records.

Both return ``(offsets, payloads, next_pos)``. Whole records (cflag 0) are slices of ``source``
(the buffer itself for zero-copy views, or a ``bytes``/``mmap`` object for copies; ``shift`` is the
position in ``view`` of ``source[0]``); multi-part records are ``bytes``, their parts joined with the
magic re-inserted, as dmlc's reader does.
"""
from __future__ import annotations

import numpy as np

from ..errors import RecordIOError
from .framing import CFLAG_END, CFLAG_MIDDLE, CFLAG_START, FRAME, LENGTH_MASK, MAGIC, MAGIC_BYTES

Scan = tuple[list[int], list, int]
_unpack_frame = FRAME.unpack_from


def _head(view: memoryview, pos: int, end: int, base: int, final: bool, path: str | None) -> tuple[int, int] | None:
    """Decode the 8-byte frame at ``pos``: ``(cflag, length)``, or None when more bytes are needed."""
    if end - pos < 8:
        if final:
            raise RecordIOError(f"truncated record header: {end - pos} of 8 bytes before end of file", path, base + pos)
        return None
    magic, lrec = _unpack_frame(view, pos)
    if magic != MAGIC:
        raise RecordIOError(
            f"bad magic 0x{magic:08x} (expected 0xced7230a); not a RecordIO file, or corrupted here", path, base + pos
        )
    return lrec >> 29, lrec & LENGTH_MASK


def _body_end(pos: int, length: int, end: int, base: int, final: bool, path: str | None) -> int | None:
    """Position after the data and its padding, or None when the record is not all in the buffer."""
    stop = pos + 8 + length
    padded = stop + (-length & 3)
    if padded <= end:
        return padded
    if stop <= end and final:
        return end  # a last record whose zero padding is missing: the data is complete, accept it
    if final:
        raise RecordIOError(
            f"truncated record: header says {length} bytes, only {max(0, end - pos - 8)} remain", path, base + pos
        )
    return None


def _multipart(view, pos, end, base, final, path) -> tuple[bytes, int] | None:
    """Join a multi-part record starting at ``pos`` (cflag 1); None when its parts are not all here."""
    parts = []
    first = pos
    expect_start = True
    while True:
        head = _head(view, pos, end, base, final, path)
        if head is None:
            return None
        cflag, length = head
        if expect_start and cflag != CFLAG_START:
            raise RecordIOError(f"bad cflag {cflag} at start of record", path, base + pos)
        if not expect_start and cflag not in (CFLAG_MIDDLE, CFLAG_END):
            raise RecordIOError(
                f"bad cflag sequence: part with cflag {cflag} inside the multi-part record that starts at byte {base + first}",
                path,
                base + pos,
            )
        nxt = _body_end(pos, length, end, base, final, path)
        if nxt is None:
            return None
        parts.append(view[pos + 8 : pos + 8 + length])
        pos = nxt
        expect_start = False
        if cflag == CFLAG_END:
            return MAGIC_BYTES.join(parts), pos


def scan_sequential(
    view: memoryview,
    pos: int,
    end: int,
    base: int,
    *,
    final: bool,
    path: str | None,
    max_records: int = 1 << 62,
    source=None,
    shift: int = 0,
) -> Scan:
    """Parse whole records from ``view[pos:end]``; returns them and the position after the last one.

    ``base`` is the file offset of ``view[0]``. With ``final`` the buffer ends the file, so a partial
    record is an error; otherwise parsing stops before it.
    """
    source = view if source is None else source
    offsets: list[int] = []
    out: list = []
    append = out.append
    while pos < end and len(out) < max_records:
        head = _head(view, pos, end, base, final, path)
        if head is None:
            break
        cflag, length = head
        if cflag == 0:
            nxt = _body_end(pos, length, end, base, final, path)
            if nxt is None:
                break
            offsets.append(base + pos)
            append(source[pos + 8 - shift : pos + 8 + length - shift])
            pos = nxt
        elif cflag == CFLAG_START:
            joined = _multipart(view, pos, end, base, final, path)
            if joined is None:
                break
            offsets.append(base + pos)
            append(joined[0])
            pos = joined[1]
        else:
            raise RecordIOError(
                f"bad cflag sequence: cflag {cflag} (continuation) without a starting part; the file is cut or corrupted",
                path,
                base + pos,
            )
    return offsets, out, pos


def scan_uniform(view: memoryview, pos: int, end: int, base: int, want_offsets: bool = True) -> Scan:
    """Copy out a run of whole records that all have the same length, starting at ``pos``.

    Files of small records (labels, features, embeddings) are usually uniform: the run is checked
    by looking only at each record's two frame words at a fixed stride, and the payloads become
    ``bytes`` objects in one numpy call. Stops at the first record that differs or is incomplete.
    """
    if end - pos < 16:
        return [], [], pos
    magic, lrec = _unpack_frame(view, pos)
    if magic != MAGIC or lrec >> 29:
        return [], [], pos
    length = lrec & LENGTH_MASK
    stride = 8 + length + (-length & 3)
    rows = (end - pos) // stride
    if rows < 2 or length == 0:
        return [], [], pos
    frames = np.ndarray((rows, 2), dtype="<u4", buffer=view, offset=pos, strides=(stride, 4))
    same = (frames[:, 0] == MAGIC) & (frames[:, 1] == lrec)
    count = rows if same.all() else int(np.argmin(same))
    if count == 0:
        return [], [], pos
    payloads = np.ndarray((count,), dtype=f"V{length}", buffer=view, offset=pos + 8, strides=(stride,)).tolist()
    offsets = list(range(base + pos, base + pos + count * stride, stride)) if want_offsets else []
    return offsets, payloads, pos + count * stride


def scan_fast(view: memoryview, pos: int, end: int, base: int, source=None, shift: int = 0) -> Scan:
    """Vectorised parse of consecutive whole records starting at ``pos`` (a record head, 4-aligned).

    In a valid file the only 4-aligned words equal to the magic are record heads (the writer
    escapes aligned magic inside payloads), so all heads are found at once and checked to chain
    exactly. Parsing stops at the first record that does not chain or is multi-part, and at the
    first incomplete record; the caller continues from there with ``scan_sequential``.
    """
    nwords = (end - pos) >> 2
    if nwords < 4:
        return [], [], pos
    words = np.frombuffer(view, dtype="<u4", count=nwords, offset=pos)
    heads = np.flatnonzero(words == MAGIC)
    if heads.size == 0 or heads[0] != 0:
        return [], [], pos
    heads = heads[heads + 1 < nwords]
    lrec = words[heads + 1]
    lengths = lrec & LENGTH_MASK
    nxt = heads + 2 + ((lengths + 3) >> 2)
    good = (lrec >> 29) == 0
    good[:-1] &= nxt[:-1] == heads[1:]
    good[-1:] &= nxt[-1:] <= nwords
    bad = np.flatnonzero(~good)
    count = int(bad[0]) if bad.size else heads.size
    if count == 0:
        return [], [], pos
    starts = heads[:count] * 4 + (pos + 8 - shift)
    stops = (starts + lengths[:count]).tolist()
    source = view if source is None else source
    payloads = [source[a:b] for a, b in zip(starts.tolist(), stops)]
    offsets = (heads[:count] * 4 + (pos + base)).tolist()
    return offsets, payloads, pos + int(nxt[count - 1]) * 4
