"""``.idx`` files (``key\\toffset`` per line) and random access to records by key or position."""
from __future__ import annotations

import mmap
import os
from typing import Any, BinaryIO, Iterator, Sequence

from .. import streams
from ..errors import LineError, RecordIOError
from .header import unpack
from .reader import RecordReader
from .scan import scan_sequential
from .writer import default_index_path


def read_index(path: streams.PathLike) -> tuple[list, list[int]]:
    """Parse a ``.idx`` file into ``(keys, offsets)`` in file order.

    Keys are ints when every key is an integer (as im2rec and ``MXIndexedRecordIO`` write them),
    else strings. Any whitespace separates the two columns, as dmlc's parser allows; blank lines are
    skipped.
    """
    raw_keys: list[str] = []
    offsets: list[int] = []
    name = os.fspath(path)
    with streams.open_input(path, "rb") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise LineError("expected 'key<TAB>offset'; rebuild it with 'icformat rec index'", name, number)
            try:
                offset = int(fields[1])
            except ValueError:
                raise LineError(f"offset {fields[1]!r} is not an integer; rebuild it with 'icformat rec index'", name, number) from None
            if offset < 0:
                raise LineError(f"negative offset {offset}", name, number)
            raw_keys.append(fields[0].decode("utf-8", "replace"))
            offsets.append(offset)
    try:
        keys: list = [int(k) for k in raw_keys]
    except ValueError:
        keys = raw_keys
    return keys, offsets


def write_index(path: streams.PathLike, keys: Sequence, offsets: Sequence[int]) -> None:
    """Write a ``.idx`` atomically."""
    with streams.open_output(path, "w") as f:
        f.writelines(f"{k}\t{o}\n" for k, o in zip(keys, offsets))


def scan_offsets(rec: streams.PathLike | BinaryIO, *, key: str = "auto") -> tuple[list, list[int]]:
    """Build an index by scanning ``rec``: ``(keys, offsets)``.

    ``key``: ``"position"`` (0..N-1, like MXNet's ``rec2idx.py``), ``"id"`` (the image header id,
    which im2rec sets to the ``.lst`` index, so the index matches im2rec's), or ``"auto"`` (``id``
    when every record has an image header with a distinct id, else ``position``).
    """
    offsets: list[int] = []
    ids: list[int] | None = [] if key in ("auto", "id") else None
    with RecordReader(rec) as reader:
        for offset, record in reader.iter_with_offsets(copy=False):
            offsets.append(offset)
            if ids is not None:
                if len(record) >= 24:
                    ids.append(int.from_bytes(record[8:16], "little"))
                elif key == "id":
                    raise RecordIOError("record has no image header, so it has no id; use key='position'", _name(rec), offset)
                else:
                    ids = None
    if ids is not None and (key == "id" or len(set(ids)) == len(ids)):
        return ids, offsets
    return list(range(len(offsets))), offsets


def _name(src) -> str | None:
    return getattr(src, "name", None) if hasattr(src, "read") else os.fspath(src)


class IndexedRecordFile:
    """Random access to the records of a ``.rec`` by key (``f[key]``) and by position (``f.at(i)``).

    Uses ``idx`` (default: the ``.idx`` beside ``rec``) when it exists, else builds the index by
    scanning. Local files are memory-mapped; ``s3://`` URIs are read with ranged requests.
    """

    def __init__(self, rec: streams.PathLike, idx: streams.PathLike | None = None, *, key: str = "auto"):
        self.path = os.fspath(rec)
        if idx is None and streams.exists(default_index_path(self.path)):
            idx = default_index_path(self.path)
        self.index_path = os.fspath(idx) if idx is not None else None
        if self.index_path is not None:
            self.keys, self.offsets = read_index(self.index_path)
        else:
            self.keys, self.offsets = scan_offsets(self.path, key=key)
        self._position = {k: i for i, k in enumerate(self.keys)}
        self._file = None
        self._mmap = None
        self._view = None
        if streams.is_uri(self.path):
            self._file = streams.open_input(self.path)
            self.size = None
        else:
            self._file = open(streams.local_path(self.path), "rb")
            self.size = os.fstat(self._file.fileno()).st_size
            if self.size:
                self._mmap = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
                self._view = memoryview(self._mmap)

    def __len__(self) -> int:
        return len(self.offsets)

    def __contains__(self, key: Any) -> bool:
        return key in self._position

    def __getitem__(self, key: Any) -> bytes:
        """The payload whose ``.idx`` key is ``key``."""
        try:
            position = self._position[key]
        except KeyError:
            raise KeyError(f"{self.path}: no record with key {key!r}") from None
        return self.at(position)

    read_idx = __getitem__  # MXNet's name

    def at(self, position: int) -> bytes:
        """The payload of the ``position``-th record of the index (file order of the ``.idx``)."""
        return bytes(self.view_at(position))

    def view_at(self, position: int) -> memoryview | bytes:
        """Like :meth:`at` without a copy for local files (valid while the file is open)."""
        offset = self.offsets[position]
        if self._view is not None:
            if offset >= self.size:
                raise RecordIOError(f"index offset {offset} is past the end of the file ({self.size} bytes)", self.path, offset)
            _, payloads, _ = scan_sequential(self._view, offset, self.size, 0, final=True, path=self.path, max_records=1)
            if not payloads:
                raise RecordIOError("no record at this index offset", self.path, offset)
            return payloads[0]
        if self._file is None:
            raise RecordIOError("file is empty", self.path, offset)
        return self._read_remote(offset)

    def _read_remote(self, offset: int) -> bytes:
        self._file.seek(offset)
        for record in RecordReader(_Unclosable(self._file), chunk_bytes=1 << 16):
            return record
        raise RecordIOError("index offset is past the end of the file", self.path, offset)

    def header_at(self, position: int):
        """The image header of the ``position``-th record."""
        header, _ = unpack(self.view_at(position), self.offsets[position])
        return header

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self)):
            yield self.at(i)

    def close(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:
                pass
            self._mmap = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "IndexedRecordFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Unclosable:
    """Reads from a shared stream without closing it."""

    def __init__(self, stream):
        self._stream = stream
        self.name = getattr(stream, "name", None)

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)
