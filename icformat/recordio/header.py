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
        raise _header_error(len(record), 0, path, offset)
    flag, label, id_, id2 = HEADER.unpack_from(record, 0)
    start = HEADER_SIZE
    if flag > 0:
        start += 4 * flag
        if start > len(record):
            raise _header_error(len(record), flag, path, offset)
        label = np.frombuffer(record, dtype="<f4", count=flag, offset=HEADER_SIZE).astype(np.float32)
    return IRHeader(flag, label, id_, id2), record[start:]


def _header_error(length: int, flag: int, path: str | None, offset: int | None) -> RecordIOError:
    """Why a record of ``length`` bytes holds no image header (too short, or ``flag`` labels do not fit)."""
    if length < HEADER_SIZE:
        return RecordIOError(f"truncated image header: {length} bytes, need {HEADER_SIZE}", path, offset)
    return RecordIOError(
        f"image header says {flag} labels but the record has only {length - HEADER_SIZE} bytes after the header", path, offset
    )


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


_HEADER_DTYPE = np.dtype([("flag", "<u4"), ("label", "<f4"), ("id", "<u8"), ("id2", "<u8")])


class HeaderColumns(NamedTuple):
    """The image headers of many records at once (:func:`unpack_columns`); row ``i`` is record ``i``.

    A record too short for the header (``has_header`` False) has a row of zeros; one whose ``flag``
    labels do not fit (``fits`` False) keeps its header fields, its image span being zero."""

    flag: np.ndarray  # uint32: 0, or the number of float32 labels after the header
    label: np.ndarray  # float32: the header's label field (the label when flag is 0)
    id: np.ndarray  # uint64
    id2: np.ndarray  # uint64
    image_offsets: np.ndarray  # int64: where each image starts in the buffer
    image_lengths: np.ndarray  # int64
    has_header: np.ndarray  # bool: the record holds the 24 header bytes
    fits: np.ndarray  # bool: :func:`split_record` succeeds on the record

    def check(self, lengths: np.ndarray, file_offsets: np.ndarray | None = None, path: str | None = None) -> None:
        """Raise what :func:`split_record` raises on the first record it fails on (else return)."""
        if not self.fits.all():
            raise self.error(int(np.argmin(self.fits)), lengths, file_offsets, path)

    def take(self, rows: np.ndarray) -> "HeaderColumns":
        """The columns of records ``rows`` only."""
        return HeaderColumns(*(column[rows] for column in self))

    def error(self, i: int, lengths: np.ndarray, file_offsets: np.ndarray | None = None, path: str | None = None) -> RecordIOError:
        """The ``RecordIOError`` :func:`split_record` raises on record ``i`` (one that does not fit)."""
        offset = None if file_offsets is None else int(file_offsets[i])
        return _header_error(int(lengths[i]), int(self.flag[i]), path, offset)

    def labels_of(self, buffer, offsets: np.ndarray, i: int) -> np.ndarray:
        """Record ``i``'s float32 labels, as ``split_record(...).labels`` gives them (it must fit)."""
        flag = int(self.flag[i])
        if flag == 0:
            return self.label[i : i + 1].copy()
        return np.frombuffer(buffer, dtype="<f4", count=flag, offset=int(offsets[i]) + HEADER_SIZE).astype(np.float32)


def unpack_columns(buffer, offsets: np.ndarray, lengths: np.ndarray) -> HeaderColumns:
    """Decode the image header of every record ``buffer[offsets[i] : offsets[i] + lengths[i]]`` at
    once (the vectorised :func:`split_record`; a property test holds the two equal). Raises nothing:
    see :meth:`HeaderColumns.check`."""
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    size = memoryview(buffer).nbytes
    has_header = lengths >= HEADER_SIZE
    rows = np.zeros(offsets.size, dtype=_HEADER_DTYPE)
    if size >= HEADER_SIZE and has_header.any():
        # every byte position as the start of a 24-byte header; picking rows copies only those headers
        starts = np.ndarray((size - HEADER_SIZE + 1,), dtype=_HEADER_DTYPE, buffer=buffer, strides=(1,))
        rows[has_header] = starts[offsets[has_header]]
        del starts
    flag = rows["flag"]
    labels_bytes = flag.astype(np.int64) * 4
    fits = has_header & (HEADER_SIZE + labels_bytes <= lengths)
    image_offsets = np.where(fits, offsets + HEADER_SIZE + labels_bytes, 0)
    image_lengths = np.where(fits, lengths - HEADER_SIZE - labels_bytes, 0)
    return HeaderColumns(flag, rows["label"], rows["id"], rows["id2"], image_offsets, image_lengths, has_header, fits)


def label_rows(buffer, offsets: np.ndarray, columns: HeaderColumns, width: int) -> np.ndarray:
    """The float32 labels of records that all have ``width`` labels, as a ``(n, width)`` array
    (``split_record(...).labels`` row by row): the header label when ``flag`` is 0 (``width`` 1),
    else the ``flag`` labels after the header. Raises ValueError when a record's count differs."""
    flag = columns.flag
    counts = np.where(flag == 0, 1, flag)
    if not (columns.fits.all() and (counts == width).all()):
        raise ValueError(f"records do not all have {width} label(s)")
    out = np.empty((flag.size, width), dtype=np.float32)
    single = flag == 0
    out[single, 0] = columns.label[single]
    multi = ~single
    if multi.any():
        size = memoryview(buffer).nbytes
        span = 4 * width
        starts = np.ndarray((size - span + 1,), dtype=np.dtype(("<f4", (width,))), buffer=buffer, strides=(1,))
        out[multi] = starts[np.asarray(offsets, dtype=np.int64)[multi] + HEADER_SIZE]
        del starts
    return out
