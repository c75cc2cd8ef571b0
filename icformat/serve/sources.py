"""The images a ``predict`` or ``transform`` run reads: files, folders (walked, sorted) and ``s3://``
objects or prefixes, each with the name relative to what was given (``cat/1.jpg``).

As SageMaker's batch transform sends every object under its prefix, every file is taken (hidden
files aside); one that is not an image is reported as such and skipped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..io.paths import local_path
from ..errors import InputNotFound
from ..io.objects import ObjectStore
from ..io.paths import split_s3


@dataclass(frozen=True)
class ImageSource:
    """Where to read one image (``uri``: a path or ``s3://`` URI) and its relative ``name``."""

    uri: str
    name: str


def iter_sources(inputs: Iterable[str], *, exclude: str | None = None,
                 store: ObjectStore | None = None) -> Iterator[ImageSource]:
    """Every image of ``inputs`` in order; ``exclude`` is a local folder not to walk (the output)."""
    for item in inputs:
        item = os.fspath(item)
        if item.startswith("s3://"):
            yield from _s3_sources(item, store or ObjectStore())
        else:
            yield from _local_sources(local_path(item), exclude)


def _local_sources(path: str, exclude: str | None) -> Iterator[ImageSource]:
    if os.path.isfile(path):
        yield ImageSource(path, os.path.basename(path))
        return
    if not os.path.isdir(path):
        raise InputNotFound(f"{path}: no such file or folder", path=path)
    skip = os.path.realpath(exclude) if exclude else None
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.realpath(os.path.join(root, d)) != skip)
        for name in sorted(files):
            full = os.path.join(root, name)
            if not name.startswith(".") and os.path.isfile(full):
                yield ImageSource(full, os.path.relpath(full, path).replace(os.sep, "/"))


def _s3_sources(uri: str, store: ObjectStore) -> Iterator[ImageSource]:
    bucket, key = split_s3(uri)
    keys = list_keys(store, bucket, key)
    if key and key in keys:
        yield ImageSource(uri, key.rsplit("/", 1)[-1])
        return
    prefix = key if not key or key.endswith("/") else key + "/"
    found = [k for k in keys if k.startswith(prefix) and not k.endswith("/")]
    if not found:
        raise InputNotFound(f"{uri}: no object or prefix there", path=uri)
    for k in sorted(found):
        if not k.rsplit("/", 1)[-1].startswith("."):
            yield ImageSource(f"s3://{bucket}/{k}", k[len(prefix):])


def list_keys(store: ObjectStore, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix`` in ``bucket``."""
    keys: list[str] = []
    for page in store.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", ()))
    return keys
