"""The 24-byte MXNet image-record header (``IRHeader``) and ``pack``/``unpack`` as MXNet does them.

Layout (``mxnet.recordio``, struct ``IfQQ``, little-endian on every machine MXNet runs on):
``uint32 flag | float32 label | uint64 id | uint64 id2``; when ``flag > 0`` it is the number of
float32 labels that follow the header, and ``label`` is 0.
"""
from __future__ import annotations

import numbers
import struct
from typing import NamedTuple, Sequence

import numpy as np

from ..errors import RecordIOError

HEADER = struct.Struct("<IfQQ")
HEADER_SIZE = HEADER.size  # 24


class IRHeader(NamedTuple):
    """Image-record header: ``flag`` (0 or number of labels), ``label``, ``id``, ``id2``."""

    flag: int
    label: float | np.ndarray
    id: int
    id2: int


def header_bytes(label, id_: int, id2: int = 0) -> bytes:
    """The header (and, for several labels, the float32 labels after it) as ``mxnet.recordio.pack``
    writes them: a scalar ``label`` gives ``flag = 0``; a sequence gives ``flag = len(label)``."""
    if isinstance(label, numbers.Number):
        return HEADER.pack(0, float(label), int(id_), int(id2))
    labels = np.asarray(label, dtype="<f4").ravel()
    return HEADER.pack(labels.size, 0.0, int(id_), int(id2)) + labels.tobytes()


def pack(header: IRHeader | Sequence, payload: bytes | memoryview) -> bytes:
    """Prepend ``header`` to ``payload`` exactly as ``mxnet.recordio.pack`` does.

    A scalar label forces ``flag = 0``; a sequence/array label becomes ``flag = len(label)``
    float32 values written after the header, with ``label = 0``.
    """
    _, label, id_, id2 = header
    return header_bytes(label, id_, id2) + bytes(payload)


def unpack(record: bytes | memoryview, offset: int | None = None, path: str | None = None) -> tuple[IRHeader, bytes | memoryview]:
    """Split a record into its header and payload (``mxnet.recordio.unpack``).

    For multi-label records ``header.label`` is a float32 array of ``flag`` labels. The payload is
    a slice of ``record`` (a ``memoryview`` stays a view). Errors name ``path`` and ``offset``.
    """
    if len(record) < HEADER_SIZE:
        raise RecordIOError(f"truncated image header: {len(record)} bytes, need {HEADER_SIZE}", path, offset)
    flag, label, id_, id2 = HEADER.unpack_from(record, 0)
    start = HEADER_SIZE
    if flag > 0:
        start += 4 * flag
        if start > len(record):
            raise RecordIOError(
                f"image header says {flag} labels but the record has only {len(record) - HEADER_SIZE} bytes after the header",
                path,
                offset,
            )
        label = np.frombuffer(record, dtype="<f4", count=flag, offset=HEADER_SIZE).astype(np.float32)
    return IRHeader(flag, label, id_, id2), record[start:]


class ImageRecord(NamedTuple):
    """A record split by :func:`split_record`: its header, its labels and its image bytes."""

    header: IRHeader
    labels: np.ndarray  # float32: the one label, or the ``flag`` labels after the header
    image: bytes | memoryview

    @property
    def id(self) -> int:
        return self.header.id


def split_record(record: bytes | memoryview, offset: int | None = None, path: str | None = None) -> ImageRecord:
    """The one way to read an image record: header, labels (always a float32 array) and image.
    Raises ``RecordIOError`` naming ``path`` and ``offset`` when no image header fits."""
    header, image = unpack(record, offset, path)
    labels = header.label if header.flag > 0 else np.array([header.label], dtype=np.float32)
    return ImageRecord(header, labels, image)


def record_id(record: bytes | memoryview) -> int | None:
    """The header's ``id`` (None when the record is too short for a header); reads nothing else."""
    if len(record) < HEADER_SIZE:
        return None
    return HEADER.unpack_from(record, 0)[2]


def unpack_labels(record: bytes | memoryview, offset: int | None = None) -> tuple[int, np.ndarray]:
    """Read only ``(id, labels)`` of a record, as a float32 array of 1 or ``flag`` labels."""
    split = split_record(memoryview(record), offset)
    return split.header.id, split.labels
