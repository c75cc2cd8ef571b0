"""A record's image header as the fields a sample carries (class id, labels, ids), and back, byte for byte.

The fields are the readable form (``.cls``/``.json`` in WebDataset, ``label``/``labels`` in Parquet);
when they cannot give the header's exact bytes back (a NaN, a ``label`` field beside ``flag``
labels...), the header's bytes go along as ``raw``: nothing is ever lost.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..convert.rec_to_manifest import EXTENSIONS
from ..image.decode import image_format
from ..recordio.header import HEADER, HEADER_SIZE, HeaderColumns, header_bytes

IMAGE_EXTENSIONS = frozenset(EXTENSIONS.values()) | {"jpeg", "tiff", "bin"}
MAX_CLASS = 1 << 24  # whole numbers below this are exact in float32


class HeaderFields(NamedTuple):
    """One record's header as sample fields.

    ``cls``: the class id when the header is the plain single-label one (``flag`` 0, a whole label
    from 0 to 2^24), else None. ``label``: the header's label (``flag`` 0) or the list of ``flag``
    labels after it. ``raw``: the header bytes (labels included) when ``label``, ``id`` and ``id2``
    do not give them back, else None."""

    cls: int | None
    label: float | list[float]
    id: int
    id2: int
    raw: bytes | None

    def header(self) -> bytes:
        """The record's header bytes (and labels after it), exactly as they were."""
        if self.raw is not None:
            return self.raw
        if isinstance(self.label, list):
            return header_bytes(self.label, self.id, self.id2)
        return HEADER.pack(0, self.label, self.id, self.id2)


def header_fields(buffer, start: int, columns: HeaderColumns, i: int) -> HeaderFields:
    """Record ``i``'s header (it must fit: ``columns.fits[i]``), its bytes at ``buffer[start:]``."""
    flag = int(columns.flag[i])
    id_, id2 = int(columns.id[i]), int(columns.id2[i])
    head = buffer[start : start + HEADER_SIZE + 4 * flag]
    if flag == 0:
        value = float(columns.label[i])
        if value.is_integer() and 0 <= value < MAX_CLASS and HEADER.pack(0, float(int(value)), id_, id2) == head:
            return HeaderFields(int(value), value, id_, id2, None)
        fields = HeaderFields(None, value, id_, id2, None)
    else:
        labels = np.frombuffer(head, dtype="<f4", count=flag, offset=HEADER_SIZE).tolist()
        fields = HeaderFields(None, labels, id_, id2, None)
    values = fields.label if flag else (fields.label,)
    if fields.header() != head or any(v != v for v in values):  # a NaN's payload does not survive JSON
        return fields._replace(raw=bytes(head))
    return fields


def image_extension(image) -> str:
    """``jpg``, ``png``... from the image's magic bytes; ``bin`` for anything else."""
    return EXTENSIONS.get(image_format(image), "bin")


def fields_from_raw(raw: bytes, where: str) -> HeaderFields:
    """The fields of header bytes carried as they were (``raw``); ValueError when they are no header."""
    if len(raw) < HEADER_SIZE:
        raise ValueError(f"{where}: the carried header has {len(raw)} bytes, need {HEADER_SIZE}")
    flag, label, id_, id2 = HEADER.unpack_from(raw, 0)
    if len(raw) != HEADER_SIZE + 4 * flag:
        raise ValueError(f"{where}: the carried header says {flag} labels but holds {len(raw) - HEADER_SIZE} bytes of them")
    return HeaderFields(None, label, id_, id2, bytes(raw))
