"""Copy a folder of files (images) to an ``s3://`` prefix (or another folder), keeping the relative
paths, with parallel puts through the one S3 client: the way a local image tree becomes an image
root that ``lst make``, ``lst validate --root`` and ``im2rec`` read from S3."""
from __future__ import annotations

import os
from typing import Callable, Sequence

from ..errors import InputNotFound
from .objects import ObjectStore
from .parallel import DEFAULT_FETCHES, map_ordered
from .paths import is_uri, join_uri


def files_under(folder: str, exts: Sequence[str] | None = None) -> list[str]:
    """Paths of the files under ``folder``, relative to it with ``/`` separators, sorted; only those
    ending in one of ``exts`` (case-insensitive, e.g. ``(".jpg", ".png")``) when given."""
    suffixes = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in exts) if exts else None
    found = []
    for parent, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        rel = os.path.relpath(parent, folder)
        for name in names:
            if suffixes is None or name.lower().endswith(suffixes):
                found.append(name if rel == "." else f"{rel.replace(os.sep, '/')}/{name}")
    return sorted(found)


def upload_folder(
    folder: str,
    dest: str,
    *,
    exts: Sequence[str] | None = None,
    workers: int = DEFAULT_FETCHES,
    progress: Callable[[int], object] | None = None,
) -> list[str]:
    """Copy every file under ``folder`` (only ``exts`` when given) to ``dest`` + its relative path
    (``dest`` an ``s3://`` prefix or a local folder), ``workers`` puts at a time. Returns the
    destination URIs in order; ``progress`` gets 1 per file copied."""
    if not os.path.isdir(folder):
        raise InputNotFound(f"{folder} is not a folder; give the folder holding the files to upload", folder)
    store = ObjectStore()
    targets = [(os.path.join(folder, rel), join_uri(dest, rel) if is_uri(dest) else os.path.join(dest, rel))
               for rel in files_under(folder, exts)]

    def copy(pair: tuple[str, str]) -> None:
        with open(pair[0], "rb") as f:
            store.write(pair[1], f.read())

    for _ in map_ordered(copy, targets, workers=workers):
        if progress is not None:
            progress(1)
    return [target for _, target in targets]
