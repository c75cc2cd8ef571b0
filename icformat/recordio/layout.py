"""Which records of a ``.rec`` are images and which are headers: the one place that recognises a layout.

``plain``: every record is an image record (im2rec, SageMaker, ImageNet and CIFAR ``.rec`` files).

``insightface``: InsightFace's face sets (MS1M, Glint360K...), written by its ``face2rec2.py`` and
recognition tools and read by its ``MXFaceDataset``. The record with key 0 is a header: flag >= 2, no
image, labels ``(a, b)``. The image records are keys ``1 .. a-1`` (each labelled with its identity);
keys ``a .. b-1`` are identity header records, each without an image, labelled with the range
``[start, end)`` of that identity's image keys. Readers read key 0, then only the image keys.

Keys are those of the ``.idx``. Without an ``.idx`` the layout is recognised only when the header is
the file's first record (its id, 0, is then its key, as ``rec index`` would write it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import IcformatError, RecordIOError
from ..io.paths import PathLike, is_fifo, is_uri, local_path
from ..io.streams import exists, open_input
from .header import split_record
from .index import read_index
from .random_access import READ_AHEAD, IndexedRecordFile
from .writer import default_index_path

PLAIN = "plain"
INSIGHTFACE = "insightface"


@dataclass(frozen=True)
class RecLayout:
    """A ``.rec``'s layout: ``kind`` (``plain`` or ``insightface``); for InsightFace the announced key
    ranges of the ``images`` and of the ``identities`` (header records), and the byte offsets of the
    header records present (key 0 and the identity records), sorted."""

    kind: str = PLAIN
    images: range | None = None
    identities: range | None = None
    header_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False)

    @property
    def is_plain(self) -> bool:
        return self.kind == PLAIN

    @property
    def header_records(self) -> int:
        """How many header records (key 0 and identity records) the file holds."""
        return int(self.header_offsets.size)

    def is_header_offset(self, offsets: np.ndarray) -> np.ndarray:
        """Which records (by the byte offset of their frame) are header records, not images."""
        offsets = np.asarray(offsets, dtype=np.int64)
        if not self.header_offsets.size:
            return np.zeros(offsets.shape, dtype=bool)
        at = np.minimum(np.searchsorted(self.header_offsets, offsets), self.header_offsets.size - 1)
        return self.header_offsets[at] == offsets

    def image_positions(self, keys) -> np.ndarray:
        """Positions (in ``keys``' order) of the image records: all of them for a plain file."""
        if self.is_plain:
            return np.arange(len(keys))
        numeric = _int_keys(keys)
        return np.flatnonzero((numeric >= self.images.start) & (numeric < self.images.stop))

    def missing_image_keys(self, keys) -> np.ndarray:
        """The announced image keys that ``keys`` (an ``.idx``'s) lacks, sorted; none for a plain file."""
        if self.is_plain:
            return np.zeros(0, np.int64)
        wanted = np.arange(self.images.start, self.images.stop, dtype=np.int64)
        return np.setdiff1d(wanted, _int_keys(keys))

    def describe(self) -> str:
        """One line for people: ``plain`` or what the InsightFace header announces."""
        return describe_layout(self.to_dict())

    def to_dict(self) -> dict:
        if self.is_plain:
            return {"kind": self.kind}
        return {"kind": self.kind, "images": len(self.images), "identities": len(self.identities),
                "image_keys": [self.images.start, self.images.stop], "identity_keys": [self.identities.start, self.identities.stop],
                "header_records": self.header_records}


PLAIN_LAYOUT = RecLayout()


def describe_layout(layout: dict) -> str:
    """:meth:`RecLayout.to_dict`'s dictionary (as results carry it) in words."""
    if layout.get("kind") != INSIGHTFACE:
        return "plain (every record an image record)"
    (first, stop), (id_first, id_stop) = layout["image_keys"], layout["identity_keys"]
    return (f"InsightFace face set: {layout['images']:,} images (keys {first}-{stop - 1}), {layout['identities']:,} identities "
            f"(header records, keys {id_first}-{id_stop - 1}, and the header at key 0)")


def announced_layout(record) -> RecLayout | None:
    """The InsightFace layout that ``record`` (the one with key 0) announces, without header offsets;
    None when it is no such header (an image, labels that are no key range)."""
    try:
        split = split_record(memoryview(record))
    except RecordIOError:
        return None
    labels = split.labels
    if split.header.flag < 2 or len(split.image) or not np.isfinite(labels[:2]).all():
        return None
    first, end = float(labels[0]), float(labels[1])
    if not (first.is_integer() and end.is_integer() and 1 <= first <= end):
        return None
    return RecLayout(INSIGHTFACE, range(1, int(first)), range(int(first), int(end)))


def layout_of_index(rec: PathLike, keys, offsets, records: IndexedRecordFile | None = None) -> RecLayout:
    """The layout of ``rec`` given its index (``keys`` and ``offsets`` in ``.idx`` order); reads only
    the record with key 0 (through ``records`` when given)."""
    numeric = _int_keys(keys)
    zero = np.flatnonzero(numeric == 0)
    if not zero.size:
        return PLAIN_LAYOUT
    all_offsets = np.asarray(offsets, dtype=np.int64)
    offset = int(all_offsets[int(zero[0])])
    if records is not None:
        record = records.read_at(offset)
    else:
        later = all_offsets[all_offsets > offset]
        record = _record_at(rec, offset, int(later.min()) if later.size else None)
    layout = announced_layout(record)
    if layout is None:
        return PLAIN_LAYOUT
    ids = layout.identities
    header = (numeric == 0) | ((numeric >= ids.start) & (numeric < ids.stop))
    header_offsets = np.sort(all_offsets[header])
    return RecLayout(layout.kind, layout.images, layout.identities, header_offsets)


def layout_of(records: IndexedRecordFile) -> RecLayout:
    """The layout of an open :class:`~icformat.recordio.random_access.IndexedRecordFile`."""
    return layout_of_index(records.path, records.keys, records.offsets, records)


def detect_layout(rec: PathLike, idx: PathLike | None = None, *, index: tuple | None = None) -> RecLayout:
    """The layout of ``rec``: from its ``.idx`` (``idx``, else the one beside it; ``index``: its
    ``(keys, offsets)`` already read). Without an ``.idx``, from the file's first record; a stream
    (a FIFO) is read once by its user, so it is taken as plain, and so is a file whose ``.idx`` or
    key-0 record cannot be read (``rec verify`` says why)."""
    name = str(rec)
    if not is_uri(name) and is_fifo(local_path(name)):
        return PLAIN_LAYOUT
    try:
        if index is None:
            idx = idx if idx is not None else default_index_path(name)
            if exists(idx):
                if not _may_announce(name, idx):
                    return PLAIN_LAYOUT
                index = read_index(idx)
        if index is not None:
            return layout_of_index(name, *index)
    except IcformatError:
        return PLAIN_LAYOUT
    from .reader import RecordReader

    with RecordReader(rec) as reader:
        first = next(iter(reader), None)
    if first is None or announced_layout(first) is None or split_record(memoryview(first)).id != 0:
        return PLAIN_LAYOUT
    from .index import scan_offsets

    return layout_of_index(name, *scan_offsets(rec, key="auto"))


# an .idx line whose key int() may read as 0 (signs, zeros, underscores, any non-ASCII byte: Unicode
# digits), then its offset; a superset of the lines read_index gives key 0, found without parsing all
# (line starts found by a literal search first: five times faster than a multi-line anchor)
_LINE_START = re.compile(rb"\n[ \t\x0b\x0c\r+\-_0\x80-\xff]")
_MAYBE_ZERO_KEY = re.compile(rb"[ \t\x0b\x0c\r]*(?:[-+_0]|[\x80-\xff])+[ \t\x0b\x0c\r]+(\S+)")
_MAX_CANDIDATES = 16


def _may_announce(rec: str, idx) -> bool:
    """Whether some ``.idx`` line that may hold key 0 points at an InsightFace header: the one
    search a plain file costs, instead of parsing its whole index (a property test holds it to what
    :func:`layout_of_index` finds)."""
    with open_input(idx, "rb") as f:
        data = b"\n" + f.read()
    candidates = (_MAYBE_ZERO_KEY.match(data, start.start() + 1) for start in _LINE_START.finditer(data))
    for n, match in enumerate(m for m in candidates if m is not None):
        if n == _MAX_CANDIDATES:
            return True  # an odd index: let the full read decide
        try:
            if announced_layout(_record_at(rec, int(match.group(1)))) is not None:
                return True
        except (ValueError, IcformatError):
            continue
    return False


def _record_at(rec, offset: int, next_offset: int | None = None) -> bytes:
    """The payload of the record at ``offset`` (``next_offset`` bounds a ranged read of an s3://
    object; without it one read-ahead's worth is asked first)."""
    end = next_offset if next_offset is not None else offset + READ_AHEAD
    with IndexedRecordFile(rec, offsets=[offset, end]) as single:
        return bytes(single.read_at(offset))


def _int_keys(keys) -> np.ndarray:
    """Integer keys as an int64 array; -1 for every key that is not an integer (or beyond int64)."""
    try:
        return np.asarray(keys, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        return np.asarray([k if isinstance(k, int) and -1 <= k < 1 << 63 else -1 for k in keys], dtype=np.int64)
