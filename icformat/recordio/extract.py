"""``rec extract``: unpack a ``.rec`` into image files plus a ``.lst`` that packs back to the same records
(``icformat im2rec LST OUTDIR --pass-through``, with ``--pack-label`` for multi-label records).

Every record is kept, whatever its label count: an InsightFace face set's header records (labels,
no image: :mod:`.layout`) become lines with an empty file, so the repack gives the same ``.rec``
and ``.idx`` byte for byte. Only what im2rec cannot write comes back different: one label stored
after the header (flag 1; im2rec writes a single label in the header) or a nonzero ``id2``; those
records are counted in ``inexact``."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ..io.paths import PathLike
from ..errors import RecordIOError
from ..io.atomic import atomic_folder
from ..lst.format import format_label
from .header import split_record
from .info import payload_format
from .layout import detect_layout
from .reader import RecordReader

_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "bmp": ".bmp", "tiff": ".tif", "webp": ".webp"}


@dataclass
class ExtractResult:
    records: int
    lst_path: str
    multi_label: bool  # some record has several labels: repack with --pack-label
    damage: str | None = None  # with salvage: what stopped the extraction early
    label_widths: dict = field(default_factory=dict)  # label count -> records
    layout: dict = field(default_factory=lambda: {"kind": "plain"})  # recordio.layout
    inexact: int = 0  # records whose header im2rec cannot write back as it was (flag 1, nonzero id2)


def extract_rec(
    rec: PathLike,
    outdir: str,
    *,
    lst_name: str | None = None,
    salvage: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Write each record's image to ``outdir/images/<id><ext>`` and ``outdir/<name>.lst`` with the
    record's id as index and its label(s). Ids must be distinct (im2rec sets them to the ``.lst``
    index); records without an image header are refused.

    Everything is written to a temporary folder that appears as ``outdir`` only at the end: a failure
    leaves nothing. With ``salvage``, damaged framing (a truncated file, bad magic) ends the
    extraction and keeps the records before it, reported in ``damage``."""
    name = os.fspath(rec)
    stem = lst_name or os.path.splitext(os.path.basename(name.rstrip("/")))[0] + ".lst"
    layout = detect_layout(rec)
    with RecordReader(rec) as reader, atomic_folder(outdir) as tmp:
        writer = _Extractor(name, tmp, stem)
        damage = _copy_records(reader, writer, salvage, progress)
        writer.close()
    widths = {str(k): v for k, v in sorted(writer.widths.items())}
    return ExtractResult(writer.count, os.path.join(outdir, stem), any(k > 1 for k in writer.widths),
                         None if damage is None else str(damage), widths, layout.to_dict(), writer.inexact)


def _copy_records(reader: RecordReader, writer: "_Extractor", salvage: bool, progress) -> RecordIOError | None:
    """Hand every record to ``writer``; with ``salvage`` a framing error ends the copy (returned),
    every record before the damage having been handed over (the reader delivers them first)."""
    batches = reader.iter_batches()
    while True:
        try:
            batch = next(batches, None)
        except RecordIOError as exc:
            if not salvage or exc.offset is None:
                raise
            return exc
        if batch is None:
            return None
        for offset, record in zip(batch.file_offsets.tolist(), batch):
            writer.add(offset, record)
        if progress is not None:
            progress(len(batch))


class _Extractor:
    """Writes images and the .lst lines into the temporary folder."""

    def __init__(self, name: str, folder: str, stem: str):
        self.name, self.folder = name, folder
        os.makedirs(os.path.join(folder, "images"))
        self.lst = open(os.path.join(folder, stem), "w")
        self.seen: set[int] = set()
        self.widths: Counter = Counter()
        self.count = 0
        self.inexact = 0

    def add(self, offset: int, record) -> None:
        try:
            split = split_record(record, offset, self.name)
        except RecordIOError:
            raise RecordIOError("record has no image header; it is not an image record", self.name, offset) from None
        id_, labels, image = split.header.id, split.labels.tolist(), split.image
        if id_ in self.seen:
            raise RecordIOError(f"duplicate image id {id_}: ids must be distinct to extract to a .lst", self.name, offset)
        self.seen.add(id_)
        self.widths[len(labels)] += 1
        self.inexact += split.header.flag == 1 or split.header.id2 != 0
        rel = f"images/{id_}{_EXTENSIONS.get(payload_format(image), '.bin')}"
        with open(os.path.join(self.folder, rel), "wb") as f:
            f.write(image)
        self.lst.write("\t".join([str(id_), *(format_label(v) for v in labels), rel]) + "\n")
        self.count += 1

    def close(self) -> None:
        self.lst.close()
