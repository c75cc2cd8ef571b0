"""Tar members as WebDataset writes and reads them: ``KEY.EXT`` files, grouped into samples by key.

The member headers come from :mod:`tarfile` (POSIX pax, long names included); the data is written
as it is, without a copy, beside them. Reading goes through :mod:`tarfile`'s streaming mode, so any
tar a WebDataset writer made (GNU, pax, ustar) is read, from a file, a stream or ``s3://``.
"""
from __future__ import annotations

import re
import tarfile
from typing import IO, Iterator, NamedTuple

from ..errors import FormatError
from ..io.streams import open_input, remote_errors

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
_ZEROS = b"\0" * BLOCK
# WebDataset's rule (``base_plus_ext``): the key is the path up to the first dot of the file name
_KEY_EXT = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")


def member_pieces(name: str, data) -> list:
    """The header, data and padding of one member holding ``data`` (a file of mode 0444, owner
    root, time 0: the same input gives the same tar)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o444
    info.mtime = 0
    pieces = [info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), data]
    pad = -len(data) % BLOCK
    if pad:
        pieces.append(_ZEROS[:pad])
    return pieces


class TarSample(NamedTuple):
    key: str
    members: dict[str, bytes]  # extension (lower case, after the key's dot) -> data
    offset: int  # byte offset of the sample's first member header in the tar


def iter_tar_samples(path: str) -> Iterator[TarSample]:
    """The samples of a WebDataset tar in order: consecutive files with the same key, as
    WebDataset groups them. Folders and links are passed over; a file name without a dot, or a
    tar that is damaged, raises ``FormatError`` naming the byte offset."""
    with open_input(path, "rb") as stream, remote_errors(path):
        yield from _samples(stream, path)


def _samples(stream: IO[bytes], path: str) -> Iterator[TarSample]:
    current: TarSample | None = None
    offset = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                offset = member.offset
                if not member.isfile():
                    continue
                match = _KEY_EXT.match(member.name)
                if match is None:
                    raise FormatError(f"member {member.name!r} has no KEY.EXT name, so it belongs to no sample", path, offset=offset)
                key, ext = match.group(1), match.group(2).lower()
                data = tar.extractfile(member).read()
                if current is None or key != current.key:
                    if current is not None:
                        yield current
                    current = TarSample(key, {}, offset)
                if ext in current.members:
                    raise FormatError(f"sample {key!r} has two {ext!r} members", path, offset=offset)
                current.members[ext] = data
    except tarfile.TarError as exc:
        raise FormatError(f"not a readable tar ({exc}); give WebDataset .tar shards", path, offset=offset) from None
    if current is not None:
        yield current
