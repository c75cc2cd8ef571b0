"""Tar members as WebDataset writes and reads them: ``KEY.EXT`` files, grouped into samples by key.

The member headers are :mod:`tarfile`'s (POSIX pax, long names included); the data is written as
it is, without a copy, beside them. Reading takes any tar a WebDataset writer made (GNU, pax, ustar)
through :mod:`tarfile`'s streaming mode, from a file, a stream or ``s3://``; plain local tars take
a memory-mapped fast path that gives the same samples.
"""
from __future__ import annotations

import mmap
import os
import re
import tarfile
from typing import IO, Iterator, NamedTuple

from ..errors import FormatError
from ..io.paths import is_uri, local_path
from ..io.streams import open_input, remote_errors

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
_ZEROS = b"\0" * BLOCK
# WebDataset's rule (``base_plus_ext``): the key is the path up to the first dot of the file name
_KEY_EXT = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")


def member_header(name: str, size: int) -> bytes:
    """The 512-byte header of a file member (mode 0444, owner root, time 0: the same input gives
    the same tar), as ``tarfile`` writes it in pax format. Short ASCII names (all of ours) take a
    fast path from a template, held equal to ``tarfile``'s bytes by a property test."""
    encoded = name.encode("ascii", "surrogateescape") if name.isascii() else None
    if encoded is None or len(encoded) > 100 or size >= _MAX_OCTAL_SIZE:
        return _tarfile_header(name, size)
    field = b"%011o\0" % size
    checksum = _TEMPLATE_SUM + sum(encoded) + sum(field)
    return b"".join((encoded, _ZEROS[: 100 - len(encoded)], _TEMPLATE[100:124], field, _TEMPLATE[136:148], b"%06o\0 " % checksum,
                     _TEMPLATE[156:]))


def _tarfile_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o444
    info.mtime = 0
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


_MAX_OCTAL_SIZE = 8**11
_TEMPLATE = _tarfile_header("", 0)
# the checksum counts the checksum field as spaces; the name and size fields are added per member
_TEMPLATE_SUM = sum(_TEMPLATE[100:124]) + sum(_TEMPLATE[136:148]) + 8 * 32 + sum(_TEMPLATE[156:])


def member_pieces(name: str, data) -> list:
    """The header, data and padding of one member holding ``data``."""
    pieces = [member_header(name, len(data)), data]
    pad = -len(data) % BLOCK
    if pad:
        pieces.append(_ZEROS[:pad])
    return pieces


class TarSample(NamedTuple):
    key: str
    members: dict[str, bytes]  # extension (lower case, after the key's dot) -> data
    offset: int  # byte offset of the sample's first member header in the tar


def iter_tar_samples(path: str, *, fast: bool = True) -> Iterator[TarSample]:
    """The samples of a WebDataset tar in order: consecutive files with the same key, as
    WebDataset groups them. Folders are passed over; a file name without a dot, a link or device,
    or a tar that is damaged, raises ``FormatError`` naming the byte offset.

    A local tar whose members are all plain POSIX ustar files (what :func:`member_pieces` and most
    writers make) is read from a memory map, checked whole first; anything else (pax or GNU
    headers, compression, damage, ``s3://``) goes through :mod:`tarfile`, which gives the same
    samples (a test holds the two equal) or the error."""
    if fast and not is_uri(path) and os.path.isfile(local_path(path)):
        with open(local_path(path), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size >= BLOCK:
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    try:
                        for _ in _plain_members(mm, size):
                            pass
                    except _NotPlain:
                        pass
                    else:
                        yield from _grouped(_mapped_members(mm, size), path)
                        return
    with open_input(path, "rb") as stream, remote_errors(path):
        yield from _tarfile_samples(stream, path)


_RELEASE_BYTES = 32 << 20


def _mapped_members(mm, size: int) -> Iterator[tuple[str | None, int, bytes]]:
    """``(name, offset, data)`` of a plain tar's members, releasing the pages read (resident memory
    stays flat on huge tars; the page cache keeps them)."""
    released = 0
    for offset, name, start, length in _plain_members(mm, size):
        yield name, offset, mm[start : start + length]
        upto = offset - offset % mmap.PAGESIZE
        if upto - released >= _RELEASE_BYTES:
            mm.madvise(mmap.MADV_DONTNEED, released, upto - released)
            released = upto


class _NotPlain(Exception):
    """The tar holds something the plain reader leaves to tarfile."""


def _plain_members(mm, size: int) -> Iterator[tuple[int, str | None, int, int]]:
    """``(header offset, name or None for a folder, data offset, data size)`` of each member of a
    tar made only of POSIX ustar files and folders; raises ``_NotPlain`` on anything else."""
    pos = 0
    while pos < size:
        if pos + BLOCK > size:
            raise _NotPlain
        block = mm[pos : pos + BLOCK]
        if block == _ZEROS:
            if pos == 0:
                raise _NotPlain
            return
        if block[257:265] != b"ustar\x0000" or block[124] & 0x80:
            raise _NotPlain
        try:
            checksum = int(block[148:156].split(b"\0", 1)[0].strip() or b"0", 8)
            length = int(block[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
            name = block[0:100].split(b"\0", 1)[0].decode("ascii")
            prefix = block[345:500].split(b"\0", 1)[0].decode("ascii")
        except ValueError:  # UnicodeDecodeError too
            raise _NotPlain from None
        if checksum != 256 + sum(block[:148]) + sum(block[156:]):
            raise _NotPlain
        if prefix:
            name = prefix + "/" + name
        kind = block[156:157]
        start = pos + BLOCK
        if kind == b"5" or kind == b"\0" and name.endswith("/"):
            yield pos, None, start, length
        elif kind in (b"0", b"\0"):
            if start + length > size:
                raise _NotPlain
            yield pos, name, start, length
        else:
            raise _NotPlain
        pos = start + length + (-length % BLOCK)


def _tarfile_samples(stream: IO[bytes], path: str) -> Iterator[TarSample]:
    offsets = [0]

    def members():
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                offsets[0] = member.offset
                if member.isdir():
                    yield None, member.offset, b""
                elif not member.isfile():
                    raise FormatError(f"member {member.name!r} is not a file (a link or device); WebDataset shards hold files",
                                      path, offset=member.offset)
                else:
                    yield member.name, member.offset, tar.extractfile(member).read()

    try:
        yield from _grouped(members(), path)
    except tarfile.TarError as exc:
        raise FormatError(f"not a readable tar ({exc}); give WebDataset .tar shards", path, offset=offsets[0]) from None


def _grouped(members, path: str) -> Iterator[TarSample]:
    """Samples from ``(name, offset, data)`` members (name None: a folder, passed over)."""
    current: TarSample | None = None
    for name, offset, data in members:
        if name is None:
            continue
        match = _KEY_EXT.match(name)
        if match is None:
            raise FormatError(f"member {name!r} has no KEY.EXT name, so it belongs to no sample", path, offset=offset)
        key, ext = match.group(1), match.group(2).lower()
        if current is None or key != current.key:
            if current is not None:
                yield current
            current = TarSample(key, {}, offset)
        if ext in current.members:
            raise FormatError(f"sample {key!r} has two {ext!r} members", path, offset=offset)
        current.members[ext] = data
    if current is not None:
        yield current
