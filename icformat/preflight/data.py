"""What a data channel holds, gathered in one streaming pass: how many images, their labels, their
sizes (from image headers, no decode), a digest of their bytes, and where each one is.

:class:`Collector` gathers per-image facts into plain lists (cheap to append to in a hot loop);
:meth:`Collector.finish` turns them into the numpy arrays of :class:`ChannelData`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from hashlib import blake2b as _blake2b
from typing import Any, Callable

import numpy as np
from simplejpeg import decode_jpeg_header as _jpeg_header

from ..io.paths import is_uri, local_path
from ..errors import ImageError, ImageTooLarge
from ..image.decode import image_info
from .findings import WARNING, Finding


_HEADER_BYTES = 1 << 16  # image headers (JPEG SOF, PNG IHDR, EXIF) sit in the first 64 KiB
_SOI = b"\xff\xd8"
_EXIF = b"Exif"


@dataclass
class ChannelData:
    """The facts preflight checks against the hyperparameters and the other channels."""

    name: str
    kind: str  # rec, lst, manifest
    files: list[str] = field(default_factory=list)
    count: int = 0
    single: np.ndarray | None = None  # float64 class id per image (single-label data)
    multi: np.ndarray | None = None  # float32 (images x width) label rows (multi-label data), as stored
    label_width: int | None = None
    heights: np.ndarray | None = None  # int32 per image, -1 when unknown
    widths: np.ndarray | None = None
    file_index: np.ndarray | None = None  # int32 per image: index into ``files``
    position: np.ndarray | None = None  # int64 per image: byte offset (rec) or line (text files)
    digests: np.ndarray | None = None  # uint64 per image: digest of the image bytes
    byte_sizes: np.ndarray | None = None  # int64 per image: size of the image file (lst channels)
    image_paths: list[str] | None = None  # per image: where its bytes are (lst: the file; manifest: the ref)
    labels_checked: bool = False  # True when a validator already checked labels against num_classes
    findings: list[Finding] = field(default_factory=list)

    def class_counts(self) -> dict[int, int]:
        """Images per class id (whole, non-negative ids only)."""
        if self.multi is not None and self.multi.size:
            counts = (self.multi == 1).sum(axis=0)
            return {int(k): int(v) for k, v in enumerate(counts) if v}
        if self.single is None or not self.single.size:
            return {}
        whole = self.single[(self.single >= 0) & (self.single == np.floor(self.single))].astype(np.int64)
        values, counts = np.unique(whole, return_counts=True)
        return dict(zip(values.tolist(), counts.tolist()))

    def distinct_labels(self) -> list:
        """Each distinct label once (what the trainer's ``check_dataset`` needs to see)."""
        if self.multi is not None:
            return [tuple(row) for row in np.unique(self.multi, axis=0).tolist()] if self.multi.size else []
        return np.unique(self.single).tolist() if self.single is not None else []

    def locate(self, i: int) -> tuple[str | None, int | None, int | None]:
        """``(path, line, offset)`` of image ``i``."""
        if self.file_index is None or self.position is None:
            return None, None, None
        path = self.files[int(self.file_index[i])] if self.files else None
        value = int(self.position[i])
        return (path, None, value) if self.kind == "rec" else (path, value, None)

    def min_image_shape(self) -> tuple[int, int] | None:
        """Smallest known height and smallest known width, or None when no size is known."""
        if self.heights is None:
            return None
        known = self.heights >= 0
        if not known.any():
            return None
        return int(self.heights[known].min()), int(self.widths[known].min())


class Collector:
    """Per-image facts appended one image at a time (one tuple per image: cheap in a hot loop)."""

    def __init__(self, digests: bool = True):
        self.rows: list[tuple] = []
        self.digests = digests

    def add(self, label: Any, image, file_index: int, position: int) -> str | None:
        """Record one image; returns why its header cannot be read (None when it can)."""
        digest = _blake2b(image, digest_size=8).digest() if self.digests else b""
        height, width, reason = header_size(image)
        self.rows.append((label, file_index, position, height, width, digest))
        return reason

    def __len__(self) -> int:
        return len(self.rows)

    def truncate(self, count: int) -> None:
        """Forget every image after the first ``count``."""
        del self.rows[count:]

    def finish(self, data: ChannelData) -> ChannelData:
        rows = self.rows
        data.count = len(rows)
        labels, files, positions, heights, widths, digests = zip(*rows) if rows else ((),) * 6
        data.heights = np.asarray(heights, dtype=np.int32)
        data.widths = np.asarray(widths, dtype=np.int32)
        data.file_index = np.asarray(files, dtype=np.int32)
        data.position = np.asarray(positions, dtype=np.int64)
        if self.digests:
            data.digests = np.frombuffer(b"".join(digests), dtype="<u8").copy()
        set_labels(data, list(labels))
        return data


def set_labels(data: ChannelData, labels: list) -> None:
    """Store ``labels`` (floats, or sequences for multi-label data) as the channel's label arrays."""
    vectors = [v for v in labels if isinstance(v, (list, tuple, np.ndarray))]
    if not vectors:
        data.single = np.asarray(labels, dtype=np.float64)
        data.label_width = 1 if labels else None
        return
    widths = {len(v) for v in vectors}
    data.label_width = widths.pop() if len(widths) == 1 and len(vectors) == len(labels) else None
    width = max(len(v) for v in vectors)
    rows = np.zeros((len(labels), width), dtype=np.float32)
    for i, v in enumerate(labels):
        values = np.atleast_1d(np.asarray(v, dtype=np.float32))
        rows[i, : len(values)] = values
    data.multi = rows


def header_size(image) -> tuple[int, int, str | None]:
    """``(height, width, None)`` as displayed (EXIF orientation applied), from the image header
    only, or ``(-1, -1, reason)``. JPEGs without EXIF take a shortcut through libjpeg-turbo's header
    reader; it gives what :func:`~icformat.image.decode.image_info` gives (tests/test_preflight_data.py)."""
    if image[:2] == _SOI and _EXIF not in bytes(image[:_HEADER_BYTES]):
        try:
            height, width, _, _ = _jpeg_header(image)
            if height and width:
                return height, width, None
        except ValueError:
            pass
    try:
        info = image_info(image)
    except ImageTooLarge as exc:  # over the pixel budget: its size is known (--check-images reports it)
        if exc.height and exc.width:
            return exc.height, exc.width, None
        return -1, -1, str(exc)
    except ImageError as exc:
        return -1, -1, str(exc)
    return info.height, info.width, None


def read_header_bytes(path: str) -> bytes:
    """The first 64 KiB of a local image file (all of it when its header runs longer)."""
    with open(path, "rb") as f:
        head = f.read(_HEADER_BYTES)
        if len(head) == _HEADER_BYTES and b"\xff\xc0" not in head and b"\xff\xc2" not in head and not head.startswith(b"\x89PNG"):
            head += f.read()
    return head


REMOTE_HEADER_LIMIT = 20_000  # above this many images on S3, sizes are read only with --check-images


def fill_header_sizes(data: ChannelData, *, workers: int = 16, progress=None) -> Finding | None:
    """Read the image header (the first 64 KiB: a ranged GET on S3) of every image of ``data`` whose
    size is not known yet, in ``workers`` threads for remote images. Above ``REMOTE_HEADER_LIMIT``
    remote images, or when the first remote image cannot be read, a warning says why none was read."""
    from ..io.objects import ObjectStore, describe_error
    from ..io.parallel import map_ordered

    paths = data.image_paths
    todo = [i for i in np.flatnonzero(data.heights < 0).tolist() if paths[i]]
    remote = list(itertools.islice((i for i in todo if is_uri(paths[i])), REMOTE_HEADER_LIMIT + 1))
    where = data.files[0] if data.files else None
    if len(remote) > REMOTE_HEADER_LIMIT:
        return Finding(WARNING, "image-size", f"image sizes not read: more than {REMOTE_HEADER_LIMIT:,} images are on "
                       "S3", "add --check-images to fetch and check every image", "", data.name, where)
    store = ObjectStore()
    if remote:
        try:
            _read_head(store, data.image_paths[remote[0]])
        except Exception as exc:  # no credentials, no bucket...: do not try every image
            return Finding(WARNING, "image-size", f"image sizes not read: cannot read {data.image_paths[remote[0]]} "
                           f"({describe_error(exc)})", "make the images readable from here, or add --check-images", "",
                           data.name, where)

    def head(i: int):
        try:
            return header_size(_read_head(store, data.image_paths[i]))
        except Exception:  # missing or unreadable: reported by the checks that look for it
            return -1, -1, None

    for i, (height, width, _) in map_ordered(head, todo, workers=workers if remote else 1):
        data.heights[i], data.widths[i] = height, width
        if progress is not None:
            progress(1)
    return None


def _read_head(store, path: str) -> bytes:
    """The first 64 KiB of an image: a ranged GET on S3, a read of a local file."""
    from ..io.paths import split_s3

    if path.startswith("s3://"):
        bucket, key = split_s3(path)
        return store.s3().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{_HEADER_BYTES - 1}")["Body"].read()
    return read_header_bytes(local_path(path))


def fetch_and_judge(data: ChannelData, items, *, workers: int | None, progress,
                    on_bad: Callable[[int, str], None]) -> None:
    """Read every image ``items`` names (indices into ``data.image_paths``) in parallel and judge it
    with the one image verdict (:func:`icformat.image.verdict.judge_image`): a usable image gets its
    displayed size and digest in ``data``; an unusable or unreadable one is handed to ``on_bad``."""
    from ..image.verdict import judge_image
    from ..io.objects import ObjectStore
    from ..io.parallel import map_ordered

    store = ObjectStore()

    def fetch(i: int):
        try:
            image = store.read(data.image_paths[i])
        except Exception as exc:  # a missing object, a transport error: one line each
            return None, f"cannot read: {exc}"
        verdict = judge_image(image)
        return (image, None) if verdict.ok else (None, verdict.reason)

    digests = np.zeros(len(data.heights), dtype=np.uint64)
    for i, (image, reason) in map_ordered(fetch, items, workers=workers or 16):
        if progress is not None:
            progress(1)
        if reason is not None:
            on_bad(i, reason)
            continue
        data.heights[i], data.widths[i], _ = header_size(image)
        digests[i] = int.from_bytes(_blake2b(image, digest_size=8).digest(), "little")
    data.digests = digests
