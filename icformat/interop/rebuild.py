"""The way back: records rebuilt from sample fields, written to one ``.rec`` + ``.idx`` in order."""
from __future__ import annotations

import numbers
import os
from typing import Any

from ..io.paths import PathLike
from ..recordio.header import HEADER
from ..recordio.writer import RecordWriter
from .fields import HeaderFields, fields_from_raw
from .results import Rebuilt, nothing_written

FLUSH_BYTES = 8 << 20
_ID_END = 1 << 64
_LABEL_END = 1 << 127  # whole numbers below this fit a float32  # records framed, then written together, per this many bytes


def fields_from_values(label: Any, id_: Any, id2: Any, raw: bytes | None, where: str) -> HeaderFields:
    """Header fields from a sample's values (``label``: a number, or a list of numbers for ``flag``
    labels; ``raw``: header bytes carried as they were). ValueError saying what is wrong."""
    if raw is not None:
        return fields_from_raw(raw, where)
    if type(label) is int and type(id_) is int and type(id2) is int and 0 <= id_ < _ID_END and 0 <= id2 < _ID_END \
            and -_LABEL_END < label < _LABEL_END:  # the common case (a class id), as the checks below end
        return HeaderFields(None, float(label), id_, id2, None)
    for name, value in (("id", id_), ("id2", id2)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 1 << 64:
            raise ValueError(f"{where}: {name} must be a whole number from 0 to 2^64-1, not {value!r}")
    if isinstance(label, (list, tuple)):
        if not label or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in label):
            raise ValueError(f"{where}: label must be a number or a non-empty list of numbers, not {label!r}")
        return HeaderFields(None, [float(v) for v in label], int(id_), int(id2), None)
    if isinstance(label, bool) or not isinstance(label, numbers.Real):
        raise ValueError(f"{where}: label must be a number or a non-empty list of numbers, not {label!r}")
    try:
        HEADER.pack(0, float(label), 0, 0)
    except (OverflowError, ValueError):
        raise ValueError(f"{where}: label {label!r} does not fit a float32") from None
    return HeaderFields(None, float(label), int(id_), int(id2), None)


class RecSink:
    """Writes rebuilt records (header bytes + image) to ``dest`` with its ``.idx``; atomic: use as
    a context manager (nothing appears when the block fails)."""

    def __init__(self, dest: PathLike, index: bool | PathLike = True):
        self.writer = RecordWriter(dest, index=index or None)
        self.batch = self.writer.batch()
        self.stats = Rebuilt(rec_path=os.fspath(dest))

    def add(self, fields: HeaderFields, image: bytes, idx_key: str | None) -> None:
        self.batch.add(image, fields.id if idx_key is None else idx_key, fields.header())
        self.stats.records += 1
        self.stats.image_bytes += len(image)
        if self.batch.size >= FLUSH_BYTES:
            self.batch.flush()

    def finish(self, inputs, what: str, read: int, skipped: list, notes: list[str]) -> Rebuilt:
        """The result, once every input was read (an error when nothing was written)."""
        self.stats.rows, self.stats.skipped = read, skipped
        self.stats.notes += notes
        if not self.stats.records:
            raise nothing_written(inputs, what, read, skipped)
        return self.stats

    def __enter__(self) -> "RecSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.writer.__exit__(exc_type, exc, tb)
