"""Where records come from, seen from both sides of the process boundary.

The main process only decides *which* records a batch holds; what crosses to a worker is small:
byte offsets into a ``.rec`` (each worker maps the file itself, or reads an ``s3://`` object by
ranged requests; the index is read or built once, in the main process), file paths and labels from a
``.lst``, or, for a stream, the position of each record in a shared-memory input slab the main
process filled. Record bytes never travel through a pipe.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np

from ..io.paths import PathLike, is_fifo, is_uri, local_path
from ..errors import BadRecordError, FormatError, IcformatError, RecordIOError
from ..io.objects import read_bytes
from ..io.paths import join_uri
from ..recordio.layout import RecLayout, layout_of
from ..recordio.random_access import IndexedRecordFile
from ..recordio.shards import list_rec_shards
from ..recordio.header import split_record


class SourceSpec(NamedTuple):
    """What a worker needs to open a source: ``kind`` is ``rec``, ``lst`` or ``stream``; a set of
    ``.rec`` shards lists ``(path, base offset)`` per shard in ``shards``."""

    kind: str
    path: str | None = None
    index_path: str | None = None
    shards: tuple = ()


class _RecPart(NamedTuple):
    path: str
    index_path: str | None
    offsets: np.ndarray
    spans: np.ndarray
    label_width: int
    extent: int  # bytes this part takes in the source's offset space
    layout: RecLayout


def _read_part(path: str, idx) -> _RecPart:
    """Offsets, read-ahead spans and label width of the image records of one ``.rec`` (an
    InsightFace face set's header records left out: see :mod:`~icformat.recordio.layout`)."""
    with IndexedRecordFile(path, idx) as records:
        index_path = records.index_path
        all_offsets = np.asarray(records.offsets, dtype=np.int64)
        if not len(records):
            raise RecordIOError("no records: nothing to load", path)
        layout = layout_of(records)
        images = layout.image_positions(records.keys)
        if not images.size:
            raise RecordIOError(f"no image records ({layout.describe()}): nothing to load", path)
        header = _first_header(records, images)
        size = records.size
    offsets = all_offsets[images]
    # bytes up to the next record (a read-ahead hint for the workers; exact lengths are in the file)
    ordered = np.sort(all_offsets)
    ends = np.append(ordered[1:], size if size is not None else ordered[-1] + (1 << 20))
    spans = np.maximum(ends[np.searchsorted(ordered, offsets)] - offsets, 0)
    extent = size if size is not None else int(ordered[-1]) + 1
    return _RecPart(path, index_path, offsets, spans, max(1, int(header.flag)), extent, layout)


class RecSource:
    """A ``.rec`` with its ``.idx`` (or an index built by scanning the file once), or a set of
    ``.rec`` shards (a folder or a prefix, see :func:`~icformat.recordio.list_rec_shards`) read as
    one: shard ``k``'s offsets are moved past the shards before it."""

    kind = "rec"

    def __init__(self, path: PathLike, idx: PathLike | None = None):
        self.path = os.fspath(path)
        single = idx is not None or (not is_uri(self.path) and os.path.isfile(local_path(self.path)))
        parts = [_read_part(p, idx) for p in ([self.path] if single else list_rec_shards(self.path))]
        widths = {p.label_width for p in parts}
        if len(widths) > 1:
            raise RecordIOError(f"shards disagree on the number of labels per record ({sorted(widths)})", self.path)
        bases = np.cumsum([0] + [p.extent for p in parts[:-1]]).tolist()
        self.offsets = np.concatenate([p.offsets + base for p, base in zip(parts, bases)])
        self.spans = np.concatenate([p.spans for p in parts])
        self.label_width = parts[0].label_width
        self.layouts = [p.layout for p in parts]  # one per shard
        self.index_path = parts[0].index_path if len(parts) == 1 else None
        # workers get offsets (and read-ahead spans), which is all they need: no index for them
        if len(parts) == 1:
            self.path = parts[0].path
            self.spec = SourceSpec("rec", self.path, None)
        else:
            self.spec = SourceSpec("rec", self.path, None, tuple((p.path, b) for p, b in zip(parts, bases)))

    def __len__(self) -> int:
        return len(self.offsets)

    def refs(self, positions: np.ndarray) -> np.ndarray:
        """``(offset, span)`` rows: where each record starts, and how far to read ahead."""
        return np.stack([self.offsets[positions], self.spans[positions]], axis=1)


def _first_header(records: IndexedRecordFile, positions: np.ndarray, tries: int = 16):
    """The image header of the first readable record of ``positions`` (the label width comes from it)."""
    error = None
    for position in positions[:tries].tolist():
        try:
            return records.header_at(position)
        except FormatError as exc:
            error = exc
    raise error


class LstSource:
    """Images on disk (or ``s3://``) listed by a ``.lst``; ``root`` defaults to its folder."""

    kind = "lst"

    def __init__(self, path: PathLike, root: PathLike | None = None):
        from ..lst.parse import read_lst

        self.path = os.fspath(path)
        self.table = read_lst(self.path)
        if not len(self.table):
            raise IcformatError(f"{self.path}: no entries: nothing to load")
        if root is None:
            root = os.path.dirname(self.path) if not is_uri(self.path) else self.path.rsplit("/", 1)[0]
        self.root = os.fspath(root)
        self.labels = self.table.labels.astype(np.float32)
        self.label_width = self.labels.shape[1]
        self.spec = SourceSpec("lst", self.root)

    def __len__(self) -> int:
        return len(self.table)

    def refs(self, positions: np.ndarray) -> list[str]:
        paths = self.table.paths
        return [paths[i] for i in positions.tolist()]


class StreamSource:
    """Records from an iterable read again every epoch: a pipe-mode reader, a ``RecordReader``, a
    list, or a callable ``f(epoch)`` returning one. Items are image records (``IRHeader`` + image
    bytes, as in a ``.rec``) or ``(image_bytes, label)`` pairs (a pipe-mode augmented manifest;
    label a number or a sequence of numbers). No index, so no global shuffle: see
    :func:`~icformat.loader.sampler.shuffle_buffer`."""

    kind = "stream"
    spec = SourceSpec("stream")

    def __init__(self, source: Iterable[bytes] | Callable[[int], Iterable[bytes]], label_width: int | None = None):
        self.source = source
        self.label_width = label_width
        self._spent = False

    def records(self, epoch: int) -> Iterator[bytes]:
        """This epoch's records; the label width is learnt from the first one when not given."""
        source = self.source(epoch) if callable(self.source) and not hasattr(self.source, "__iter__") else self.source
        iterator = iter(source)
        if iterator is source:
            if self._spent:
                raise IcformatError(
                    "the stream source is an iterator that the previous epoch used up; pass a re-iterable "
                    "(a reader, a list) or a callable f(epoch) that returns a fresh iterable"
                )
            self._spent = True
        first = next(iterator, None)
        if first is None:
            return iter(())
        if self.label_width is None:
            if isinstance(first, tuple):
                self.label_width = max(1, np.asarray(first[1], np.float32).size)
            else:
                try:
                    self.label_width = split_record(first).labels.size
                except RecordIOError:
                    self.label_width = 1
        return _chain(first, iterator)


def _chain(first: Any, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def open_source(source: Any, *, root=None, idx=None, label_width: int | None = None):
    """The source object for what :class:`~icformat.loader.ImageLoader` was given."""
    if isinstance(source, (RecSource, LstSource, StreamSource)):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.lower().endswith(".lst"):
            return LstSource(path, root)
        if not is_uri(path) and is_fifo(path):
            from ..recordio.reader import RecordReader

            return StreamSource(lambda epoch: RecordReader(path), label_width)
        return RecSource(path, idx)
    if callable(source) or hasattr(source, "__iter__"):
        return StreamSource(source, label_width)
    raise TypeError(f"source must be a .rec/.lst path, an iterable of records or a callable, not {type(source).__name__}")


# ---- worker side ----------------------------------------------------------------------------


class RecordLabels(NamedTuple):
    image: Any  # bytes or memoryview of the encoded image
    labels: np.ndarray | None  # float32 labels from the record header, None for .lst items


def image_and_labels(record, label_width: int) -> RecordLabels:
    """Image and labels of an image record (the one header codec), checking the label count against
    ``label_width``. Errors carry no location: the caller knows where the record came from."""
    split = split_record(record)
    if split.labels.size != label_width:
        raise BadRecordError(f"record has {split.labels.size} label(s), the loader expects {label_width}")
    return RecordLabels(split.image, split.labels)


def open_rec(path: str) -> IndexedRecordFile:
    """A worker's own reader of a ``.rec``: memory-mapped locally, ranged requests for ``s3://``.
    Records are read by byte offset (``read_at``); the index stays with the parent, which sends
    offsets, so a worker never reads or builds one."""
    return IndexedRecordFile(path, offsets=())


class ShardSetFile:
    """A worker's map of a set of ``.rec`` shards: records by offset in the set's offset space
    (shard ``k``'s offsets moved past the shards before it), each shard through :func:`open_rec`."""

    def __init__(self, shards: tuple):
        self.files = [open_rec(path) for path, _ in shards]
        self.bases = np.asarray([base for _, base in shards], dtype=np.int64)

    def _locate(self, offset: int) -> tuple[IndexedRecordFile, int]:
        k = int(np.searchsorted(self.bases, offset, side="right")) - 1
        return self.files[k], offset - int(self.bases[k])

    def prefetch(self, spans: np.ndarray) -> None:
        spans = np.asarray(spans)
        shard = np.searchsorted(self.bases, spans[:, 0], side="right") - 1
        for k in np.unique(shard).tolist():
            rows = spans[shard == k].copy()
            rows[:, 0] -= self.bases[k]
            self.files[k].prefetch(rows)

    def read_at(self, offset: int, span: int | None = None):
        """The payload of the record at ``offset`` in the set's offset space."""
        rec, local = self._locate(offset)
        return rec.read_at(local, span)

    def close(self) -> None:
        for rec in self.files:
            rec.close()


def open_rec_file(spec: SourceSpec) -> IndexedRecordFile | ShardSetFile:
    """A worker's reader for a ``rec`` source: one file, or a set of shards."""
    return ShardSetFile(spec.shards) if spec.shards else open_rec(spec.path)


def read_file(root: str, relative: str) -> bytes:
    """The bytes of ``root/relative`` (local or ``s3://``)."""
    return read_bytes(join_uri(root, relative) if is_uri(root) else os.path.join(root, relative))
