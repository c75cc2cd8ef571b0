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
from typing import Callable, Iterable, Iterator, Sequence

from ..io.atomic import open_output
from ..io.streams import open_input
from ..errors import InputNotFound, LstError, UsageError
from ..io.paths import is_s3
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


def list_images(
    root: str,
    *,
    recursive: bool = False,
    exts: Sequence[str] = DEFAULT_EXTS,
    progress: Callable[[int], object] | None = None,
) -> tuple[list[ListedImage], list[str]]:
    """Find images under ``root`` (a folder or an ``s3://`` prefix) as im2rec does: ``(images in
    walk order, class names)``.

    ``recursive``: every folder holding at least one image becomes a class, numbered in walk order
    (the root itself first, when it holds images). Otherwise only the root's own files are listed,
    all with label 0 (and the one class is ``.``). An ``s3://`` prefix is listed (all pages) and
    read as the same tree of folders would be. ``progress`` gets the number of files (or keys)
    listed since its last call.
    """
    exts = normalize_exts(exts)
    images: list[ListedImage] = []
    classes: list[str] = []
    for rel, names in _folders(root, recursive, progress):
        label = None
        for name in names:
            if not _is_image(name, exts):
                continue
            if label is None:
                label = len(classes) if recursive else 0
                classes.append(rel or ".")
            images.append(ListedImage(len(images), f"{rel}/{name}" if rel else name, label))
    return images, (classes if recursive else ["."])


def _folders(root: str, recursive: bool, progress) -> Iterator[tuple[str, list[str]]]:
    """``(relative folder, sorted file names)`` in walk order: all folders, or only the root's."""
    if is_s3(root):
        from .remote import iter_s3_folders

        for rel, names in iter_s3_folders(root, progress):
            if recursive or not rel:
                yield rel, names
        return
    if not os.path.isdir(root):
        raise InputNotFound(f"image root {root} is not a folder; give the folder holding the images (or an s3:// prefix)", root)
    walk = _walk(root) if recursive else iter([("", sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n))))])
    for rel, names in walk:
        if progress is not None:
            progress(len(names))
        yield rel, names


def split_list(
    images: Sequence, *, chunks: int = 1, train_ratio: float = 1.0, test_ratio: float = 0.0, stratify: bool = False
) -> list[tuple[str, list]]:
    """Cut ``images`` into ``(suffix, part)`` pairs named as im2rec names its files: ``""``, or
    ``"_train"``, ``"_val"``, ``"_test"``, each after ``"_<chunk>"`` when ``chunks > 1``.

    Mirrors im2rec's arithmetic, including its quirks: the split points use the chunk size (not the
    length of a short last chunk), ``_val`` exists only when train + test < 1, and with a train
    ratio of exactly 1 the test ratio is ignored. ``stratify`` splits each class (``.label``) of a
    chunk by the ratios instead (each class's share within one image of the ratio), keeping the
    chunk's order inside each part.
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
        if stratify:
            parts += _stratified(chunk, tag, train_ratio, test_ratio)
            continue
        sep = int(chunk_size * train_ratio)
        sep_test = int(chunk_size * test_ratio)
        if test_ratio:
            parts.append((tag + "_test", chunk[:sep_test]))
        if train_ratio + test_ratio < 1.0:
            parts.append((tag + "_val", chunk[sep_test + sep :]))
        parts.append((tag + "_train", chunk[sep_test : sep_test + sep]))
    return parts


def _share(count: int, ratio: float) -> int:
    """``count x ratio`` rounded half up (so a class's share is within half an image of the ratio)."""
    return int(count * ratio + 0.5)


def _stratified(chunk: list, tag: str, train_ratio: float, test_ratio: float) -> list[tuple[str, list]]:
    """The parts of one chunk, each class cut as im2rec cuts a chunk (test, then train, then val)."""
    by_class: dict = {}
    for image in chunk:
        by_class.setdefault(image.label, []).append(image)
    part_of: dict[int, str] = {}
    for members in by_class.values():
        n_test = _share(len(members), test_ratio)
        n_train = len(members) - n_test if train_ratio + test_ratio >= 1.0 else min(_share(len(members), train_ratio), len(members) - n_test)
        for position, image in enumerate(members):
            part_of[id(image)] = "_test" if position < n_test else "_train" if position < n_test + n_train else "_val"
    names = (["_test"] if test_ratio else []) + (["_val"] if train_ratio + test_ratio < 1.0 else []) + ["_train"]
    return [(tag + name, [image for image in chunk if part_of[id(image)] == name]) for name in names]


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
    stratify: bool = False,
    progress: Callable[[int], object] | None = None,
) -> MakeResult:
    """Walk ``root`` (a folder or an ``s3://`` prefix) and write
    ``PREFIX[_chunk][_train|_val|_test].lst`` plus ``PREFIX.classes``.

    ``style``: labels as ``1`` (``"int"``) or ``1.000000`` (``"mxnet"``, as MXNet 1.x writes).
    The default ``seed`` (100) gives im2rec's exact order. ``stratify`` splits every class by the
    ratios (see :func:`split_list`). ``progress`` as :func:`list_images`.
    """
    if stratify and train_ratio == 1.0:
        raise UsageError("stratify needs a train ratio below 1 (with a train ratio of 1 nothing is split)")
    images, classes = list_images(root, recursive=recursive, exts=exts, progress=progress)
    if not images:  # an empty list is an error in every command: write none
        raise LstError(f"no file with extension {', '.join(exts)} under {root}{'' if recursive else ' (add --recursive for sub-folders)'}; "
                       "nothing to list", root)
    if shuffle:
        random.Random(seed).shuffle(images)
    files: dict[str, int] = {}
    for suffix, part in split_list(images, chunks=chunks, train_ratio=train_ratio, test_ratio=test_ratio, stratify=stratify):
        path = f"{prefix}{suffix}.lst"
        files[path] = write_lst(path, ((im.index, im.label, im.path) for im in part), style=style)
    classes_path = None
    if write_classes:
        classes_path = f"{prefix}.classes"
        write_classes_file(classes_path, classes)
    return MakeResult(files, classes, classes_path, len(images))


def write_classes_file(path: str, classes: Sequence[str]) -> None:
    """One class name per line, line ``i + 1`` naming label ``i``."""

    with open_output(path, "w") as f:
        f.writelines(f"{name}\n" for name in classes)


def read_classes_file(path: str) -> list[str]:
    """The class names of a ``.classes`` file, label order."""

    with open_input(path, "rb") as f:
        return [line.rstrip("\r") for line in f.read().decode("utf-8").split("\n") if line.strip()]
