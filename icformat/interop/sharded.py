"""Numbered shard files ``PREFIX-000000.tar``, ``PREFIX-000001.tar``... rolled over by records or bytes.

Each shard is written atomically (``io/atomic.py``); when the run fails, the shards already
finished are removed too, so a failed conversion leaves nothing behind.
"""
from __future__ import annotations

import os

from ..errors import UsageError
from ..io.atomic import AtomicOutput, make_parents, open_output, remove_created
from ..io.paths import PathLike, is_uri, local_path
from ..io.s3 import delete

DEFAULT_SHARD_BYTES = 1 << 30  # 1 GiB: WebDataset's and Hugging Face's advice is 100 MB to a few GB


def shard_name(prefix: str, number: int, ext: str) -> str:
    """``out/train`` -> ``out/train-000003.tar``; a prefix ending in ``/`` -> ``out/000003.tar``."""
    sep = "" if prefix.endswith(("/", os.sep)) else "-"
    return f"{prefix}{sep}{number:06d}{ext}"


def check_limits(max_records: int | None, max_bytes: int | None) -> None:
    """Shard and row-group limits must be positive when given."""
    for name, value in (("max_records", max_records), ("max_bytes", max_bytes)):
        if value is not None and value < 1:
            raise UsageError(f"{name} must be at least 1, not {value}")


class ShardedOutput:
    """Opens ``PREFIX-000000EXT`` and the next ones: :meth:`roll` before writing ``records`` records
    of ``nbytes`` bytes starts a new shard when the current one would pass ``max_records`` or
    ``max_bytes`` (a shard holds at least one write)."""

    def __init__(self, prefix: PathLike, ext: str, *, max_records: int | None = None, max_bytes: int | None = DEFAULT_SHARD_BYTES):
        check_limits(max_records, max_bytes)
        self.prefix = os.fspath(prefix)
        if not is_uri(self.prefix) and os.path.isdir(local_path(self.prefix)) and not self.prefix.endswith(("/", os.sep)):
            self.prefix += os.sep  # an existing folder: the shards go inside it
        self.ext = ext
        self.max_records, self.max_bytes = max_records, max_bytes
        self.paths: list[str] = []  # finished shards
        self.current: AtomicOutput | None = None
        self.records = self.nbytes = 0
        self._created: list[str] = []  # local folders the first shard needed (removed again by abort)

    def roll(self, records: int, nbytes: int) -> bool:
        """Make room for a write of ``records`` records and ``nbytes`` bytes; True when a new shard
        was opened (the caller then writes that shard's opening, and calls :meth:`added`)."""
        if self.current is not None and self.records and (
            (self.max_records is not None and self.records + records > self.max_records)
            or (self.max_bytes is not None and self.nbytes + nbytes > self.max_bytes)
        ):
            self.finish_shard()
        if self.current is None:
            if not self.paths and not is_uri(self.prefix):
                self._created = make_parents(os.path.dirname(os.path.abspath(local_path(shard_name(self.prefix, 0, self.ext)))))
            self.current = open_output(shard_name(self.prefix, len(self.paths), self.ext))
            self.records = self.nbytes = 0
            return True
        return False

    @property
    def file(self):
        return self.current.file

    def added(self, records: int, nbytes: int) -> None:
        self.records += records
        self.nbytes += nbytes

    def finish_shard(self) -> None:
        """Commit the current shard (a hook for closing a format's own writer goes first)."""
        if self.current is not None:
            self.before_commit()
            self.current.commit()
            self.paths.append(self.current.dest)
            self.current = None

    def before_commit(self) -> None:
        """Called before a shard is committed (a subclass closes its format's writer here)."""

    def close(self) -> list[str]:
        """Commit the last shard; returns every shard's path."""
        self.finish_shard()
        return self.paths

    def abort(self) -> None:
        """Drop the shard being written and remove the finished ones."""
        if self.current is not None:
            self.current.abort()
            self.current = None
        for path in self.paths:
            if is_uri(path):
                delete(path)
            elif os.path.exists(local_path(path)):
                os.remove(local_path(path))
        self.paths = []
        remove_created(self._created)

    def __enter__(self) -> "ShardedOutput":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
