"""``.idx`` files (``key\\toffset`` per line): read, write, and build one by scanning a ``.rec``."""
from __future__ import annotations

import os
from typing import Any, BinaryIO, Callable, Iterator, Sequence

import numpy as np

from ..io.atomic import open_output
from ..io.paths import PathLike
from ..io.streams import open_input
from ..errors import LineError, RecordIOError, UsageError
from .reader import RecordReader


def read_index(path: PathLike, *, key_type: Callable[[str], Any] | None = None) -> tuple[list, list[int]]:
    """Parse a ``.idx`` file into ``(keys, offsets)`` in file order, as MXNet reads it.

    A line is ``key<TAB>offset`` (what ``MXIndexedRecordIO`` and im2rec write; the key may hold
    spaces) or, without a tab, two fields split by whitespace (what dmlc's C++ reader also takes).
    Lines are stripped and blank ones skipped. ``key_type`` (``int``, ``str``...) makes each key, as
    ``MXIndexedRecordIO(key_type=...)`` does; by default keys are ints when every key is written as
    one (``7``, not ``007`` or ``+7``; blanks around it aside), else the strings as written.
    """
    raw_keys: list[str] = []
    offsets: list[int] = []
    for key, offset in iter_index(path):
        raw_keys.append(key)
        offsets.append(offset)
    return _typed_keys(raw_keys, key_type, os.fspath(path)), offsets


def iter_index(path: PathLike) -> Iterator[tuple[str, int]]:
    """Yield each ``(key text, offset)`` of a ``.idx`` in file order, streaming (see :func:`read_index`)."""
    name = os.fspath(path)
    with open_input(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            line = raw.decode("utf-8", "replace").strip()
            if line:
                yield _split_line(line, name, number)


def _split_line(line: str, name: str, number: int) -> tuple[str, int]:
    """``(key, offset)`` of one stripped ``.idx`` line."""
    fields = line.split("\t") if "\t" in line else line.split()
    if len(fields) != 2:
        raise LineError("expected 'key<TAB>offset'; rebuild it with 'icformat rec index'", name, number)
    try:
        offset = int(fields[1])
    except ValueError:
        raise LineError(f"offset {fields[1]!r} is not an integer; rebuild it with 'icformat rec index'", name, number) from None
    if offset < 0:
        raise LineError(f"negative offset {offset}", name, number)
    return fields[0], offset


def _typed_keys(raw_keys: list[str], key_type: Callable[[str], Any] | None, name: str) -> list:
    if key_type is None:
        try:
            keys = [int(k) for k in raw_keys]
        except ValueError:
            return raw_keys
        return keys if all(str(k) == r.strip() for k, r in zip(keys, raw_keys)) else raw_keys
    keys = []
    for raw in raw_keys:
        try:
            keys.append(key_type(raw))
        except (TypeError, ValueError) as exc:
            kind = getattr(key_type, "__name__", repr(key_type))
            raise UsageError(f"{name}: key {raw!r} is not a valid {kind} ({exc}); pass key_type=str", name) from None
    return keys


def write_index(path: PathLike, keys: Sequence, offsets: Sequence[int]) -> None:
    """Write a ``.idx`` atomically."""
    with open_output(path, "w") as f:
        f.writelines(f"{k}\t{o}\n" for k, o in zip(keys, offsets))


def scan_offsets(rec: PathLike | BinaryIO, *, key: str = "auto") -> tuple[list, list[int]]:
    """Build an index by scanning ``rec``: ``(keys, offsets)``.

    ``key``: ``"position"`` (0..N-1, like MXNet's ``rec2idx.py``), ``"id"`` (the image header id,
    which im2rec sets to the ``.lst`` index, so the index matches im2rec's), or ``"auto"`` (``id``
    when every record has an image header with a distinct id, else ``position``).
    """
    offsets: list[np.ndarray] = []
    ids: list[np.ndarray] | None = [] if key in ("auto", "id") else None
    with RecordReader(rec) as reader:
        for batch in reader.iter_batches():
            offsets.append(batch.file_offsets)
            if ids is not None:
                columns = batch.headers(check=False)
                if columns.has_header.all():  # the id is there (as record_id reads it)
                    ids.append(columns.id)
                elif key == "id":
                    first = int(batch.file_offsets[np.argmin(columns.has_header)])
                    raise RecordIOError("record has no image header, so it has no id; use key='position'", _name(rec), first)
                else:
                    ids = None
    flat = np.concatenate(offsets).tolist() if offsets else []
    if ids is not None:
        all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.uint64)
        if key == "id" or np.unique(all_ids).size == all_ids.size:
            return all_ids.tolist(), flat
    return list(range(len(flat))), flat


def _name(src) -> str | None:
    return getattr(src, "name", None) if hasattr(src, "read") else os.fspath(src)

