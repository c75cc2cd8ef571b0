"""Cutting a text file (``.lst``, manifest) into byte ranges that tasks read on their own.

A range ``[start, end)`` owns the lines that *begin* inside it, as Hadoop's line reader does: the
task skips the partial line at its start (its previous range owns it) and reads past ``end`` to
finish its last line. Every line is read by exactly one task, and no task reads the whole file.
"""
from __future__ import annotations

import os
from ..io.paths import is_uri, local_path
from ..io.streams import open_input


DEFAULT_RANGE_BYTES = 64 << 20
BUCKET_BYTES = 8 << 20  # of the file per shuffle bucket: each reducer's share stays well in memory
_TAIL_BLOCK = 1 << 16


def file_size(path: str) -> int:
    """The size in bytes of a local file or an ``s3://`` object (opened once here, so that a missing
    file or a folder is reported before any task starts)."""
    if not is_uri(path):
        with open(local_path(path), "rb") as f:
            return os.fstat(f.fileno()).st_size
    if path.startswith("s3://"):
        from ..io import s3

        return s3.size(path)
    return os.path.getsize(local_path(path))


def byte_ranges(size: int, parts: int | None = None, range_bytes: int = DEFAULT_RANGE_BYTES) -> list[tuple[int, int]]:
    """``[start, end)`` ranges covering ``size`` bytes: ``parts`` of them, or about ``range_bytes``
    each (at least one range, even for an empty file)."""
    count = max(1, parts or -(-size // range_bytes))
    step = max(1, -(-size // count))
    ranges = [(start, min(size, start + step)) for start in range(0, size, step)]
    return ranges or [(0, 0)]


def read_owned_lines(path: str, start: int, end: int) -> bytes:
    """The bytes of the lines that begin in ``[start, end)`` of ``path`` (line ends included)."""
    with open_input(path, "rb") as f:
        begin = max(0, start - 1)  # from the byte before: is ``start`` the beginning of a line?
        if begin:
            f.seek(begin)
        data = f.read(end - begin)
        if start > 0:
            cut = data.find(b"\n")
            if cut < 0:
                return b""  # no line begins in this range
            data = data[cut + 1:]
        if not data or data.endswith(b"\n"):
            return data
        tail = [data]
        while True:  # finish the last line, which runs past ``end``
            block = f.read(_TAIL_BLOCK)
            if not block:
                break
            cut = block.find(b"\n")
            if cut >= 0:
                tail.append(block[: cut + 1])
                break
            tail.append(block)
        return b"".join(tail)


def shuffle_buckets(size: int, ranges: int) -> int:
    """How many buckets (and reduce tasks) the values of a ``size``-byte file are spread over: at
    least one per range, and one per ``BUCKET_BYTES``, so that no reducer spills to disk."""
    return max(1, ranges, -(-size // BUCKET_BYTES))
