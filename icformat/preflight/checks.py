"""Checks of the data against the hyperparameters and across channels: the trainer's own
``check_dataset`` (image count, mini_batch_size, num_training_samples, labels, image size), class
coverage, and the warnings (class imbalance, validation classes absent from training, the same
image in training and validation)."""
from __future__ import annotations

import hashlib

import numpy as np

from ..io.streams import open_input
from .data import ChannelData
from .findings import (BATCH_TOO_BIG, EMPTY_BATCH, EMPTY_REC, ERROR, INVALID_LST, MULTI_LABEL_MISMATCH,
                       TRAINING_FAILS_ON_IMAGE, WARNING, WRONG_TRAINING, Finding)
from ..train.hyperparameters import check_dataset, schedule_warning
from .hyperparameters import Settings

IMBALANCE_RATIO = 10  # warn when the largest class has this many times the images of the smallest
_SHOW = 5


def check_channel_data(data: ChannelData, settings: Settings) -> list[Finding]:
    """Problems of one data channel against the hyperparameters."""
    if data.count == 0:
        return [_empty(data)]
    hp = settings.hp
    if hp is None:
        return []
    rec = not data.labels_checked  # .lst and manifest validators already checked labels against num_classes
    messages = check_dataset(hp, num_examples=data.count, labels=data.distinct_labels() if rec else [],
                             label_width=data.label_width if rec else None,
                             min_image_shape=data.min_image_shape(), channel=data.name)
    findings = [_dataset_finding(data, settings, m) for m in messages]
    schedule = schedule_warning(hp, data.count) if data.name == "train" else None
    if schedule:
        findings.append(Finding(WARNING, "num-training-samples", schedule, f"set num_training_samples={data.count}", "",
                                data.name, data.files[0] if data.files else None))
    if rec and data.multi is not None and data.label_width is None:
        findings.append(Finding(ERROR, "labels", f"the {data.name} records carry different numbers of labels",
                                "repack them with one label count (icformat im2rec --pack-label)", WRONG_TRAINING,
                                data.name, data.files[0] if data.files else None))
    if data.name == "train":
        findings += _coverage(data, settings)
    return findings


def _empty(data: ChannelData) -> Finding:
    prevents = {"rec": EMPTY_REC.format(channel=data.name), "manifest": EMPTY_BATCH,
                "lst": INVALID_LST.format(channel=data.name)}[data.kind]
    return Finding(ERROR, "empty-channel", f"the {data.name} channel holds no images", "point the channel at the data, "
                   "or write it again", prevents, data.name, data.files[0] if data.files else None)


def _dataset_finding(data: ChannelData, settings: Settings, message: str) -> Finding:
    hp = settings.hp
    where: tuple = (data.files[0] if data.files else None, None, None)
    if "mini_batch_size" in message:
        check, fix, prevents = "mini-batch-size", f"set mini_batch_size <= {data.count}, or add images", BATCH_TOO_BIG
    elif "multi-label records carry" in message:
        check, fix = "multi-label-width", f"set num_classes={data.label_width}, or pack {hp.num_classes} labels per image"
        prevents = MULTI_LABEL_MISMATCH.format(width=data.label_width, num_classes=hp.num_classes)
    elif "smaller than" in message:
        check, fix, prevents = "image-size", message.rsplit("; ", 1)[-1], TRAINING_FAILS_ON_IMAGE
        short = _too_small(data, hp.image_shape)
        if len(short):
            first = int(short[0])
            where = data.locate(first)
            message = (f"{data.name} channel: {len(short):,} image(s) smaller than image_shape {hp.image_shape[1]}x"
                       f"{hp.image_shape[2]} (HxW); this one is {data.heights[first]}x{data.widths[first]}")
    elif "outside 0.." in message:
        check, fix, prevents = "labels", "relabel, or set num_classes above the largest label", WRONG_TRAINING
        where = data.locate(_first_out_of_range(data, hp.num_classes))
    else:
        check, fix, prevents = "labels", "", WRONG_TRAINING
    path, line, offset = where
    return Finding(ERROR, check, message, fix, prevents, data.name, path, line=line, offset=offset)


def _too_small(data: ChannelData, shape) -> np.ndarray:
    """Indices of the images smaller than ``shape`` (C, H, W) in either side."""
    return np.flatnonzero((data.heights >= 0) & ((data.heights < shape[1]) | (data.widths < shape[2])))


def _first_out_of_range(data: ChannelData, num_classes: int) -> int:
    labels = data.single
    if labels is None:
        return 0
    bad = ~((labels >= 0) & (labels < num_classes) & (labels == np.floor(labels)))
    return int(np.flatnonzero(bad)[0]) if bad.any() else 0


def _coverage(data: ChannelData, settings: Settings) -> list[Finding]:
    num_classes = settings.num_classes
    present = set(data.class_counts())
    missing = sorted(set(range(num_classes)) - present)
    if not missing or not present or max(present) >= num_classes:
        return []
    return [Finding(WARNING, "num-classes", f"num_classes={num_classes} but the training images have "
                    f"{len(present)} classes: none has class {_list(missing)}; the job runs (a rare class can be "
                    "missing from a split), but the network never learns those classes",
                    f"set num_classes={len(present)} and relabel 0..{len(present) - 1}, or add images of the missing classes",
                    "", data.name, data.files[0] if data.files else None)]


def check_across(train: ChannelData | None, validation: ChannelData | None) -> list[Finding]:
    """Warnings that need both channels (and the imbalance of training classes)."""
    findings = []
    if train is not None and train.count:
        findings += _imbalance(train)
    if train is None or validation is None or not train.count or not validation.count:
        return findings
    absent = sorted(set(validation.class_counts()) - set(train.class_counts()))
    if absent:
        findings.append(Finding(WARNING, "validation-classes", f"validation has class {_list(absent)} that no training "
                                "image has", "add training images of these classes", "", "validation",
                                validation.files[0] if validation.files else None))
    return findings + _duplicates(train, validation)


def _imbalance(data: ChannelData) -> list[Finding]:
    counts = data.class_counts()
    if len(counts) < 2:
        return []
    most = max(counts, key=counts.get)
    least = min(counts, key=counts.get)
    if counts[most] < IMBALANCE_RATIO * counts[least]:
        return []
    return [Finding(WARNING, "class-imbalance", f"class {most} has {counts[most]:,} training images, class {least} only "
                    f"{counts[least]:,} ({counts[most] / counts[least]:.0f}x)", "balance the classes "
                    "(more images of the small classes, or fewer of the large ones)", "", data.name,
                    data.files[0] if data.files else None)]


def _duplicates(train: ChannelData, validation: ChannelData) -> list[Finding]:
    how = "same bytes"
    if train.digests is not None and validation.digests is not None:
        rows = _same_bytes(train, validation)
    elif train.kind == validation.kind == "lst":
        rows = _same_files(train, validation)
    elif train.kind == validation.kind == "manifest":
        rows, how = _same_refs(train, validation), "same reference"
    else:
        rows = []
    if not rows:
        return []
    examples = ", ".join(_describe(validation, v) + " = " + _describe(train, t) for v, t in rows[:_SHOW])
    more = " ..." if len(rows) > _SHOW else ""
    return [Finding(WARNING, "duplicate-images", f"{len(rows):,} validation image(s) are also in training "
                    f"({how}): {examples}{more}", "drop them from one channel: validation accuracy overstates",
                    "", "validation", validation.files[0] if validation.files else None)]


def _same_bytes(train: ChannelData, validation: ChannelData) -> list[tuple[int, int]]:
    if train.digests is None or validation.digests is None:
        return []
    order = np.argsort(train.digests, kind="stable")
    sorted_digests = train.digests[order]
    at = np.searchsorted(sorted_digests, validation.digests)
    at = np.minimum(at, len(sorted_digests) - 1)
    hit = (sorted_digests[at] == validation.digests) & (validation.digests != 0)
    return [(int(v), int(order[at[v]])) for v in np.flatnonzero(hit)]


def _same_files(train: ChannelData, validation: ChannelData) -> list[tuple[int, int]]:
    """Images of the same size in both channels, then the same digest (only those are read)."""
    if train.byte_sizes is None or validation.byte_sizes is None:
        return []
    candidates = np.intersect1d(train.byte_sizes[train.byte_sizes > 0], validation.byte_sizes[validation.byte_sizes > 0])
    if not len(candidates):
        return []
    digests = {}
    for i in np.flatnonzero(np.isin(train.byte_sizes, candidates)).tolist():
        digests.setdefault(_file_digest(train.image_paths[i]), i)
    return [(v, digests[d]) for v in np.flatnonzero(np.isin(validation.byte_sizes, candidates)).tolist()
            if (d := _file_digest(validation.image_paths[v])) in digests and d is not None]


def _same_refs(train: ChannelData, validation: ChannelData) -> list[tuple[int, int]]:
    wanted = set(validation.image_paths or ())
    first: dict[str, int] = {}
    for i, ref in enumerate(train.image_paths or ()):
        if ref in wanted and ref not in first:
            first[ref] = i
    return [(v, first[ref]) for v, ref in enumerate(validation.image_paths or ()) if ref in first]


def _file_digest(path: str) -> bytes | None:

    try:
        with open_input(path, "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=8).digest()
    except OSError:
        return None


def _describe(data: ChannelData, i: int) -> str:
    path, line, offset = data.locate(i)
    if data.image_paths is not None and data.kind != "rec":
        return data.image_paths[i]
    return f"{path}@{offset}" if offset is not None else f"{path}:{line}"


def _list(values: list) -> str:
    text = ", ".join(str(v) for v in values[:20])
    return text + (f" and {len(values) - 20} more" if len(values) > 20 else "")
