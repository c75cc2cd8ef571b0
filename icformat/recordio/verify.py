"""``rec verify``: check framing, image headers, the ``.idx`` and (optionally) every image, listing
every problem with its byte offset instead of stopping at the first."""
from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import streams
from ..errors import IcformatError, RecordIOError
from .framing import FRAME, LENGTH_MASK, MAGIC_BYTES
from .header import HEADER, HEADER_SIZE
from .index import read_index
from .inspect import probe_image
from .reader import RecordReader
from .scan import scan_sequential
from .writer import default_index_path

_MAX_LABELS = 1 << 16  # a flag above this is certainly not a label count


@dataclass
class Problem:
    """One problem: where (file and byte offset, or line for the index) and what."""

    path: str
    offset: int | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}@{self.offset}"
        return f"{where}: {self.message}"


@dataclass
class VerifyResult:
    records: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rec(
    path: streams.PathLike,
    *,
    index: streams.PathLike | None | bool = None,
    decode: bool = False,
    image_headers: bool = True,
    progress: Callable[[int], None] | None = None,
    max_problems: int = 10_000,
    on_record: Callable[[int, memoryview], None] | None = None,
) -> VerifyResult:
    """Check ``path`` record by record. ``index``: a ``.idx`` path, None for the default one when it
    exists, False to skip. ``image_headers``: check each record's 24-byte image header. ``decode``:
    decode every image. ``on_record(offset, payload)`` sees every record that frames correctly (the
    payload is valid only during the call), so callers gather what they need in the same pass."""
    name = os.fspath(path)
    problems: list[Problem] = []
    offsets: list[int] = []

    def check(offset: int, record) -> None:
        if image_headers:
            _check_image_header(name, offset, record, decode, problems)
        if on_record is not None:
            on_record(offset, record)
        offsets.append(offset)
        if progress is not None:
            progress(1)

    if streams.is_uri(name):
        try:
            with RecordReader(name) as reader:
                for offset, record in reader.iter_with_offsets(copy=False):
                    check(offset, record)
        except RecordIOError as exc:
            problems.append(Problem(name, exc.offset, exc.reason + " (stream: later records not checked)"))
    else:
        _walk_local(streams.local_path(name), name, check, problems, max_problems)

    if index is not False:
        idx = os.fspath(index) if index not in (None, True) else default_index_path(name)
        if index not in (None, True) or streams.exists(idx):
            _check_index(idx, offsets, problems)
    return VerifyResult(len(offsets), problems[:max_problems])


def _walk_local(local: str, name: str, check, problems: list[Problem], max_problems: int) -> None:
    with open(local, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            problems.append(Problem(name, 0, "empty file: no records (SageMaker fails with 'Empty .rec file')"))
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            view = memoryview(mm)
            pos = 0
            try:
                while pos < size and len(problems) < max_problems:
                    try:
                        offsets, payloads, nxt = scan_sequential(view, pos, size, 0, final=True, path=name, max_records=1)
                    except RecordIOError as exc:
                        problems.append(Problem(name, exc.offset, exc.reason))
                        resync = _next_head(mm, (exc.offset or pos) + 4, size)
                        if resync is None:
                            break
                        problems.append(Problem(name, resync, f"resynchronised: next record head after {resync - pos} skipped bytes"))
                        pos = resync
                        continue
                    check(offsets[0], payloads[0])
                    del payloads
                    pos = nxt
            finally:
                view.release()


def _next_head(mm, start: int, size: int) -> int | None:
    """Next 4-aligned magic followed by a cflag 0 or 1 word (dmlc's FindNextRecordIOHead)."""
    pos = (start + 3) & ~3
    while pos + 8 <= size:
        hit = mm.find(MAGIC_BYTES, pos)
        if hit < 0 or hit + 8 > size:
            return None
        if hit & 3 == 0:
            _, lrec = FRAME.unpack_from(mm, hit)
            if (lrec >> 29) in (0, 1) and hit + 8 + (lrec & LENGTH_MASK) <= size:
                return hit
        pos = hit + 1
    return None


def _check_image_header(name: str, offset: int, record, decode: bool, problems: list[Problem]) -> None:
    if len(record) < HEADER_SIZE:
        problems.append(Problem(name, offset, f"record of {len(record)} bytes is too short for the 24-byte image header"))
        return
    flag, label, _, _ = HEADER.unpack_from(record, 0)
    start = HEADER_SIZE
    if flag > 0:
        if flag > _MAX_LABELS or HEADER_SIZE + 4 * flag > len(record):
            problems.append(Problem(name, offset, f"image header flag {flag} (label count) does not fit the {len(record)}-byte record"))
            return
        labels = np.frombuffer(record, dtype="<f4", count=flag, offset=HEADER_SIZE)
        if not np.isfinite(labels).all():
            problems.append(Problem(name, offset, "multi-label header holds NaN or infinite labels"))
        start += 4 * flag
    elif not np.isfinite(label):
        problems.append(Problem(name, offset, f"label is {label}"))
    image = record[start:]
    if len(image) == 0:
        problems.append(Problem(name, offset, "empty image payload"))
        return
    if decode and probe_image(image) is None:
        problems.append(Problem(name, offset, "image does not decode (corrupt, truncated or not an image)"))


def _check_index(idx: str, offsets: list[int], problems: list[Problem]) -> None:
    try:
        keys, idx_offsets = read_index(idx)
    except IcformatError as exc:
        problems.append(Problem(idx, None, str(exc), line=getattr(exc, "line", None)))
        return
    heads = set(offsets)
    seen: dict = {}
    for line, (key, offset) in enumerate(zip(keys, idx_offsets), 1):
        if key in seen:
            problems.append(Problem(idx, None, f"duplicate key {key!r} (first on line {seen[key]})", line=line))
        seen.setdefault(key, line)
        if offset not in heads:
            problems.append(Problem(idx, None, f"offset {offset} (key {key!r}) is not the start of a record", line=line))
    missing = heads - set(idx_offsets)
    if missing:
        first = min(missing)
        problems.append(Problem(idx, None, f"{len(missing)} record(s) are not in the index, the first at byte {first}; rebuild it with 'icformat rec index'"))


def check_image_header(path: str, offset: int, record, *, decode: bool = False) -> list[Problem]:
    """The problems ``verify_rec`` reports for one record's image header (empty when it is fine)."""
    problems: list[Problem] = []
    _check_image_header(path, offset, record, decode, problems)
    return problems
