"""A RecordIO dataset as SageMaker takes a channel: one ``.rec`` file, a folder of ``.rec`` shards, or
a prefix of shards (``out`` for ``out-00000-of-00004.rec`` ...), local or ``s3://``.

``list_rec_shards`` is the one place that turns such a name into the ordered list of ``.rec`` files.
"""
from __future__ import annotations

import glob
import os
from typing import Iterator

from ..io.paths import PathLike, is_fifo, local_path
from ..errors import InputNotFound
from ..io.paths import split_s3
from ..io.s3 import list_keys


def list_rec_shards(dataset: PathLike) -> list[str]:
    """The ``.rec`` files of ``dataset`` in name order (shard order).

    ``dataset`` is a ``.rec`` file, a folder holding ``.rec`` files (not recursive), or a prefix whose
    ``PREFIX-*.rec`` files are the shards. Raises ``InputNotFound`` when nothing matches.
    """
    return list_shard_files(dataset, ".rec")


def list_shard_files(dataset: PathLike, ext: str) -> list[str]:
    """The files ending in ``ext`` (``.rec``, ``.tar``, ``.parquet``) of ``dataset`` in name order:
    ``dataset`` is one such file, a folder of them (not recursive), or a prefix whose ``PREFIX-*EXT``
    files are the shards; local or ``s3://``. Raises ``InputNotFound`` when nothing matches."""
    name = os.fspath(dataset)
    shards = _list_s3(name, ext) if name.startswith("s3://") else _list_local(local_path(name), ext)
    if not shards:
        raise InputNotFound(
            f"{name}: no {ext} file there (give a {ext} file, a folder of {ext} shards, or a shard prefix)",
            path=name,
        )
    return shards


def _list_local(name: str, ext: str) -> list[str]:
    if os.path.isdir(name):
        return sorted(os.path.join(name, f) for f in os.listdir(name)
                      if f.endswith(ext) and os.path.isfile(os.path.join(name, f)))
    if os.path.isfile(name) or is_fifo(name):
        return [name]
    base = name[: -len(ext)] if name.endswith(ext) else name
    return sorted(glob.glob(glob.escape(base) + "-*" + ext))


def _list_s3(uri: str, ext: str) -> list[str]:
    bucket, key = split_s3(uri)
    if key.endswith(ext):
        keys = list_keys(bucket, key)
        if key in keys:
            return [uri]
        key = key[: -len(ext)]
    if key.endswith("/") or not key:
        prefix = key
    else:
        folder = list_keys(bucket, key + "/")
        prefix = key + "/" if folder else key + "-"
    return [f"s3://{bucket}/{k}" for k in sorted(list_keys(bucket, prefix))
            if k.endswith(ext) and "/" not in k[len(prefix):]]


class ShardSetReader:
    """Iterate over the records of a dataset (a ``.rec``, a folder or a prefix of shards, local or
    ``s3://``) as one: each shard in name order through :class:`~icformat.recordio.RecordReader`."""

    def __init__(self, dataset: PathLike):
        self.dataset = os.fspath(dataset)
        self.shards = list_rec_shards(dataset)

    def __len__(self) -> int:
        """The number of shards."""
        return len(self.shards)

    def __iter__(self) -> Iterator[bytes]:
        from .reader import RecordReader

        for shard in self.shards:
            with RecordReader(shard) as reader:
                yield from reader

    def iter_with_offsets(self) -> Iterator[tuple[str, int, bytes]]:
        """``(shard path, byte offset in it, payload)`` for every record."""
        from .reader import RecordReader

        for shard in self.shards:
            with RecordReader(shard) as reader:
                for offset, payload in reader.iter_with_offsets():
                    yield shard, offset, payload


def iter_dataset(dataset: PathLike) -> Iterator[bytes]:
    """Every record of a dataset (one ``.rec`` or a set of shards) in shard order."""
    yield from ShardSetReader(dataset)
