"""Summaries of a ``.rec``: per-record listing (``rec ls``) and whole-file statistics (``rec info``).

Named ``info``, not ``inspect``, which would shadow the standard library's module."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from ..io.paths import PathLike
from ..io.streams import exists
from ..errors import RecordIOError
from . import header
from .index import read_index
from .layout import detect_layout
from .reader import RecordReader
from .writer import default_index_path


@dataclass
class RecordSummary:
    """One record as ``rec ls`` shows it."""

    position: int
    key: object
    offset: int
    id: int | None
    labels: list[float] | None
    payload_bytes: int
    format: str


def payload_format(image: bytes | memoryview) -> str:
    """Image format of a payload from its magic bytes (jpeg, png, ...), ``empty`` or ``unknown``."""
    from ..image.decode import image_format

    return image_format(image) if len(image) else "empty"


def split_record(record: bytes | memoryview) -> tuple[int | None, list[float] | None, memoryview]:
    """``(id, labels, image)`` of a record through the one header codec; ``(None, None, record)``
    when it cannot hold an image header (for listings, which show such records as they are)."""
    view = memoryview(record)
    try:
        split = header.split_record(view)
    except RecordIOError:
        return None, None, view
    return split.header.id, split.labels.tolist(), split.image


def _keys_for(path) -> dict[int, object]:
    idx = default_index_path(os.fspath(path)) if not hasattr(path, "read") else None
    if idx and exists(idx):
        keys, offsets = read_index(idx)
        return dict(zip(offsets, keys))
    return {}


def iter_summaries(path: PathLike) -> Iterator[RecordSummary]:
    """Describe each record: key (from the ``.idx`` when present, else position), offset, labels, size, format."""
    keys = _keys_for(path)
    with RecordReader(path) as reader:
        for position, (offset, record) in enumerate(reader.iter_with_offsets(copy=False)):
            id_, labels, image = split_record(record)
            yield RecordSummary(position, keys.get(offset, position), offset, id_, labels, len(image), payload_format(image))


@dataclass
class RecInfo:
    """Statistics of a whole ``.rec`` (``rec info``)."""

    path: str
    records: int = 0
    file_bytes: int = 0
    payload_bytes: int = 0
    label_kind: str = "none"  # single, multi, mixed or none
    label_widths: dict = field(default_factory=dict)
    label_histogram: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    sizes: dict | None = None  # with decode: the 10 most common "HxW" -> count
    distinct_sizes: int | None = None
    min_hw: list | None = None  # smallest height and smallest width seen
    max_hw: list | None = None
    modes: dict | None = None  # with decode: Pillow mode (RGB, L, CMYK, RGBA, I;16...) -> count
    undecodable: int | None = None
    has_index: bool = False
    layout: dict = field(default_factory=lambda: {"kind": "plain"})  # recordio.layout; labels and formats count image records only


def rec_info(path: PathLike, *, decode: bool = False, progress: Callable[[int], None] | None = None) -> RecInfo:
    """Count records and bytes, label kinds and histogram, payload formats; ``decode`` adds image
    sizes and channel counts (and counts undecodable images). The layout (:mod:`.layout`) is named;
    in an InsightFace face set the header records count as records, the rest as image records only."""
    from ..image.verdict import judge_image

    info = RecInfo(os.fspath(path))
    widths: Counter = Counter()
    histogram: Counter = Counter()
    formats: Counter = Counter()
    sizes: Counter = Counter()
    modes: Counter = Counter()
    bad = 0
    end = 0
    layout = detect_layout(path)
    info.layout = layout.to_dict()
    with RecordReader(path) as reader:
        for batch in reader.iter_batches():
            info.records += len(batch)
            info.payload_bytes += batch.nbytes
            last = int(batch.lengths[-1])
            end = int(batch.file_offsets[-1]) + 8 + last + (-last & 3)
            columns = batch.headers(check=False)
            images = ~layout.is_header_offset(batch.file_offsets)
            slow = _count_labels(batch, columns, widths, histogram, images)
            for i in slow.tolist():  # non-finite labels: counted one by one, as they always were
                _, labels, _ = split_record(batch[i])
                histogram[_label_key(labels[0])] += 1
            starts = np.where(columns.fits, columns.image_offsets, batch.offsets)[images]
            lengths = np.where(columns.fits, columns.image_lengths, batch.lengths)[images]
            _count_formats(batch.buffer, starts, lengths, formats)
            if decode:
                view = batch.buffer
                for start, length in zip(starts.tolist(), lengths.tolist()):
                    verdict = judge_image(view[start : start + length])
                    if not verdict.ok:
                        bad += 1
                    else:
                        sizes[f"{verdict.info.height}x{verdict.info.width}"] += 1
                        modes[verdict.info.mode] += 1
            if progress is not None:
                progress(len(batch))
    info.file_bytes = _size(path, end)
    kinds = {"single" if w == 1 else "none" if w == "none" else "multi" for w in widths}
    info.label_kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "none")
    info.label_widths = {str(k): v for k, v in sorted(widths.items(), key=lambda kv: str(kv[0]))}
    info.label_histogram = {str(k): v for k, v in sorted(histogram.items())}
    info.formats = dict(formats.most_common())
    info.has_index = exists(default_index_path(os.fspath(path)))
    if decode:
        info.sizes = dict(sizes.most_common(10))
        info.distinct_sizes = len(sizes)
        if sizes:
            hw = [tuple(map(int, k.split("x"))) for k in sizes]
            info.min_hw = [min(h for h, _ in hw), min(w for _, w in hw)]
            info.max_hw = [max(h for h, _ in hw), max(w for _, w in hw)]
        info.modes = dict(modes.most_common())
        info.undecodable = bad
    return info


def _count_labels(batch, columns: header.HeaderColumns, widths: Counter, histogram: Counter, images: np.ndarray) -> np.ndarray:
    """Add the label widths and histogram of a batch's ``images`` (a mask of its records; what
    counting each one's ``split_record`` labels gives); returns the records with a non-finite single
    label, left to the caller."""
    fits = columns.fits & images
    headerless = int(np.count_nonzero(images & ~columns.fits))
    if headerless:
        widths["none"] += headerless
    flag = columns.flag
    one = np.zeros(flag.size, dtype=np.float32)  # the label of records with one label
    single = fits & (flag == 0)
    one[single] = columns.label[single]
    for width in np.unique(flag[fits & (flag > 0)]).tolist():
        rows = np.flatnonzero(fits & (flag == width))
        labels = header.label_rows(batch.buffer, batch.offsets[rows], columns.take(rows), width)
        if width == 1:  # one label after the header: counted as a single label
            single[rows] = True
            one[rows] = labels[:, 0]
        else:
            widths[width] += rows.size
            for k, count in enumerate(np.count_nonzero(labels, axis=0).tolist()):
                if count:
                    histogram[k] += count
    if single.any():
        widths[1] += int(np.count_nonzero(single))
        finite = single & np.isfinite(one)
        values, counts = np.unique(one[finite], return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist()):
            histogram[_label_key(value)] += count
    return np.flatnonzero(single & ~np.isfinite(one))


_FORMAT_BYTES = 12  # image_format reads no further


def _count_formats(buffer, starts: np.ndarray, lengths: np.ndarray, formats: Counter) -> None:
    """Add each image's :func:`payload_format` to ``formats``, in order of first appearance, naming
    each distinct (first bytes, length up to 12) once: the format depends on nothing else."""
    if not starts.size:
        return
    data = np.frombuffer(buffer, dtype=np.uint8)
    span = np.arange(_FORMAT_BYTES)
    keys = np.zeros((starts.size, _FORMAT_BYTES + 1), dtype=np.uint8)
    inside = span < np.minimum(lengths, _FORMAT_BYTES)[:, None]
    if data.size:
        keys[:, :_FORMAT_BYTES] = np.where(inside, data[np.minimum(starts[:, None] + span, data.size - 1)], 0)
    keys[:, _FORMAT_BYTES] = np.minimum(lengths, _FORMAT_BYTES)
    del data
    rows = np.ascontiguousarray(keys).view(f"V{_FORMAT_BYTES + 1}").ravel()
    _, first, counts = np.unique(rows, return_index=True, return_counts=True)
    for at, count in sorted(zip(first.tolist(), counts.tolist())):
        size = int(keys[at, _FORMAT_BYTES])
        formats[payload_format(keys[at, :size].tobytes())] += count


def _label_key(value: float):
    return int(value) if float(value).is_integer() else value


def _size(path, fallback: int) -> int:
    """The file's or object's size; for a stream, where its last record ends."""
    from ..io.streams import size

    known = size(path)
    return fallback if known is None else known
