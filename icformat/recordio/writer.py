"""RecordIO writer, byte-compatible with dmlc's ``RecordIOWriter`` and ``MXIndexedRecordIO``."""
from __future__ import annotations

import os
from typing import Any, BinaryIO

from .. import streams
from ..errors import RecordIOError, UsageError
from .framing import MAX_LENGTH, encode_record

_JOIN_BELOW = 4096  # small records go out in one write call


def default_index_path(rec_path: str) -> str:
    """``data/train.rec`` -> ``data/train.idx`` (the name MXNet and im2rec use)."""
    root, _ = os.path.splitext(rec_path)
    return root + ".idx"


class RecordWriter:
    """Write framed records to a path, an ``s3://`` URI or a binary file object.

    ``index``: None (no ``.idx``), True (``<rec without extension>.idx``) or a path/URI for the
    ``key\\toffset`` index. Paths are written under a temporary name and appear only when the writer
    is closed without error (use it as a context manager). Payloads of 2^29 bytes or more are refused.
    """

    def __init__(self, dest: streams.PathLike | BinaryIO, index: bool | streams.PathLike | None = None):
        self.dest = dest
        self._out = None
        self._idx_out = None
        if hasattr(dest, "write"):
            self._file = dest
            try:
                self.offset = dest.tell()
            except (OSError, AttributeError, ValueError):
                self.offset = 0
        else:
            self._out = streams.open_output(dest)
            self._file = self._out.file
            self.offset = 0
        if index is True:
            if hasattr(dest, "write"):
                raise UsageError("index=True needs a destination path; pass the .idx path explicitly")
            index = default_index_path(os.fspath(dest))
        if index:
            self._idx_out = streams.open_output(index, "w")
        self.count = 0
        self.closed = False

    def write(self, payload: bytes | bytearray | memoryview, key: Any = None) -> int:
        """Append one record; returns its byte offset. ``key`` (default: the record's sequence
        number) goes into the ``.idx`` when there is one."""
        if len(payload) >= MAX_LENGTH:
            raise RecordIOError(
                f"record of {len(payload)} bytes is too large: RecordIO only accepts records smaller than 2^29 bytes (512 MiB)",
                self._name(),
                self.offset,
            )
        pieces = encode_record(payload)
        return self._append((b"".join(pieces),) if len(payload) < _JOIN_BELOW else pieces, key)

    def write_framed(self, framed: bytes | memoryview, key: Any = None) -> int:
        """Append a record already framed by :func:`~icformat.recordio.framing.frame_record`
        (for example in a worker); returns its byte offset. ``key`` as in :meth:`write`."""
        return self._append((framed,), key)

    def _append(self, pieces, key: Any) -> int:
        """Write the pieces of one framed record and its index line; returns its offset."""
        offset = self.offset
        for piece in pieces:
            self._file.write(piece)
            self.offset += len(piece)
        if self._idx_out is not None:
            self._idx_out.file.write(f"{self.count if key is None else key}\t{offset}\n")
        self.count += 1
        return offset

    def _name(self) -> str | None:
        return getattr(self.dest, "name", None) if hasattr(self.dest, "write") else os.fspath(self.dest)

    def close(self) -> None:
        """Finish: the files appear at their destinations (a caller's file object is only flushed)."""
        if self.closed:
            return
        self.closed = True
        if self._out is not None:
            self._out.commit()
        else:
            self._file.flush()
        if self._idx_out is not None:
            self._idx_out.commit()

    def abort(self) -> None:
        """Drop everything written; no file appears."""
        if self.closed:
            return
        self.closed = True
        if self._out is not None:
            self._out.abort()
        if self._idx_out is not None:
            self._idx_out.abort()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
