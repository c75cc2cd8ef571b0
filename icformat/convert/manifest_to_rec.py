"""Augmented manifest -> RecordIO ``.rec`` + ``.idx``: images fetched in parallel, bytes kept as stored."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .. import streams
from ..errors import ManifestError
from ..im2rec.plan import output_prefix, shard_bounds
from ..image.decode import image_format
from ..manifest.parse import ManifestRow, check_image_classification_names, parse_attribute_names, read_manifest, source_name
from ..manifest.rows import RowIndex, index_rows, read_manifest_rows
from ..manifest.refs import ObjectStore, base_of, choose_workers, describe_error, map_ordered, peek, resolve_ref
from ..recordio import IRHeader, RecordWriter, default_index_path, pack, write_index
from .manifest_to_lst import row_index, row_label


@dataclass
class RecStats:
    """What a conversion wrote: ``records`` and image ``image_bytes``."""

    records: int = 0
    image_bytes: int = 0
    rec_path: str | None = None


def image_header(label: float | np.ndarray, index: int) -> IRHeader:
    """MXNet's image header: a class id in ``label`` (flag 0), or ``flag`` float32 labels after it."""
    if isinstance(label, np.ndarray):
        return IRHeader(len(label), label.astype(np.float32), index, 0)
    return IRHeader(0, float(label), index, 0)


def label_layout(label: float | np.ndarray) -> int:
    """0 for a single class id, else the number of labels."""
    return len(label) if isinstance(label, np.ndarray) else 0


class _Fetcher:
    """Reads one row's image and builds its record (runs on worker threads)."""

    def __init__(self, names, path, base, label_format, num_classes, index_attribute, check_images):
        self.names, self.path, self.base = names, path, base
        self.label_format, self.num_classes = label_format, num_classes
        self.index_attribute, self.check_images = index_attribute, check_images
        self.store = ObjectStore()

    def __call__(self, item: tuple[int, ManifestRow]) -> tuple[float | np.ndarray, int, bytes]:
        ordinal, row = item
        label = row_label(row, self.label_format, self.num_classes, self.path)
        index = row_index(row, self.index_attribute, ordinal, self.path)
        try:
            image = self.store.read(resolve_ref(row.ref, self.base))
        except Exception as exc:  # boto3/smart_open errors vary by transport
            raise ManifestError(f"cannot read {row.ref!r}: {describe_error(exc)}", self.path, row.line) from exc
        if not image:
            raise ManifestError(f"{row.ref!r} is empty", self.path, row.line)
        if self.check_images and image_format(image) == "unknown":
            raise ManifestError(f"{row.ref!r} is not an image (first bytes {image[:8].hex(' ')}); expected JPEG or PNG", self.path, row.line)
        return label, index, image


def manifest_to_rec(
    manifest: streams.PathLike,
    dest: streams.PathLike,
    *,
    attribute_names: str | Sequence[str],
    label_format: str | None = None,
    num_classes: int | None = None,
    index_attribute: str | None = "index",
    index: bool | streams.PathLike = True,
    workers: int | None = None,
    check_images: bool = True,
    progress: Callable[[int], object] | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    row_index: RowIndex | None = None,
) -> RecStats:
    """Pack the images a manifest references into ``dest`` (local or ``s3://``), in manifest order.

    Image bytes are stored as fetched (no re-encoding). Single labels go in the header's ``label``;
    label lists become float32 multi-hot vectors in MXNet's multi-label layout (class-id lists need
    ``num_classes``). The header ``id`` (and ``.idx`` key) is ``index_attribute`` when a row has
    it, else the row's position. ``workers`` threads fetch images (default: 16 for ``s3://``
    references, none for local files). ``index``: True writes ``<dest>.idx`` beside ``dest``, a
    path writes it there, False writes none. Nothing appears at ``dest`` unless every row succeeds.

    With ``num_shards`` > 1 only the rows of shard ``shard_index`` (a contiguous slice, as
    ``im2rec --num-shards``) are packed, into ``DEST-0000i-of-0000N.rec`` (+ ``.idx``); ``row_index``
    (:func:`~icformat.manifest.rows.index_rows`, made once for all shards) lets it seek to its rows.
    """
    names = parse_attribute_names(attribute_names)
    check_image_classification_names(names)
    fetch = _Fetcher(names, source_name(manifest), base_of(manifest), label_format, num_classes, index_attribute, check_images)
    if num_shards > 1:
        dest = shard_path(dest, num_shards, shard_index)
        row_index = row_index or index_rows(manifest)
        start, stop = shard_bounds(row_index.rows, num_shards, shard_index)
        first, rows = peek(read_manifest_rows(manifest, names, start, stop, row_index))
    else:
        shard_bounds(1, num_shards, shard_index)  # refuses a bad shard index
        first, rows = peek(enumerate(read_manifest(manifest, names)))
    workers = choose_workers(workers, resolve_ref(first[1].ref, fetch.base) if first else None)
    stats = RecStats()
    with RecordWriter(dest) as writer:
        keys, offsets = _pack_rows(writer, map_ordered(fetch, rows, workers=workers), fetch.path, stats, progress)
    if index:  # written once the .rec is complete, so that a failed run leaves neither file
        write_index(default_index_path(os.fspath(dest)) if index is True else index, keys, offsets)
    stats.rec_path = os.fspath(dest)
    return stats


def shard_path(dest: streams.PathLike, num_shards: int, shard_index: int) -> str:
    """``out.rec`` -> ``out-00001-of-00004.rec``: the shard naming of ``im2rec --num-shards``."""
    return output_prefix(os.fspath(dest), None, num_shards, shard_index) + ".rec"


def _pack_rows(writer: RecordWriter, fetched, path: str | None, stats: RecStats, progress) -> tuple[list[int], list[int]]:
    """Write each fetched row as one image record; returns the ``.idx`` keys and offsets."""
    layout = None
    keys, offsets = [], []
    for (_, row), (label, key, image) in fetched:
        if layout is None:
            layout = label_layout(label)
        elif label_layout(label) != layout:
            raise ManifestError(_layout_message(label_layout(label), layout), path, row.line)
        offsets.append(writer.write(pack(image_header(label, key), image)))
        keys.append(key)
        stats.records += 1
        stats.image_bytes += len(image)
        if progress is not None:
            progress(1)
    return keys, offsets


def _layout_message(found: int, expected: int) -> str:
    def text(n: int) -> str:
        return "a single class id" if n == 0 else f"{n} labels"

    return f"label is {text(found)} where earlier lines have {text(expected)}; a .rec needs one label layout"
