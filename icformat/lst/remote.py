"""``.lst`` work on an ``s3://`` image root: list a prefix as the local walk lists a folder, and check
that listed images exist (parallel HEADs), through the one S3 client of :mod:`icformat.io`."""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from ..errors import InputNotFound
from ..io import s3
from ..io.parallel import DEFAULT_FETCHES, map_ordered
from ..io.paths import join_uri, split_s3
from ..problems import Problem, error
from .table import LstTable


def prefix_of(root: str) -> tuple[str, str]:
    """``s3://bucket/train`` -> ``("bucket", "train/")``: a root names a folder-like prefix."""
    bucket, key = split_s3(root)
    return bucket, (key.rstrip("/") + "/") if key.strip("/") else ""


def iter_s3_folders(root: str, progress: Callable[[int], object] | None = None) -> Iterator[tuple[str, list[str]]]:
    """``(relative folder, sorted file names)`` under an ``s3://`` prefix in the order of the local
    walk (a folder before its sub-folders, sub-folders sorted by name); ``progress`` gets the number
    of keys of each listed page. ``InputNotFound`` when nothing is stored under the prefix."""
    bucket, prefix = prefix_of(root)
    folders: dict[tuple[str, ...], list[str]] = {}
    seen = 0
    for page in s3.iter_key_pages(bucket, prefix):
        seen += len(page)
        for key in page:
            rel = key[len(prefix):]
            if rel and not rel.endswith("/"):  # "folder/" marker objects hold no image
                *parts, name = rel.split("/")
                folders.setdefault(tuple(parts), []).append(name)
        if progress is not None:
            progress(len(page))
    if not seen:
        raise InputNotFound(f"{root}: nothing is stored under this prefix; check the bucket and the prefix", root)
    for parts in sorted(folders):
        yield "/".join(parts), sorted(folders[parts])


def _head(uri: str) -> str | None:
    """Why the object at ``uri`` cannot be packed (missing or empty), or None."""
    meta = s3.head(uri)
    if meta is None:
        return "file-not-found"
    return "empty-image" if int(meta.get("ContentLength", 0)) == 0 else None


def check_objects_exist(table: LstTable, root: str, rows: Iterable[int], workers: int | None = None) -> tuple[list[Problem], np.ndarray]:
    """Missing and empty objects among ``rows`` (parallel HEADs); returns the problems and a mask of
    the rows whose object exists and is not empty. No credentials or a bad bucket name is raised once."""
    name, problems = table.path, []
    present = np.zeros(len(table), dtype=bool)
    uris = ((row, join_uri(root, table.paths[row])) for row in rows)
    for (row, uri), reason in map_ordered(lambda item: _head(item[1]), uris, workers=workers or DEFAULT_FETCHES):
        line = int(table.lines[row])
        if reason == "file-not-found":
            problems.append(error(name, reason, f"file not found: {uri}", line=line))
        elif reason == "empty-image":
            problems.append(error(name, reason, f"empty file (0 bytes): {uri}", line=line))
        else:
            present[row] = True
    return problems, present
