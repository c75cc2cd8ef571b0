"""A RecordIO channel: what ``rec verify`` checks (framing, image headers) and, in the same pass, each
record's labels, image size (from the image header) and a digest of the image bytes. With
``check_images`` every image is decoded, in worker processes for local files.

The walk is ``verify_rec`` itself (batched, header checks vectorised, resynchronising after bad
framing), gathering each record's facts through its ``on_record`` hook."""
from __future__ import annotations

import mmap
import os
from typing import Any, Callable

import numpy as np

from ..io.paths import is_uri, local_path
from ..errors import RecordIOError
from ..recordio.header import HEADER, HEADER_SIZE, split_record
from ..recordio.scan import scan_sequential
from ..recordio.verify import _MAX_LABELS, verify_rec
from .data import ChannelData, Collector
from .findings import BAD_MAGIC, ERROR, WRONG_TRAINING, Finding

_DECODE_CHUNK = 256


def scan_rec_channel(name: str, files: list[str], *, check_images: bool = False, workers: int | None = None,
                     progress: Callable[[int], None] | None = None) -> ChannelData:
    """Scan the ``.rec`` files of channel ``name`` in order."""
    data = ChannelData(name, "rec", files=list(files))
    collector = Collector()
    for index, path in enumerate(files):
        _scan_file(data, collector, index, path, check_images, progress)
    collector.finish(data)
    if check_images:
        local = [i for i, p in enumerate(files) if not is_uri(p)]
        for index in local:
            offsets = data.position[data.file_index == index].tolist()
            for offset, message in decode_records(files[index], offsets, workers, progress):
                data.findings.append(Finding(ERROR, "image-decode", message, "re-encode or drop this image",
                                             "training failing on an image that does not decode", name, files[index],
                                             offset=offset))
    return data


def _scan_file(data: ChannelData, collector: Collector, index: int, path: str, check_images: bool, progress) -> None:
    """``rec verify``'s walk of one file (images decoded there for streams with ``check_images``),
    each framed record's facts gathered on the way."""
    bad_headers: list[tuple[int, str]] = []
    decode = check_images and is_uri(path)
    result = verify_rec(path, index=False, decode=decode, progress=progress, on_record=_gatherer(collector, index, bad_headers))
    for problem in result.problems:
        if problem.message.startswith("empty file"):
            continue  # an empty channel is reported once, from the record count
        data.findings.append(_verify_finding(data.name, path, problem))
    for offset, reason in bad_headers:
        data.findings.append(Finding(ERROR, "image-header", f"the record does not hold a readable JPEG/PNG image: {reason}",
                                     "repack the record from the original image (icformat im2rec)",
                                     "training failing on a record that does not decode", data.name, path,
                                     offset=offset))


def _gatherer(collector: Collector, index: int, bad_headers: list) -> Callable[[int, Any], None]:
    """The per-record step: labels, image size and digest of every record with a usable image
    header (``verify_rec`` reports the others)."""
    add = collector.add
    unpack = HEADER.unpack_from

    def gather(offset: int, record) -> None:
        size = len(record)
        if size < HEADER_SIZE:
            return
        flag, label, _, _ = unpack(record, 0)
        start = HEADER_SIZE + 4 * flag
        if flag:
            if flag > _MAX_LABELS or start > size:
                return
            label = tuple(np.frombuffer(record, dtype="<f4", count=flag, offset=HEADER_SIZE).tolist())
        reason = add(label, record[start:], index, offset)
        if reason is not None and len(bad_headers) < 1000:
            bad_headers.append((offset, reason))

    return gather


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
    with open(local_path(path), "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
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
