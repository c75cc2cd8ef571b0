"""Parsing framed records out of a byte buffer: a sequential parser that explains every error
(``scan_sequential``), and ``scan_records``, which gives a buffer's records as arrays (for record
batches), parsing runs of small whole records vectorised.

``scan_sequential`` returns ``(offsets, payloads, next_pos)``. Whole records (cflag 0) are slices of ``source``
(the buffer itself for zero-copy views, or a ``bytes``/``mmap`` object for copies; ``shift`` is the
position in ``view`` of ``source[0]``); multi-part records are ``bytes``, their parts joined with the
magic re-inserted, as dmlc's reader does.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import RecordIOError
from ..io.sniff import require_recordio
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
        if base + pos == 0:  # the file's first bytes: say what it is when it is recognisably something else
            require_recordio(view[pos:end], path)
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
            f"truncated record: header says {length:,} bytes, only {max(0, end - pos - 8):,} remain", path, base + pos
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
    errors: list | None = None,
) -> Scan:
    """Parse whole records from ``view[pos:end]``; returns them and the position after the last one.

    ``base`` is the file offset of ``view[0]``. With ``final`` the buffer ends the file, so a partial
    record is an error; otherwise parsing stops before it. Bad framing raises ``RecordIOError``; when
    an ``errors`` list is given the error is appended there instead and ends the parse, the records
    before it being returned (``next_pos`` is then the head of the bad record).
    """
    source = view if source is None else source
    offsets: list[int] = []
    out: list = []
    append = out.append
    try:  # ``pos`` moves only past good records: on an error it is the bad record's head
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
    except RecordIOError as exc:
        if errors is None:
            raise
        errors.append(exc.with_traceback(None))  # its frames would hold record views into the buffer
    return offsets, out, pos


SMALL_RECORD_BYTES = 4096  # below this average size the vectorised parse pays off
_PROBE_RECORDS = 64


class Scanned(NamedTuple):
    """Records found in a buffer, as arrays (positions are indices into the buffer)."""

    heads: np.ndarray  # int64: each record's first frame
    starts: np.ndarray  # int64: each whole record's payload; -1 for a multi-part record
    lengths: np.ndarray  # int64: payload lengths (joined length for a multi-part record)
    joined: dict[int, bytes]  # record index -> its parts joined, magic re-inserted
    next_pos: int  # where parsing stopped: after the last record, or the head of a bad one
    error: RecordIOError | None  # the framing error that stopped parsing, if any


def scan_records(
    view: memoryview, pos: int, end: int, base: int, *, final: bool, path: str | None, max_records: int = 1 << 62
) -> Scanned:
    """Every whole record in ``view[pos:end]`` as arrays, without one Python object per record.

    The same records, in the same order, and the same error after the same records as calling
    :func:`scan_sequential` record by record (which does every step that is not a plain run of
    whole records: multi-part records, errors, the last incomplete record). A bad record does not
    raise: it ends the scan and comes back in ``error``, after the records before it. A probe of
    the first records picks the path: large records are parsed one by one (few per buffer), runs of
    small ones by a vectorised search of the 4-aligned magic words that checks they chain exactly.
    """
    parts = _Parts(base)
    errors: list[RecordIOError] = []
    offsets, payloads, pos = scan_sequential(
        view, pos, end, base, final=final, path=path, max_records=min(_PROBE_RECORDS, max_records), errors=errors
    )
    parts.add_sequential(offsets, payloads)
    if not errors and pos < end and len(payloads) == _PROBE_RECORDS < max_records:
        if offsets[-1] - offsets[0] >= SMALL_RECORD_BYTES * len(payloads):
            offsets, payloads, pos = scan_sequential(
                view, pos, end, base, final=final, path=path, max_records=max_records - parts.count, errors=errors
            )
            parts.add_sequential(offsets, payloads)
        else:
            pos = _scan_vectorised(view, pos, end, base, final, path, max_records, parts, errors)
    return parts.result(pos, errors[0] if errors else None)


def _scan_vectorised(view, pos, end, base, final, path, max_records, parts: "_Parts", errors: list) -> int:
    """Runs of whole records found at once (``scan_sequential`` for one record between runs)."""
    origin = pos
    nwords = (end - pos) >> 2
    words = np.frombuffer(view, dtype="<u4", count=nwords, offset=pos)
    heads = np.flatnonzero(words == MAGIC)
    heads = heads[heads + 1 < nwords]
    lrec = words[heads + 1].astype(np.int64)
    del words
    lengths = lrec & LENGTH_MASK
    nxt = heads + 2 + ((lengths + 3) >> 2)  # in words: where the next head must be
    good = (lrec >> 29) == 0
    if heads.size:
        good[:-1] &= nxt[:-1] == heads[1:]
        good[-1] &= nxt[-1] <= nwords
    bad = np.flatnonzero(~good)
    while pos < end and parts.count < max_records:
        rel = pos - origin
        k = int(np.searchsorted(heads, rel >> 2)) if rel & 3 == 0 else heads.size
        if k < heads.size and heads[k] * 4 == rel:
            i = int(np.searchsorted(bad, k))
            stop = min(int(bad[i]) if i < bad.size else heads.size, k + max_records - parts.count)
            if stop > k:
                parts.add_run(heads[k:stop] * 4 + origin, lengths[k:stop])
                pos = origin + int(nxt[stop - 1]) * 4
                if pos >= end or parts.count >= max_records:
                    break
        offsets, payloads, pos = scan_sequential(view, pos, end, base, final=final, path=path, max_records=1, errors=errors)
        if not payloads:
            break
        parts.add_sequential(offsets, payloads)
    return pos


class _Parts:
    """Gathers records as arrays: runs from the vectorised scan, single ones from the sequential one."""

    def __init__(self, base: int):
        self.base = base
        self.heads: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self.joined: dict[int, bytes] = {}
        self.count = 0

    def add_run(self, heads: np.ndarray, lengths: np.ndarray) -> None:
        self.heads.append(heads)
        self.starts.append(heads + 8)
        self.lengths.append(lengths)
        self.count += heads.size

    def add_sequential(self, offsets: list[int], payloads: list) -> None:
        if not payloads:
            return
        heads = np.array(offsets, dtype=np.int64) - self.base
        starts = heads + 8
        for i, payload in enumerate(payloads):
            if not isinstance(payload, memoryview):  # multi-part: joined into bytes
                starts[i] = -1
                self.joined[self.count + i] = payload
        self.heads.append(heads)
        self.starts.append(starts)
        self.lengths.append(np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads)))
        self.count += len(payloads)

    def result(self, pos: int, error: RecordIOError | None) -> Scanned:
        empty = np.zeros(0, dtype=np.int64)
        join = lambda arrays: np.concatenate(arrays).astype(np.int64, copy=False) if arrays else empty
        return Scanned(join(self.heads), join(self.starts), join(self.lengths), self.joined, pos, error)
