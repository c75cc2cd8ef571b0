"""Training channels: where the images come from, what they hold, and the loader that feeds them.

A channel is RecordIO (one ``.rec``, a folder of shards or a shard prefix, local or ``s3://``),
images listed by a ``.lst`` under a root, a pipe-mode channel (``<dir>/<name>_<epoch>`` FIFOs,
RecordIO or an augmented manifest), or an augmented manifest read as SageMaker streams it (one
image and one label per row, the images fetched from their references). ``survey`` reads a file channel once (labels from the record
headers, image sizes from the image headers) so that SageMaker's data errors are caught before
training; a pipe channel can only be checked as it streams (``check_batch_labels``).
"""
from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..io.paths import is_fifo, is_uri, local_path
from ..io.streams import open_input
from ..errors import IcformatError, ImageError, InputNotFound, RecordIOError, TrainingDataError
from ..image.decode import image_info
from ..recordio.reader import RecordReader
from ..recordio.header import split_record
from ..recordio.shards import list_rec_shards
from .hyperparameters import Hyperparameters, check_labels, ensure_dataset


@dataclass(frozen=True)
class Channel:
    """One input channel: ``kind`` is ``rec``, ``lst``, ``pipe`` or ``manifest``."""

    name: str
    kind: str
    paths: tuple[str, ...] = ()
    root: str | None = None
    attribute_names: tuple[str, ...] | None = None
    label_format: str | None = None
    num_classes: int | None = None

    @property
    def is_stream(self) -> bool:
        return self.kind in ("pipe", "manifest") or (self.kind == "rec" and len(self.paths) == 1 and is_fifo(self.paths[0]))

    def describe(self) -> str:
        if self.kind == "pipe":
            return f"{self.paths[0]}/{self.name}_<epoch> (pipe mode)"
        if self.kind == "lst":
            return f"{self.paths[0]} (images under {self.root})"
        if self.kind == "manifest":
            return f"{self.paths[0]} (augmented manifest, {','.join(self.attribute_names or ())})"
        return self.paths[0] if len(self.paths) == 1 else f"{len(self.paths)} .rec shards ({self.paths[0]} ...)"


def rec_channel(name: str, dataset: str) -> Channel:
    """A RecordIO channel: a ``.rec``, a folder of ``.rec`` shards or a shard prefix."""
    return Channel(name, "rec", tuple(remote_call(list_rec_shards, dataset)))


def remote_call(function: Callable, name: str, *args, **kwargs):
    """``function(name, ...)``, with an ``s3://`` failure (no credentials, no bucket) as one clear line."""
    try:
        return function(name, *args, **kwargs)
    except (IcformatError, OSError):
        raise
    except Exception as exc:  # botocore raises its own types
        if not is_uri(name):
            raise
        from ..io.objects import describe_error

        raise IcformatError(f"{name}: {describe_error(exc)}; check the AWS credentials and endpoint "
                            "(AWS_PROFILE, AWS_ENDPOINT_URL_S3)") from None


def lst_channel(name: str, lst: str, root: str | None = None) -> Channel:
    """Images listed by ``lst`` (paths relative to ``root``, default the ``.lst``'s folder)."""
    if not is_uri(lst) and not os.path.isfile(local_path(lst)):
        raise InputNotFound(f"{lst}: no such .lst file", path=lst)
    if root is None:
        root = (os.path.dirname(lst) or ".") if not is_uri(lst) else lst.rsplit("/", 1)[0]
    elif not is_uri(root) and not os.path.isdir(local_path(root)):
        raise InputNotFound(f"{root}: no such image folder (the root of {lst})", path=root)
    return Channel(name, "lst", (lst,), root)


def pipe_channel(name: str, directory: str, attribute_names=None, label_format: str | None = None) -> Channel:
    """A pipe-mode channel read from ``directory/<name>_<epoch>`` FIFOs."""
    if not os.path.isdir(directory):
        raise InputNotFound(f"{directory}: no such folder for the pipe-mode FIFOs", path=directory)
    names = None
    if attribute_names:
        from ..manifest.parse import parse_attribute_names

        names = tuple(parse_attribute_names(attribute_names))
    return Channel(name, "pipe", (directory,), attribute_names=names, label_format=label_format)


class _ManifestRows:
    """``(image_bytes, label)`` per manifest row, read again on every iteration (one epoch each):
    the payloads SageMaker's RecordIO-wrapped pipe carries, with the label parsed as the pipe reader
    parses it."""

    def __init__(self, channel: Channel, num_classes: int):
        self.channel, self.num_classes = channel, num_classes

    def __iter__(self) -> Iterator[tuple]:
        from ..manifest.labels import parse_label
        from ..pipe.wrap import iter_manifest_payloads

        path = self.channel.paths[0]
        for row, payloads in iter_manifest_payloads(path, self.channel.attribute_names):
            image, label = payloads[0], payloads[-1]
            try:
                yield image, parse_label(label.decode("utf-8"), self.channel.label_format, self.num_classes)
            except (IcformatError, UnicodeDecodeError) as exc:
                raise TrainingDataError(f"{path}:{row.line}: bad label {label[:40]!r}: {exc}") from None


# ---- survey -------------------------------------------------------------------------------

@dataclass
class Survey:
    """What a file channel holds: image count, labels (``(n,)`` or ``(n, width)``), label width,
    smallest image ``(height, width)`` and the number of undecodable images."""

    num_examples: int
    labels: np.ndarray
    label_width: int | None
    min_hw: tuple[int, int] | None
    unreadable: int = 0

    def class_ids(self) -> np.ndarray:
        """The distinct single labels, or the distinct multi-hot values."""
        return np.unique(self.labels) if self.labels.size else self.labels

    def positive_counts(self) -> np.ndarray:
        """Images per class with that class present (multi-label)."""
        return self.labels.reshape(len(self.labels), -1).sum(axis=0)


def survey(channel: Channel, progress: Callable[[int], None] | None = None) -> Survey | None:
    """Read a file channel's labels and image sizes; None for a stream (it cannot be read twice)."""
    if channel.is_stream:
        return None
    if channel.kind == "lst":
        return remote_call(lambda _: _survey_lst(channel, progress), channel.paths[0])
    return remote_call(lambda _: _survey_rec(channel, progress), channel.paths[0])


def _survey_rec(channel: Channel, progress) -> Survey:
    labels, widths, sizes, bad = [], set(), [], 0
    for example in _rec_examples(channel):
        if example.labels is None:
            bad += 1
            continue
        labels.append(example.labels)
        widths.add(len(example.labels))
        bad += _note_size(example.image, sizes)
        if progress is not None:
            progress(1)
    if len(widths) > 1:
        raise TrainingDataError(f"{channel.name} channel: records carry different numbers of labels "
                                f"({', '.join(map(str, sorted(widths)))}); {channel.describe()}")
    return _summary(labels, widths, sizes, bad)


def _survey_lst(channel: Channel, progress) -> Survey:
    labels, widths, sizes, bad = [], set(), [], 0
    for example in _read_listed(_lst_items(channel), workers=None):
        labels.append(example.labels)
        widths.add(len(example.labels))
        bad += _note_size(example.image, sizes)
        if progress is not None:
            progress(1)
    return _summary(labels, widths, sizes, bad)


def _note_size(image, sizes: list) -> int:
    """Add the image's (height, width) as displayed (EXIF orientation applied, as the loader and
    preflight see it); 1 when its header is unreadable."""
    try:
        info = image_info(image)
        sizes.append((info.height, info.width))
        return 0
    except ImageError:
        return 1


def _summary(labels: list, widths: set, sizes: list, bad: int) -> Survey:
    width = widths.pop() if widths else None
    array = np.asarray(labels, dtype=np.float32).reshape(len(labels), width or 1)
    if width == 1:
        array = array.reshape(-1)
    min_hw = (min(h for h, _ in sizes), min(w for _, w in sizes)) if sizes else None
    return Survey(len(labels), array, width, min_hw, bad)


def check_channel(hp: Hyperparameters, channel: Channel, found: Survey) -> None:
    """Raise ``TrainingDataError`` (one line, naming the channel's data) for SageMaker's data errors."""
    if found.num_examples and found.unreadable == found.num_examples + found.unreadable:
        raise TrainingDataError(f"{channel.name} channel: no image in {channel.describe()} could be read")
    labels = [found.class_ids()] if hp.multi_label else found.class_ids().tolist()
    try:
        ensure_dataset(hp, num_examples=found.num_examples, labels=labels, label_width=found.label_width,
                       min_image_shape=found.min_hw, channel=channel.name)
    except TrainingDataError as exc:
        raise TrainingDataError(f"{exc} [{channel.describe()}]") from None


def check_batch_labels(hp: Hyperparameters, labels: np.ndarray, channel: Channel) -> None:
    """The label checks for a batch of a stream channel (which cannot be surveyed beforehand)."""
    width = labels.shape[1] if labels.ndim == 2 else 1
    values = [np.unique(labels)] if hp.multi_label else np.unique(labels).tolist()
    problems = check_labels(hp, values, width, channel.name)
    if problems:
        raise TrainingDataError(f"{problems[0]} [{channel.describe()}]")


# ---- examples: every labelled image of a file channel, as train, evaluate and report read them ----

MANIFEST_SUFFIXES = (".manifest", ".jsonl", ".json")
DEFAULT_ATTRIBUTE_NAMES = ("source-ref", "class")


@dataclass(frozen=True)
class Example:
    """One image of a channel: ``name`` (the record id, or the listed path), ``path`` of the file
    that holds or lists it with its ``line`` (``.lst``, manifest) or byte ``offset`` (``.rec``),
    ``labels`` (float32; None when a record has no readable image header) and the encoded ``image``."""

    name: str
    path: str
    labels: np.ndarray | None
    image: bytes | memoryview
    line: int | None = None
    offset: int | None = None

    @property
    def uri(self) -> str:
        """Where it is: ``path:line`` or ``path@offset`` (as problems name places)."""
        if self.line is not None:
            return f"{self.path}:{self.line}"
        return f"{self.path}@{self.offset:,}" if self.offset is not None else self.path

    @property
    def key(self) -> tuple[str, int | None]:
        """``(path, line or offset)``: matches a :class:`~icformat.problems.Problem`'s place."""
        return self.path, self.line if self.line is not None else self.offset


def manifest_channel(name: str, manifest: str, attribute_names=None, label_format: str | None = None,
                     num_classes: int | None = None) -> Channel:
    """An augmented manifest (local or ``s3://``; image reference first, label second): read as a file
    by ``iter_examples``, streamed as SageMaker's Pipe mode streams it by the trainer's loader."""
    from ..manifest.parse import parse_attribute_names

    if not is_uri(manifest) and not os.path.isfile(local_path(manifest)):
        raise InputNotFound(f"{manifest}: no such augmented manifest", path=manifest)
    names = tuple(parse_attribute_names(attribute_names or DEFAULT_ATTRIBUTE_NAMES))
    return Channel(name, "manifest", (manifest,), attribute_names=names, label_format=label_format,
                   num_classes=num_classes)


def data_channel(name: str, data: str, *, root: str | None = None, attribute_names=None,
                 label_format: str | None = None, num_classes: int | None = None) -> Channel:
    """The channel ``data`` names, by its suffix: a ``.lst`` (images under ``root``), a manifest
    (``.manifest``, ``.jsonl``, ``.json``) or RecordIO (a ``.rec``, a folder of shards, a prefix)."""
    lowered = os.fspath(data).lower()
    if lowered.endswith(".lst"):
        return lst_channel(name, data, root)
    if lowered.endswith(MANIFEST_SUFFIXES):
        return manifest_channel(name, data, attribute_names, label_format, num_classes)
    return rec_channel(name, data)


def iter_examples(channel: Channel, *, workers: int | None = None, tolerant: bool = False) -> Iterator[Example]:
    """Every image of a file channel, in order; images of a ``.lst`` or a manifest are read on
    ``workers`` threads (default: 16 for ``s3://``, else 1). A listed image that is missing raises
    ``InputNotFound`` naming its line, a manifest line that cannot be read ``ManifestError``, a bad
    label ``TrainingDataError``; ``tolerant`` gives such an example empty image bytes (missing) or no
    labels (a bad label) instead, and leaves out lines that are not JSON (the validators name them)."""
    if channel.kind == "rec":
        return _rec_examples(channel)
    if channel.kind == "lst":
        return _read_listed(_lst_items(channel, tolerant), workers, tolerant)
    if channel.kind == "manifest":
        return _read_listed(_manifest_items(channel, tolerant), workers, tolerant)
    raise TrainingDataError(f"{channel.name} channel: a {channel.kind} channel cannot be read as files")


def _rec_examples(channel: Channel) -> Iterator[Example]:
    for path in channel.paths:
        with RecordReader(path) as reader:
            for offset, record in reader.iter_with_offsets():
                try:
                    header, labels, image = split_record(record, offset, path)
                except RecordIOError:  # no image header: the label is unknown
                    yield Example(str(offset), path, None, bytes(record), offset=offset)
                    continue
                yield Example(str(header.id), path, labels, image, offset=offset)


def _lst_items(channel: Channel, tolerant: bool = False) -> Iterator[tuple[Example, str]]:
    from ..lst.parse import read_lst

    lst, root = channel.paths[0], channel.root
    table = read_lst(lst, on_error="skip") if tolerant else read_lst(lst)
    for relative, line, labels in zip(table.paths, table.lines.tolist(), table.labels):
        location = root.rstrip("/") + "/" + relative if is_uri(root) else os.path.join(root, relative)
        yield Example(relative, lst, np.asarray(labels, dtype=np.float32), b"", line=line), location


def _manifest_items(channel: Channel, tolerant: bool) -> Iterator[tuple[Example, str]]:
    from ..manifest.labels import parse_label
    from ..manifest.parse import read_manifest
    from ..manifest.refs import base_of, resolve_ref

    manifest = channel.paths[0]
    base = base_of(manifest)
    for row in read_manifest(manifest, channel.attribute_names, on_error="skip" if tolerant else "raise"):
        try:
            labels = np.atleast_1d(np.asarray(parse_label(row.label_value, channel.label_format, channel.num_classes),
                                              dtype=np.float32))
        except ValueError as exc:
            if not tolerant:
                raise TrainingDataError(f"{manifest}:{row.line}: {exc}") from None
            labels = None
        ref = str(row.ref)
        yield Example(ref, manifest, labels, b"", line=row.line), resolve_ref(ref, base)


def _read_listed(items: Iterator[tuple[Example, str]], workers: int | None, tolerant: bool = False) -> Iterator[Example]:
    from ..io.parallel import choose_workers, map_ordered, peek

    first, items = peek(items)
    threads = choose_workers(workers, first[1] if first else None)
    for (example, location), data in map_ordered(_read_image_tolerant if tolerant else _read_image, items,
                                                 workers=threads):
        yield Example(example.name, example.path, example.labels, data, line=example.line)


def _read_image_tolerant(item: tuple[Example, str]) -> bytes:
    try:
        return _read_image(item)
    except InputNotFound:
        return b""


def _read_image(item: tuple[Example, str]) -> bytes:
    example, location = item
    try:
        with open_input(location, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputNotFound(f"{example.uri}: image {example.name!r} not found ({location}); check the image "
                            "folder (--root, --train-root/--validation-root) or the reference", path=location) from None


# ---- loaders ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedOptions:
    """How a channel is fed: the worker share, loader processes and the random seed."""

    num_parts: int = 1
    part_index: int = 0
    num_workers: int | None = None
    seed: int = 0
    pipe_timeout: float | None = 60.0


def make_loader(channel: Channel, hp: Hyperparameters, *, train: bool, feed: FeedOptions):
    """An ``ImageLoader`` over ``channel`` (training: shuffled, SageMaker's augmentation, the last
    batch padded from the start of the epoch; validation: centre crop, in order)."""
    from ..loader.loader import ImageLoader

    width = hp.num_classes if hp.multi_label else 1
    options = dict(
        batch_size=hp.mini_batch_size, data_shape=hp.image_shape, resize=hp.resize,
        augmentation_type=hp.augmentation_type if train else None, shuffle=train, seed=feed.seed,
        num_workers=feed.num_workers, num_parts=feed.num_parts, part_index=feed.part_index,
        last_batch="pad" if train else "keep", label_width=width,
    )
    if channel.kind == "lst":
        return ImageLoader(channel.paths[0], root=channel.root, **options)
    return ImageLoader(_source(channel, hp, feed), **options)


def _source(channel: Channel, hp: Hyperparameters, feed: FeedOptions):
    if channel.kind == "manifest":
        return _ManifestRows(channel, hp.num_classes)
    if channel.kind == "pipe":
        from ..pipe.reader import PipeReader

        return PipeReader(channel.paths[0], channel.name, timeout=feed.pipe_timeout,
                          attribute_names=list(channel.attribute_names) if channel.attribute_names else None,
                          label_format=channel.label_format, num_classes=hp.num_classes)
    if len(channel.paths) == 1:
        return channel.paths[0]
    return _ShardStream(channel.paths, feed.seed)


class _ShardStream:
    """Several ``.rec`` shards read one after another, in a new order every epoch (the loader's
    shuffle buffer mixes records across shard boundaries)."""

    def __init__(self, paths: tuple[str, ...], seed: int):
        self.paths, self.seed, self.epoch = paths, seed, 0

    def __iter__(self) -> Iterator[bytes]:
        order = list(self.paths)
        random.Random(self.seed * 1000003 + self.epoch).shuffle(order)
        self.epoch += 1
        return itertools.chain.from_iterable(_records(p) for p in order)


def _records(path: str) -> Iterator[bytes]:
    with RecordReader(path) as reader:
        yield from reader


def require_nonempty(channel: Channel, count: int, hp: Hyperparameters) -> None:
    """After a stream channel's first epoch: SageMaker's empty-channel and too-few-images errors."""
    if count == 0:
        raise TrainingDataError(f"{channel.name} channel: it holds no images (empty channel) [{channel.describe()}]")
    if channel.name == "train" and count < hp.mini_batch_size:
        raise TrainingDataError(
            f"train channel: {count:,} images, fewer than mini_batch_size={hp.mini_batch_size}; the number of input "
            f"images must be at least mini_batch_size [{channel.describe()}]")


__all__ = ["Channel", "Example", "FeedOptions", "Survey", "check_batch_labels", "check_channel", "data_channel",
           "iter_examples", "lst_channel", "make_loader", "manifest_channel", "pipe_channel", "rec_channel",
           "require_nonempty", "survey"]
