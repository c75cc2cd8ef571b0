"""A RecordIO channel: what ``rec verify`` checks (framing, image headers) and, in the same pass, each
record's labels, image size (from the image header) and a digest of the image bytes. With
``check_images`` every image is decoded, in worker processes for local files.

The fast path (local files, whose framing is sound) reads through ``RecordReader``; the plain path
is ``verify_rec`` itself. tests/test_preflight_data.py shows both give the same facts and problems."""
from __future__ import annotations

import math
import mmap
import os
from typing import Any, Callable

import numpy as np

from ..errors import RecordIOError
from ..recordio.header import HEADER, HEADER_SIZE, split_record
from ..recordio.reader import RecordReader
from ..recordio.scan import scan_sequential
from ..recordio.verify import _MAX_LABELS, check_image_header, verify_rec
from .. import streams
from .data import ChannelData, Collector
from .findings import BAD_MAGIC, ERROR, WRONG_TRAINING, Finding

_DECODE_CHUNK = 256
_PROGRESS_EVERY = 10_000


def scan_rec_channel(name: str, files: list[str], *, check_images: bool = False, workers: int | None = None,
                     progress: Callable[[int], None] | None = None, fast: bool = True) -> ChannelData:
    """Scan the ``.rec`` files of channel ``name`` in order (``fast=False``: the plain path only)."""
    data = ChannelData(name, "rec", files=list(files))
    collector = Collector()
    for index, path in enumerate(files):
        _scan_file(data, collector, index, path, check_images, progress, fast)
    collector.finish(data)
    if check_images:
        local = [i for i, p in enumerate(files) if not streams.is_uri(p)]
        for index in local:
            offsets = data.position[data.file_index == index].tolist()
            for offset, message in decode_records(files[index], offsets, workers, progress):
                data.findings.append(Finding(ERROR, "image-decode", message, "re-encode or drop this image",
                                             "training failing on an image that does not decode", name, files[index],
                                             offset=offset))
    return data


def _scan_file(data: ChannelData, collector: Collector, index: int, path: str, check_images: bool, progress,
               fast: bool = True) -> None:
    """Local files go through the reader's fast path, image headers checked by ``rec verify``'s own
    rule wherever a cheap test finds them suspect; a file whose framing breaks is gathered again
    within ``rec verify``'s resynchronising walk (the plain path, which streams take too)."""
    bad_headers: list[tuple[int, str]] = []
    start = len(collector)
    problems = None
    if fast and not streams.is_uri(path) and os.path.isfile(streams.local_path(path)):
        problems = []
        if not _gather_fast(path, _gatherer(collector, index, bad_headers, path, problems), progress):
            collector.truncate(start)
            bad_headers.clear()
            problems = None
    if problems is None:
        decode = check_images and streams.is_uri(path)
        result = verify_rec(path, index=False, decode=decode, progress=progress,
                            on_record=_gatherer(collector, index, bad_headers))
        problems = result.problems
    for problem in problems:
        if problem.message.startswith("empty file"):
            continue  # an empty channel is reported once, from the record count
        data.findings.append(_verify_finding(data.name, path, problem))
    for offset, reason in bad_headers:
        data.findings.append(Finding(ERROR, "image-header", f"the record does not hold a readable JPEG/PNG image: {reason}",
                                     "repack the record from the original image (icformat im2rec)",
                                     "training failing on a record that does not decode", data.name, path,
                                     offset=offset))


def _gatherer(collector: Collector, index: int, bad_headers: list, path: str | None = None,
              problems: list | None = None) -> Callable[[int, Any], None]:
    """The per-record step. With ``problems``, image headers are checked too (by ``rec verify``'s
    rule, called only for records that a cheap test finds suspect)."""
    add = collector.add
    unpack = HEADER.unpack_from
    isfinite = math.isfinite

    def suspect(offset: int, record) -> None:
        if problems is not None:
            problems.extend(check_image_header(path, offset, record))

    def gather(offset: int, record) -> None:
        size = len(record)
        if size < HEADER_SIZE:
            return suspect(offset, record)
        flag, label, _, _ = unpack(record, 0)
        start = HEADER_SIZE + 4 * flag
        if flag:
            if flag > _MAX_LABELS or start > size:
                return suspect(offset, record)
            label = tuple(np.frombuffer(record, dtype="<f4", count=flag, offset=HEADER_SIZE).tolist())
            if not all(map(isfinite, label)):
                suspect(offset, record)
        elif not isfinite(label):
            suspect(offset, record)
        if start == size:
            suspect(offset, record)
        reason = add(label, record[start:], index, offset)
        if reason is not None and len(bad_headers) < 1000:
            bad_headers.append((offset, reason))

    return gather


def _gather_fast(path: str, gather, progress) -> bool:
    """Every record through the reader's fast path; False when the framing breaks."""
    try:
        with RecordReader(path) as reader:
            for count, (offset, record) in enumerate(reader.iter_with_offsets(copy=False), 1):
                gather(offset, record)
                if progress is not None and not count % _PROGRESS_EVERY:
                    progress(_PROGRESS_EVERY)
    except RecordIOError:
        return False
    return True


def _verify_finding(channel: str, path: str, problem) -> Finding:
    message, offset = problem.message, problem.offset
    framing = "magic" in message or "truncated" in message or "cflag" in message or "resynchronised" in message
    return Finding(getattr(problem, "severity", ERROR), "rec-framing" if framing else "rec-record", message,
                   "rebuild the .rec (icformat im2rec) or cut it before this record" if framing
                   else "repack this record with a valid image header (icformat im2rec)",
                   BAD_MAGIC if framing else WRONG_TRAINING, channel, path, offset=offset)


# -- decoding every image (check_images) ----------------------------------------------------------


def decode_records(path: str, offsets: list[int], workers: int | None, progress) -> list[tuple[int, str]]:
    """``(offset, reason)`` for each record of a local ``.rec`` whose image does not decode."""
    chunks = [(path, offsets[i : i + _DECODE_CHUNK]) for i in range(0, len(offsets), _DECODE_CHUNK)]
    workers = min(workers or os.cpu_count() or 1, max(1, len(chunks)))
    found: list[tuple[int, str]] = []
    if workers <= 1:
        results = map(_decode_chunk, chunks)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        results = pool.map(_decode_chunk, chunks)
    try:
        for chunk, bad in zip(chunks, results):
            found += bad
            if progress is not None:
                progress(len(chunk[1]))
    finally:
        if workers > 1:
            pool.shutdown(cancel_futures=True)
    return found


def _decode_chunk(job: tuple[str, list[int]]) -> list[tuple[int, str]]:
    """(offset, reason) for each record whose image the one image verdict refuses."""
    from ..image.verdict import judge_image

    path, offsets = job
    bad = []
    with open(streams.local_path(path), "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        size = len(mm)
        view = memoryview(mm)
        try:
            for offset in offsets:
                _, payloads, _ = scan_sequential(view, offset, size, 0, final=True, path=path, max_records=1)
                record = bytes(payloads[0])
                del payloads
                try:
                    verdict = judge_image(split_record(record, offset, path).image)
                except RecordIOError as exc:
                    bad.append((offset, exc.reason))
                    continue
                if not verdict.ok:
                    bad.append((offset, f"image does not decode: {verdict.reason}"))
        finally:
            view.release()
    return bad
