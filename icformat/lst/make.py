"""Making ``.lst`` files from a folder of images, as ``im2rec.py --list`` does.

Same walk (sorted, symlinks followed, one class per folder holding images, numbered in walk order),
same index numbering (walk order, assigned before shuffling), same shuffle (``random.seed(100)``
then ``random.shuffle``), same chunking, train/val/test split and file names. So with the default
seed the files are line for line those im2rec writes, labels aside (``1`` here, ``1.000000`` from
MXNet 1.x unless ``style="mxnet"``). The class names go to ``PREFIX.classes`` in label order.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from ..errors import LstError, UsageError
from .format import write_lst

DEFAULT_EXTS = (".jpeg", ".jpg", ".png")
IM2REC_SEED = 100


@dataclass
class ListedImage:
    """One image found by the walk: its ``index`` (walk order), ``path`` relative to the root and
    ``label`` (class number)."""

    index: int
    path: str
    label: int


@dataclass
class MakeResult:
    """What :func:`make_lst` wrote: ``files`` maps each ``.lst`` path to its number of lines;
    ``classes`` are the folder names (relative to the root, ``.`` for the root) in label order."""

    files: dict[str, int]
    classes: list[str]
    classes_path: str | None
    images: int


def normalize_exts(exts: Iterable[str]) -> tuple[str, ...]:
    """``['JPG', '.Png']`` -> ``('.jpg', '.png')``: lower case with a leading dot (im2rec compares
    lower-cased suffixes with the list as given, so it needs exactly that form)."""
    out = []
    for ext in exts:
        for part in str(ext).replace(",", " ").split():
            part = part.lower()
            out.append(part if part.startswith(".") else "." + part)
    if not out:
        raise UsageError("no image extensions given")
    return tuple(dict.fromkeys(out))


def _is_image(name: str, exts: tuple[str, ...]) -> bool:
    return os.path.splitext(name)[1].lower() in exts


def _walk(root: str) -> Iterator[tuple[str, list[str]]]:
    """``(relative folder, sorted file names)`` in the order of ``os.walk(root, followlinks=True)``
    with sorted sub-folders (pre-order); a symlink back to an enclosing folder is not followed
    (``os.walk`` would loop forever)."""
    stack: list[tuple[str, frozenset]] = [("", frozenset())]
    while stack:
        rel, ancestors = stack.pop()
        folder = os.path.join(root, rel) if rel else root
        try:
            st = os.stat(folder)
            entries = list(os.scandir(folder))
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            continue
        ancestors = ancestors | {key}
        dirs, files = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(entry)
        yield rel, sorted(e.name for e in files if _isfile(e))
        for name in sorted((e.name for e in dirs), reverse=True):
            stack.append((f"{rel}/{name}" if rel else name, ancestors))


def _isfile(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def list_images(root: str, *, recursive: bool = False, exts: Sequence[str] = DEFAULT_EXTS) -> tuple[list[ListedImage], list[str]]:
    """Find images under ``root`` as im2rec does: ``(images in walk order, class names)``.

    ``recursive``: every folder holding at least one image becomes a class, numbered in walk order
    (the root itself first, when it holds images). Otherwise only the root's own files are listed,
    all with label 0 (and the one class is ``.``).
    """
    exts = normalize_exts(exts)
    if not os.path.isdir(root):
        raise LstError(f"image root {root!r} is not a folder", root)
    images: list[ListedImage] = []
    classes: list[str] = []
    if not recursive:
        for name in sorted(os.listdir(root)):
            if _is_image(name, exts) and os.path.isfile(os.path.join(root, name)):
                images.append(ListedImage(len(images), name, 0))
        return images, ["."]
    for rel, names in _walk(root):
        label = None
        for name in names:
            if not _is_image(name, exts):
                continue
            if label is None:
                label = len(classes)
                classes.append(rel or ".")
            images.append(ListedImage(len(images), f"{rel}/{name}" if rel else name, label))
    return images, classes


def split_list(
    images: Sequence, *, chunks: int = 1, train_ratio: float = 1.0, test_ratio: float = 0.0
) -> list[tuple[str, list]]:
    """Cut ``images`` into ``(suffix, part)`` pairs named as im2rec names its files: ``""``, or
    ``"_train"``, ``"_val"``, ``"_test"``, each after ``"_<chunk>"`` when ``chunks > 1``.

    Mirrors im2rec's arithmetic, including its quirks: the split points use the chunk size (not the
    length of a short last chunk), ``_val`` exists only when train + test < 1, and with a train
    ratio of exactly 1 the test ratio is ignored.
    """
    if chunks < 1:
        raise UsageError(f"chunks must be at least 1, not {chunks}")
    if not 0.0 <= train_ratio <= 1.0 or not 0.0 <= test_ratio <= 1.0 or (train_ratio < 1.0 and train_ratio + test_ratio > 1.0):
        raise UsageError(f"train ({train_ratio}) and test ({test_ratio}) ratios must lie between 0 and 1 and add up to 1 at most")
    n = len(images)
    chunk_size = (n + chunks - 1) // chunks
    parts: list[tuple[str, list]] = []
    for i in range(chunks):
        chunk = list(images[i * chunk_size : (i + 1) * chunk_size])
        tag = f"_{i}" if chunks > 1 else ""
        if train_ratio == 1.0:
            parts.append((tag, chunk))
            continue
        sep = int(chunk_size * train_ratio)
        sep_test = int(chunk_size * test_ratio)
        if test_ratio:
            parts.append((tag + "_test", chunk[:sep_test]))
        if train_ratio + test_ratio < 1.0:
            parts.append((tag + "_val", chunk[sep_test + sep :]))
        parts.append((tag + "_train", chunk[sep_test : sep_test + sep]))
    return parts


def make_lst(
    prefix: str,
    root: str,
    *,
    recursive: bool = False,
    exts: Sequence[str] = DEFAULT_EXTS,
    train_ratio: float = 1.0,
    test_ratio: float = 0.0,
    chunks: int = 1,
    shuffle: bool = True,
    seed: int = IM2REC_SEED,
    style: str = "int",
    write_classes: bool = True,
) -> MakeResult:
    """Walk ``root`` and write ``PREFIX[_chunk][_train|_val|_test].lst`` plus ``PREFIX.classes``.

    ``style``: labels as ``1`` (``"int"``) or ``1.000000`` (``"mxnet"``, as MXNet 1.x writes).
    The default ``seed`` (100) gives im2rec's exact order.
    """
    images, classes = list_images(root, recursive=recursive, exts=exts)
    if not images:  # an empty list is an error in every command: write none
        raise LstError(f"no file with extension {', '.join(exts)} under {root}{'' if recursive else ' (add --recursive for sub-folders)'}; "
                       "nothing to list", root)
    if shuffle:
        random.Random(seed).shuffle(images)
    files: dict[str, int] = {}
    for suffix, part in split_list(images, chunks=chunks, train_ratio=train_ratio, test_ratio=test_ratio):
        path = f"{prefix}{suffix}.lst"
        files[path] = write_lst(path, ((im.index, im.label, im.path) for im in part), style=style)
    classes_path = None
    if write_classes:
        classes_path = f"{prefix}.classes"
        write_classes_file(classes_path, classes)
    return MakeResult(files, classes, classes_path, len(images))


def write_classes_file(path: str, classes: Sequence[str]) -> None:
    """One class name per line, line ``i + 1`` naming label ``i``."""
    from .. import streams

    with streams.open_output(path, "w") as f:
        f.writelines(f"{name}\n" for name in classes)


def read_classes_file(path: str) -> list[str]:
    """The class names of a ``.classes`` file, label order."""
    from .. import streams

    with streams.open_input(path, "rb") as f:
        return [line.rstrip("\r") for line in f.read().decode("utf-8").split("\n") if line.strip()]
