"""``rec extract``: unpack a ``.rec`` into image files plus a ``.lst`` that packs back to the same records
(``icformat im2rec LST OUTDIR --pass-through``, with ``--pack-label`` for multi-label records)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from .. import streams
from ..errors import RecordIOError
from .inspect import payload_format, split_record
from .reader import RecordReader

_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "bmp": ".bmp", "tiff": ".tif", "webp": ".webp"}


@dataclass
class ExtractResult:
    records: int
    lst_path: str
    multi_label: bool


def extract_rec(
    rec: streams.PathLike,
    outdir: str,
    *,
    lst_name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Write each record's image to ``outdir/images/<id><ext>`` and ``outdir/<name>.lst`` with the
    record's id as index and its label(s). Ids must be distinct (im2rec sets them to the ``.lst``
    index); records without an image header are refused."""
    name = os.fspath(rec)
    stem = lst_name or os.path.splitext(os.path.basename(name.rstrip("/")))[0] + ".lst"
    lst_path = os.path.join(outdir, stem)
    os.makedirs(os.path.join(outdir, "images"), exist_ok=True)
    seen: set[int] = set()
    width = None
    count = 0
    with streams.open_output(lst_path, "w") as lst, RecordReader(rec) as reader:
        for offset, record in reader.iter_with_offsets(copy=False):
            id_, labels, image = split_record(record)
            if id_ is None:
                raise RecordIOError("record has no image header; it is not an image record", name, offset)
            if id_ in seen:
                raise RecordIOError(f"duplicate image id {id_}: ids must be distinct to extract to a .lst", name, offset)
            seen.add(id_)
            width = len(labels) if width is None else width
            if len(labels) != width:
                raise RecordIOError(f"record has {len(labels)} labels where earlier ones have {width}", name, offset)
            rel = f"images/{id_}{_EXTENSIONS.get(payload_format(image), '.bin')}"
            with streams.open_output(os.path.join(outdir, rel)) as f:
                f.write(image)
            lst.write("\t".join([str(id_), *(_fmt(v) for v in labels), rel]) + "\n")
            count += 1
            if progress is not None:
                progress(1)
    return ExtractResult(count, lst_path, bool(width and width > 1))


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
