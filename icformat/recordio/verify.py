"""``rec verify``: check framing, image headers, the ``.idx`` and (optionally) every image, listing
every problem with its byte offset instead of stopping at the first."""
from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..io.paths import PathLike, is_uri, local_path
from ..io.streams import exists, open_local
from ..errors import IcformatError, NotRecordIOError, RecordIOError
from ..problems import Problem, ValidationResult, error, warning
from .framing import FRAME, LENGTH_MASK, MAGIC_BYTES
from .header import HEADER, HEADER_SIZE, split_record
from .layout import PLAIN_LAYOUT, RecLayout, detect_layout
from .index import read_index
from .batch import RecordBatch, make_batch
from .reader import CHUNK_BYTES, RecordReader, _drop_pages
from .scan import scan_records
from .writer import default_index_path

_MAX_LABELS = 1 << 16  # a flag above this is certainly not a label count


@dataclass
class VerifyResult(ValidationResult):
    """The outcome of :func:`verify_rec`: every :class:`~icformat.problems.Problem` (with its byte
    offset, or its line for the ``.idx``) and the number of ``records`` whose framing was read."""

    records: int = 0
    layout: dict | None = None  # the file's layout (recordio.layout), with image-header checks


def verify_rec(
    path: PathLike,
    *,
    index: PathLike | None | bool = None,
    decode: bool = False,
    image_headers: bool = True,
    progress: Callable[[int], None] | None = None,
    max_problems: int = 10_000,
    on_record: Callable[[int, memoryview], None] | None = None,
) -> VerifyResult:
    """Check ``path`` record by record. ``index``: a ``.idx`` path, None for the default one when it
    exists, False to skip. ``image_headers``: check each record's 24-byte image header. ``decode``:
    judge every image (:func:`icformat.image.verdict.judge_image`). A file whose every record lacks
    an image header gets one warning saying so, not one problem per record. The header records of
    an InsightFace face set (:mod:`~icformat.recordio.layout`) are checked as such, not as images.
    ``on_record(offset, payload)`` sees every record that frames correctly (the payload is valid only
    during the call), so callers gather what they need in the same pass."""
    name = os.fspath(path)
    problems: list[Problem] = []
    offsets: list[int] = []
    headerless: list[Problem] = []
    idx, index_data, index_error = _read_index_of(name, index)
    layout = _layout(name, index_data) if image_headers else PLAIN_LAYOUT

    def check(batch: RecordBatch) -> None:
        file_offsets = batch.file_offsets.tolist()
        if image_headers:
            is_header = layout.is_header_offset(batch.file_offsets)
            for i in _suspects(batch, decode).tolist():  # the others have a sound header, nothing to report
                if not is_header[i]:
                    _check_image_header(name, file_offsets[i], batch[i], decode, problems, headerless)
            for i in np.flatnonzero(is_header).tolist():
                _check_layout_header(name, file_offsets[i], batch[i], problems)
        if on_record is not None:
            for offset, record in zip(file_offsets, batch):
                on_record(offset, record)
        offsets.extend(file_offsets)
        if progress is not None:
            progress(len(batch))

    if is_uri(name):
        try:
            with RecordReader(name) as reader:
                for batch in reader.iter_batches():
                    check(batch)
        except NotRecordIOError:
            raise  # another kind of file: one line saying what it is, not a list of problems
        except RecordIOError as exc:
            problems.append(error(name, "framing", exc.reason + " (stream: later records not checked)", offset=exc.offset))
    else:
        _walk_local(local_path(name), name, check, problems, max_problems)
    problems += _headerless_problems(name, headerless, len(offsets) - layout.header_records)
    if index_error is not None:
        problems.append(index_error)
    elif index_data is not None:
        _check_index(idx, index_data, offsets, problems)
        problems += _missing_layout_keys(idx, layout, index_data[0])
    problems.sort(key=lambda p: (p.path != name, p.offset if p.offset is not None else -1, p.line or 0))
    return VerifyResult(name, problems[:max_problems], records=len(offsets), layout=None if not image_headers else layout.to_dict())


def _read_index_of(name: str, index) -> tuple[str | None, tuple | None, Problem | None]:
    """The ``.idx`` to check (``index``: a path, None/True for the default one when it exists, False
    for none), its ``(keys, offsets)``, or the problem that stopped reading it."""
    if index is False:
        return None, None, None
    idx = os.fspath(index) if index not in (None, True) else default_index_path(name)
    if index in (None, True) and not exists(idx):
        return idx, None, None
    try:
        return idx, read_index(idx), None
    except IcformatError as exc:
        return idx, None, error(idx, "bad-index-file", getattr(exc, "reason", None) or str(exc), line=getattr(exc, "line", None))


def _layout(name: str, index_data: tuple | None) -> RecLayout:
    """The layout whose header records are checked as such (plain when it cannot be read: the walk
    reports what is wrong with the file)."""
    try:
        return detect_layout(name, index=index_data)
    except (IcformatError, OSError):
        return PLAIN_LAYOUT


def _check_layout_header(name: str, offset: int, record, problems: list[Problem]) -> None:
    """A record whose key the InsightFace header names as an identity record must be one: labels
    (the identity's image key range) and no image."""
    try:
        split = split_record(record)
    except RecordIOError:
        split = None
    if split is None or split.header.flag < 2 or len(split.image):
        what = "no image header" if split is None else f"flag {split.header.flag}, {len(split.image):,}-byte image"
        problems.append(warning(name, "not-identity-record", f"its key is in the identity range that record 0 announces, but it "
                                                             f"is no identity header record ({what}); InsightFace readers skip it",
                                offset=offset))


def _missing_layout_keys(idx: str, layout: RecLayout, keys) -> list[Problem]:
    """An InsightFace face set whose ``.idx`` lacks image keys that record 0 announces: readers
    (``MXFaceDataset``) fail on them with a ``KeyError``."""
    missing = layout.missing_image_keys(keys)
    if not missing.size:
        return []
    return [error(idx, "missing-image-keys", f"{missing.size:,} of the image keys {layout.images.start}-{layout.images.stop - 1} that "
                                            f"record 0 announces are not in the index (the first: {int(missing[0])}); InsightFace's "
                                            "MXFaceDataset fails on them with a KeyError")]


def _headerless_problems(name: str, headerless: list[Problem], records: int) -> list[Problem]:
    """One warning when no record has an image header (framing verified), else each record's problem."""
    if records and len(headerless) == records:
        return [warning(name, "no-image-header", f"none of the {records:,} records carries an image header (not image "
                                                 "records); framing verified; use --raw to skip the image-header check")]
    return headerless


def _walk_local(local: str, name: str, check, problems: list[Problem], max_problems: int) -> None:
    """Hand every record to ``check`` in batches; after bad framing, record it and resynchronise
    at the next record head."""
    with open_local(local, "rb") as f:  # a folder or a missing file: the one rule, said once
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            problems.append(error(name, "empty", "empty file: no records (SageMaker fails with 'Empty .rec file')", offset=0))
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            view = memoryview(mm)
            pos, batch, dropped = 0, None, 0
            try:
                while pos < size and len(problems) < max_problems:
                    end = min(size, pos + CHUNK_BYTES)
                    scan = scan_records(view, pos, end, 0, final=end == size, path=name)
                    if not scan.heads.size and scan.error is None:  # one record larger than the window
                        scan = scan_records(view, pos, size, 0, final=True, path=name, max_records=1)
                    if scan.heads.size:
                        batch = make_batch(scan, view, 0, scan.heads.size, 0, name, mm)
                        check(batch)
                        batch = None
                    pos = scan.next_pos
                    dropped = _drop_pages(mm, dropped, pos)  # memory stays flat whatever the file's size
                    exc = scan.error
                    if isinstance(exc, NotRecordIOError):
                        raise exc
                    if exc is not None:
                        problems.append(error(name, "framing", exc.reason, offset=exc.offset))
                        resync = _next_head(mm, (exc.offset or pos) + 4, size)
                        if resync is None:
                            break
                        problems.append(error(name, "resynchronised", f"resynchronised: next record head after {resync - pos:,} skipped bytes",
                                               offset=resync))
                        pos = resync
            except BaseException as exc:
                batch = exc.__traceback__ = None  # they hold record views into the map, which could not close
                raise
            finally:
                view.release()


def _suspects(batch: RecordBatch, decode: bool) -> np.ndarray:
    """Indices of the records whose image header ``_check_image_header`` must look at: all with
    ``decode``; else those without a sound single-label header over a non-empty image (multi-label
    records included), which are the only ones it can report."""
    if decode:
        return np.arange(len(batch))
    columns = batch.headers(check=False)
    sound = columns.fits & (columns.flag == 0) & np.isfinite(columns.label) & (columns.image_lengths > 0)
    return np.flatnonzero(~sound)


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


def _check_image_header(name: str, offset: int, record, decode: bool, problems: list[Problem], headerless: list[Problem]) -> None:
    if len(record) < HEADER_SIZE:
        headerless.append(error(name, "short-record", f"record of {len(record):,} bytes is too short for the 24-byte image header",
                                offset=offset))
        return
    flag, label, _, _ = HEADER.unpack_from(record, 0)
    start = HEADER_SIZE
    if flag > 0:
        if flag > _MAX_LABELS or HEADER_SIZE + 4 * flag > len(record):
            headerless.append(error(name, "bad-header-flag", f"image header flag {flag:,} (label count) does not fit the "
                                                             f"{len(record):,}-byte record", offset=offset))
            return
        labels = np.frombuffer(record, dtype="<f4", count=flag, offset=HEADER_SIZE)
        if not np.isfinite(labels).all():
            problems.append(error(name, "label-not-finite", "multi-label header holds NaN or infinite labels", offset=offset))
        start += 4 * flag
    elif not np.isfinite(label):
        problems.append(error(name, "label-not-finite", f"label is {label}", offset=offset))
    image = record[start:]
    if len(image) == 0:
        problems.append(error(name, "empty-image", "empty image payload", offset=offset))
    elif decode:
        from ..image.verdict import judge_image

        for finding in judge_image(image).findings:
            problems.append(Problem(name, None, finding.message, finding.severity, finding.code, offset))


def _check_index(idx: str, index_data: tuple, offsets: list[int], problems: list[Problem]) -> None:
    keys, idx_offsets = index_data
    heads = set(offsets)
    seen: dict = {}
    for line, (key, offset) in enumerate(zip(keys, idx_offsets), 1):
        if key in seen:
            problems.append(error(idx, "duplicate-key", f"duplicate key {key} (first on line {seen[key]})", line=line))
        seen.setdefault(key, line)
        if offset not in heads:
            problems.append(error(idx, "bad-index-offset", f"offset {offset} (key {key}) is not the start of a record", line=line))
    missing = heads - set(idx_offsets)
    if missing:
        first = min(missing)
        problems.append(error(idx, "index-incomplete", f"{len(missing):,} record(s) are not in the index, the first at byte {first}; "
                                                      "rebuild it with 'icformat rec index'"))


def check_image_header(path: str, offset: int, record, *, decode: bool = False) -> list[Problem]:
    """The problems ``verify_rec`` reports for one record's image header (empty when it is fine)."""
    problems: list[Problem] = []
    _check_image_header(path, offset, record, decode, problems, problems)
    return problems
