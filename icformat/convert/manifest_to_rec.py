"""Augmented manifest -> RecordIO ``.rec`` + ``.idx``: images fetched in parallel, bytes kept as stored."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterable, Sequence

import numpy as np

from ..io.paths import PathLike
from ..errors import ManifestError, UsageError
from ..im2rec.plan import output_prefix, shard_bounds
from ..image.decode import image_format
from ..manifest.parse import ManifestRow, check_image_classification_names, count_rows, is_source, parse_attribute_names, read_numbered_rows, source_name
from ..manifest.validator import EMPTY_MANIFEST
from ..io.objects import SETUP_ERRORS, ObjectStore, describe_error
from ..io.parallel import choose_workers, map_ordered, peek
from ..manifest.refs import base_of, resolve_ref
from ..problems import Problem
from ..recordio.header import IRHeader
from ..recordio.writer import RecordWriter, default_index_path
from ..recordio.index import write_index
from ..recordio.header import header_bytes
from ..recordio.writer import WriteBatch
from ..skips import SkipPolicy
from .manifest_to_lst import row_index, row_label


@dataclass
class RecStats:
    """What a conversion wrote: ``records`` and image ``image_bytes`` to ``rec_path``, out of
    ``rows`` rows (of this shard); ``skipped``: a :class:`~icformat.problems.Problem` per row left
    out (``on_error`` skip or warn), with its line."""

    records: int = 0
    image_bytes: int = 0
    rec_path: str | None = None
    rows: int = 0
    skipped: list[Problem] = field(default_factory=list)


def image_header(label: float | np.ndarray, index: int) -> IRHeader:
    """MXNet's image header: a class id in ``label`` (flag 0), or ``flag`` float32 labels after it."""
    if isinstance(label, np.ndarray):
        return IRHeader(len(label), label.astype(np.float32), index, 0)
    return IRHeader(0, float(label), index, 0)


def label_layout(label: float | np.ndarray) -> int:
    """0 for a single class id, else the number of labels."""
    return len(label) if isinstance(label, np.ndarray) else 0


def _skip_code(exc: ManifestError) -> str:
    reason = exc.reason
    if reason.startswith("cannot read") or reason.endswith("is empty"):
        return "unreadable-reference"
    return "not-an-image" if "is not an image" in reason else "bad-label"


class _Fetcher:
    """Reads one row's image and builds its record (runs on worker threads). With ``skipping``, a
    bad row's ``ManifestError`` is returned rather than raised, for the writer to note."""

    def __init__(self, names, path, base, label_format, num_classes, index_attribute, check_images, skipping=False):
        self.names, self.path, self.base = names, path, base
        self.label_format, self.num_classes = label_format, num_classes
        self.index_attribute, self.check_images = index_attribute, check_images
        self.skipping = skipping
        self.store = ObjectStore()
        self._labels: dict = {}  # label value -> parsed label, for the few distinct values most manifests hold

    def __call__(self, item: tuple[int, ManifestRow]) -> tuple[float | np.ndarray, int, bytes] | ManifestError:
        try:
            return self.fetch(item)
        except ManifestError as exc:
            if not self.skipping:
                raise
            return exc

    def fetch(self, item: tuple[int, ManifestRow]) -> tuple[float | np.ndarray, int, bytes]:
        ordinal, row = item
        label = self.label(row)
        index = row_index(row, self.index_attribute, ordinal, self.path)
        try:
            image = self.store.read(resolve_ref(row.ref, self.base))
        except SETUP_ERRORS:
            raise
        except Exception as exc:  # boto3/smart_open errors vary by transport
            raise ManifestError(f"cannot read {row.ref!r}: {describe_error(exc)}", self.path, row.line) from exc
        if not image:
            raise ManifestError(f"{row.ref!r} is empty", self.path, row.line)
        if self.check_images and image_format(image) == "unknown":
            raise ManifestError(f"{row.ref!r} is not an image (first bytes {image[:8].hex(' ')}); expected JPEG or PNG", self.path, row.line)
        return label, index, image

    def label(self, row: ManifestRow) -> float | np.ndarray:
        """:func:`row_label`, remembered for string and integer values (a float is not: ``-0.0``
        equals ``0.0`` but packs differently); a bad label raises every time."""
        value = row.label_value
        if type(value) not in (str, int):
            return row_label(row, self.label_format, self.num_classes, self.path)
        label = self._labels.get(value)
        if label is None:
            label = row_label(row, self.label_format, self.num_classes, self.path)
            if len(self._labels) < _LABELS_KEPT:
                self._labels[value] = label
        return label


_LABELS_KEPT = 4096


def manifest_to_rec(
    manifest: PathLike | BinaryIO | Iterable[dict | ManifestRow],
    dest: PathLike,
    *,
    attribute_names: str | Sequence[str],
    label_format: str | None = None,
    num_classes: int | None = None,
    index_attribute: str | None = "index",
    index: bool | PathLike = True,
    workers: int | None = None,
    check_images: bool = True,
    progress: Callable[[int], object] | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    on_error: str = "raise",
) -> RecStats:
    """Pack the images a manifest references into ``dest`` (local or ``s3://``), in manifest order.

    ``manifest`` is a path, an ``s3://`` URI, a binary file object or an iterable of manifest
    records (dicts, or rows from :func:`~icformat.manifest.read_manifest`; relative references are
    then relative to the working folder). Image bytes are stored as fetched (no re-encoding).
    Single labels go in the header's ``label``; label lists become float32 multi-hot vectors in
    MXNet's multi-label layout (class-id lists need ``num_classes``). The header ``id`` (and
    ``.idx`` key) is ``index_attribute`` when a row has it, else the row's position in the whole
    manifest. ``workers`` threads fetch images (default: 16 for ``s3://`` references, none for
    local files). ``index``: True writes ``<dest>.idx`` beside ``dest``, a path writes it there,
    False writes none. ``progress`` gets the number of records written since its last call (once per batch).

    With ``num_shards`` > 1 only the rows of shard ``shard_index`` (a contiguous slice, as
    ``im2rec --num-shards``) are packed, into ``DEST-0000i-of-0000N.rec`` (+ ``.idx``).
    A bad row (bad line or label, unreadable or non-image reference) stops the run unless
    ``on_error`` is ``"skip"`` or ``"warn"``: then it is left out and listed in ``skipped``.
    Nothing appears at ``dest`` unless the run succeeds; nothing to pack is an error.
    """
    names = parse_attribute_names(attribute_names)
    check_image_classification_names(names)
    policy = SkipPolicy(on_error)
    source = manifest if is_source(manifest) else list(manifest)
    path = source_name(source) if is_source(source) else None
    fetch = _Fetcher(names, path, base_of(source) if is_source(source) else None, label_format, num_classes,
                     index_attribute, check_images, skipping=not policy.raises)
    dest, start, stop = _shard(source, dest, num_shards, shard_index)
    first, rows = peek(read_numbered_rows(source, names, policy, start, stop))
    workers = choose_workers(workers, resolve_ref(first[1].ref, fetch.base) if first else None)
    stats = RecStats(rec_path=os.fspath(dest), skipped=policy.skipped)
    with RecordWriter(dest) as writer:
        keys, offsets = _pack_rows(writer, map_ordered(fetch, rows, workers=workers), path, stats, progress, policy)
        if not stats.records:  # nothing packed is a failure, and leaves no output
            raise ManifestError(_nothing_packed(stats, num_shards), path)
    if index:  # written once the .rec is complete, so that a failed run leaves neither file
        write_index(default_index_path(os.fspath(dest)) if index is True else index, keys, offsets)
    return stats


def _shard(source, dest: PathLike, num_shards: int, shard_index: int) -> tuple[PathLike, int, int | None]:
    """The output and the rows ``[start, stop)`` of shard ``shard_index`` (all rows without shards)."""
    shard_bounds(1, num_shards, shard_index)  # refuses a bad shard count or index before any work
    if num_shards == 1:
        return dest, 0, None
    if hasattr(source, "read"):
        raise UsageError("num_shards needs a manifest path or a list of records, not a file object")
    start, stop = shard_bounds(count_rows(source), num_shards, shard_index)
    return shard_path(dest, num_shards, shard_index), start, stop


def shard_path(dest: PathLike, num_shards: int, shard_index: int) -> str:
    """``out.rec`` -> ``out-00001-of-00004.rec``: the shard naming of ``im2rec --num-shards``."""
    return output_prefix(os.fspath(dest), None, num_shards, shard_index) + ".rec"


def _nothing_packed(stats: RecStats, num_shards: int) -> str:
    if stats.skipped:
        return f"none of the rows could be packed (the first: {stats.skipped[0]}); nothing written"
    if num_shards > 1:
        return "this shard has no rows; nothing packed, nothing written (use fewer num_shards)"
    return EMPTY_MANIFEST


BATCH_BYTES = 1 << 20  # framed records written together, with one gathered write


def _pack_rows(writer: RecordWriter, fetched, path: str | None, stats: RecStats, progress, policy) -> tuple[list[int], list[int]]:
    """Write each fetched row as one image record, framed as it arrives and written a batch at a
    time; returns the ``.idx`` keys and offsets."""
    layout = None
    keys: list[int] = []
    offsets: list[int] = []
    batch = writer.batch()
    for (_, row), fetched_row in fetched:
        stats.rows += 1
        if isinstance(fetched_row, ManifestError):  # a bad row the fetcher met (on_error skip or warn)
            policy.skip(fetched_row, _skip_code(fetched_row))
            continue
        label, key, image = fetched_row
        found = label_layout(label)
        if layout is None:
            layout = found
        elif found != layout:
            policy.skip(ManifestError(_layout_message(found, layout), path, row.line), "label-layout")
            continue
        offsets.append(batch.add(image, key, header_bytes(label, key)))
        keys.append(key)
        stats.image_bytes += len(image)
        if batch.size >= BATCH_BYTES:
            _flush(batch, stats, progress)
    _flush(batch, stats, progress)
    return keys, offsets


def _flush(batch: WriteBatch, stats: RecStats, progress) -> None:
    written = batch.count
    batch.flush()
    stats.records += written
    if progress is not None and written:
        progress(written)


def _layout_message(found: int, expected: int) -> str:
    def text(n: int) -> str:
        return "a single class id" if n == 0 else f"{n} labels"

    return f"label is {text(found)} where earlier lines have {text(expected)}; a .rec needs one label layout"
