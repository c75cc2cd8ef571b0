"""dmlc RecordIO framing constants and helpers (``dmlc-core/include/dmlc/recordio.h``).

A record is ``magic (u32 0xced7230a) | lrec (u32: cflag << 29 | length) | data | zero pad to 4``.
A payload holding the magic at a 4-byte-aligned offset is split there into parts (cflag 1 = first,
2 = middle, 3 = last; 0 = whole), the magic itself being dropped and re-inserted by readers.
"""
from __future__ import annotations

import struct
from ctypes import addressof, c_char

import numpy as np

from ..errors import UsageError
from ..io.sniff import RECORDIO_MAGIC

MAGIC = RECORDIO_MAGIC  # 0xCED7230A (io.sniff holds every magic number)
MAGIC_BYTES = struct.pack("<I", MAGIC)
FRAME = struct.Struct("<II")
FRAME_SIZE = FRAME.size  # 8
LENGTH_MASK = (1 << 29) - 1
MAX_LENGTH = 1 << 29  # payloads must be strictly smaller

_NUMPY_SCAN_BYTES = 512
_MAGIC_WORD = np.uint32(MAGIC)

CFLAG_WHOLE, CFLAG_START, CFLAG_MIDDLE, CFLAG_END = 0, 1, 2, 3


def padding(length: int) -> int:
    """Zero bytes that follow ``length`` data bytes to reach a 4-byte boundary."""
    return -length & 3


def aligned_magic_positions(payload: bytes | memoryview) -> list[int]:
    """Offsets ``i`` (multiples of 4, ``i + 4 <= len``) where ``payload`` holds the magic bytes."""
    if len(payload) >= _NUMPY_SCAN_BYTES:  # a vectorised compare of aligned words: several times faster
        hits = np.frombuffer(payload, dtype="<u4", count=len(payload) >> 2) == _MAGIC_WORD
        return (np.flatnonzero(hits) * 4).tolist() if hits.any() else []
    data = payload if isinstance(payload, (bytes, bytearray)) else bytes(payload)
    found = []
    i = data.find(MAGIC_BYTES)
    while i >= 0:
        if i & 3 == 0:
            found.append(i)
            i = data.find(MAGIC_BYTES, i + 4)
        else:
            i = data.find(MAGIC_BYTES, i + 1)
    return found


def encode_record(payload: bytes | memoryview) -> list[bytes | memoryview]:
    """The byte pieces of one framed record, split into parts exactly as dmlc's writer does."""
    length = len(payload)
    if length >= MAX_LENGTH:
        raise UsageError(f"RecordIO payloads must be smaller than 2^29 bytes (512 MiB); got {length:,} bytes")
    hits = aligned_magic_positions(payload)
    if not hits:
        return [FRAME.pack(MAGIC, length), payload, b"\0" * padding(length)]
    view = memoryview(payload)
    pieces: list[bytes | memoryview] = []
    start = 0
    for i in hits:
        pieces.append(FRAME.pack(MAGIC, ((CFLAG_START if start == 0 else CFLAG_MIDDLE) << 29) | (i - start)))
        pieces.append(view[start:i])
        start = i + 4
    tail = length - start
    pieces += [FRAME.pack(MAGIC, (CFLAG_END << 29) | tail), view[start:], b"\0" * padding(tail)]
    return pieces


def frame_record(payload: bytes | memoryview) -> bytes:
    """One record framed as it goes into the file (header, parts, padding), as one ``bytes``.

    Lets workers do the framing in parallel; the writer then only appends (``write_framed``).
    """
    return b"".join(encode_record(payload))


_WORDS = np.dtype("<u4")
_count_nonzero = np.count_nonzero
_PADS = (b"", b"\0\0\0", b"\0\0", b"\0")  # the zero padding after a payload, by ``length & 3``
JOIN_BELOW = 4096  # a smaller record becomes one piece (fewer, larger pieces for one write)


def frame_into(pieces: list, payload: bytes | bytearray | memoryview, head: bytes = b"") -> int:
    """Append the pieces of one framed record to ``pieces`` (for a gathered write, ``os.writev``)
    and return its framed size; the pieces join to :func:`frame_record` of ``head + payload``.

    ``head`` (an image header) saves copying the payload to put it in front. A large payload is
    not copied: one vectorised compare finds whether it holds the magic at an aligned offset, and
    only then does it go through :func:`encode_record` to be split. Framing each record as it
    arrives, while its bytes are still in the CPU caches, makes that compare cheap.
    """
    length = len(head) + len(payload)
    if length < JOIN_BELOW or len(head) & 3:  # small (or an unaligned head): one piece
        data = head + bytes(payload) if head else bytes(payload)  # bytes(bytes) is no copy
        if length < _NUMPY_SCAN_BYTES and MAGIC_BYTES not in data:  # the usual label record
            record = FRAME.pack(MAGIC, length) + data + _PADS[length & 3]
        else:
            record = frame_record(data)
        pieces.append(record)
        return len(record)
    if length >= MAX_LENGTH:
        raise UsageError(f"RecordIO payloads must be smaller than 2^29 bytes (512 MiB); got {length:,} bytes")
    if (head and MAGIC_BYTES in head and aligned_magic_positions(head)) or _count_nonzero(
        np.frombuffer(payload, _WORDS, len(payload) >> 2) == _MAGIC_WORD
    ):
        split = encode_record(head + bytes(payload) if head else payload)
        pieces += split
        return sum(map(len, split))
    pieces.append(FRAME.pack(MAGIC, length))
    if head:
        pieces.append(head)
    pieces.append(payload)
    pad = _PADS[length & 3]
    if pad:
        pieces.append(pad)
    return FRAME_SIZE + length + len(pad)


def frame_in_place(buffer: memoryview, at: int, head: bytes, payload: memoryview, base: int | None = None) -> int:
    """Frame, where it lies, one record whose ``payload`` was written into ``buffer`` (a writable
    byte view) at ``at + FRAME_SIZE + len(head)``, ``at`` a multiple of 4: the frame's head,
    ``head`` and the zero padding go around it, so that ``buffer[at : at + size]`` is
    :func:`frame_record` of ``head + payload``; returns ``size``. Returns 0, and the record is
    left to :func:`frame_into`, when it must be split (the magic at an aligned offset), would not
    fit, or ``payload`` is not where it should be. ``base``: where ``buffer`` starts in memory,
    when the caller knows it (framing many records into one buffer)."""
    length = len(head) + len(payload)
    start = at + FRAME_SIZE
    end = start + length
    pad = -length & 3
    if at & 3 or length >= MAX_LENGTH or end + pad > len(buffer):
        return 0
    where = buffer_address(payload)
    if where < 0 or where != (buffer_address(buffer) if base is None else base) + start + len(head):
        return 0
    buffer[start : start + len(head)] = head
    if _count_nonzero(np.frombuffer(buffer, _WORDS, length >> 2, start) == _MAGIC_WORD):
        return 0
    FRAME.pack_into(buffer, at, MAGIC, length)
    buffer[end : end + pad] = _PADS[length & 3]
    return FRAME_SIZE + length + pad


def buffer_address(view: memoryview) -> int:
    """Where a writable, non-empty byte view's memory starts; -1 for any other (``frame_in_place``'s ``base``)."""
    try:
        return addressof(c_char.from_buffer(view))
    except (TypeError, ValueError):
        return -1


class FrameWalker:
    """Follows the record framing of a byte stream fed block by block, without keeping it: each
    head must start with the magic, and the stream must end where a record ends. Raises
    :class:`~icformat.errors.RecordIOError` naming the byte offset (used to check ``.rec`` bytes
    that are copied, not parsed, such as a pipe-mode stream of ``.rec`` files)."""

    def __init__(self, name: str | None):
        self.name = name
        self.next_head = 0  # absolute offset of the next record head
        self._tail = b""  # bytes from a head that is not complete yet
        self._tail_start = 0
        self.records = 0
        self.last_head = 0

    def feed(self, block: bytes | memoryview) -> None:
        from ..errors import RecordIOError

        buf = self._tail + bytes(block) if self._tail else block
        start = self._tail_start
        end = start + len(buf)
        pos = self.next_head
        while pos + FRAME_SIZE <= end:
            magic, lrec = FRAME.unpack_from(buf, pos - start)
            if magic != MAGIC:
                raise RecordIOError(f"bad magic {magic:#010x} where a record should start (expected {MAGIC:#010x})", self.name, pos)
            length = lrec & LENGTH_MASK
            self.last_head = pos
            pos += FRAME_SIZE + length + padding(length)
            self.records += (lrec >> 29) in (0, 3)  # whole records and last parts
        self.next_head = pos
        self._tail = bytes(buf[pos - start :]) if pos < end else b""
        self._tail_start = min(pos, end) if pos < end else end

    def finish(self, size: int) -> None:
        """The stream ended after ``size`` bytes: it must end at a record boundary."""
        from ..errors import RecordIOError

        if size == self.next_head:
            return
        if self._tail:  # not even the 8-byte head of the last record is complete
            raise RecordIOError(f"truncated: the file ends {size - self._tail_start} byte(s) into a record head", self.name, self._tail_start)
        raise RecordIOError(f"truncated record: it needs {self.next_head - self.last_head:,} bytes, the file ends "
                            f"{size - self.last_head:,} bytes after its head (the file was cut short)", self.name, self.last_head)
