"""What the report needs from one image, computed once as it streams by (on worker threads):
header facts, a perceptual hash (``imagehash.phash``) and a digest of the bytes, whether it is gray
and how uniform it is. Decoding goes through the one decoder, at a reduced DCT scale for JPEGs (the
hash looks at 32x32 pixels). Thumbnails are made only for the few images shown (:func:`thumbnail_of`)."""
from __future__ import annotations

import base64
import hashlib
import io
from typing import NamedTuple

import numpy as np

from ..errors import ImageError, MissingDependencyError
from ..image.decode import decode, image_info

THUMB_PIXELS = 96
_HASH_SIDE = 32


def import_imagehash():
    """``imagehash``, or a clear error saying how to install it."""
    try:
        import imagehash
    except ImportError as exc:
        raise MissingDependencyError("the report needs imagehash and matplotlib: pip install 'icformat[report]'") from exc
    return imagehash


class Look(NamedTuple):
    """One image as the report sees it (``error`` set, and the rest empty, when it cannot be decoded)."""

    digest: int
    height: int = 0
    width: int = 0
    mode: str = ""
    phash: int = 0
    gray: bool = False
    spread: float = 0.0  # standard deviation of the gray levels (0 for a uniform image)
    error: str | None = None


def digest_of(data: bytes | memoryview) -> int:
    """A 64-bit digest of the bytes (exact duplicates share it)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def look_at(data: bytes | memoryview) -> Look:
    """Everything :class:`Look` holds, for the encoded image ``data``."""
    from PIL import Image, ImageStat

    imagehash = import_imagehash()
    digest = digest_of(data)
    try:
        info = image_info(data)
        pixels = decode(data, color=1, min_height=_HASH_SIDE, min_width=_HASH_SIDE)
    except ImageError as exc:
        return Look(digest, error=str(exc))
    image = Image.fromarray(np.ascontiguousarray(pixels))
    bits = np.packbits(np.asarray(imagehash.phash(image).hash, dtype=bool).ravel())
    ycbcr = image.convert("YCbCr")
    chroma = ycbcr.getextrema()[1:]  # a gray image has Cb and Cr at 128 throughout
    gray = max(abs(v - 128) for band in chroma for v in band) <= 2
    spread = ImageStat.Stat(ycbcr.getchannel(0)).stddev[0]
    return Look(digest, info.height, info.width, info.mode, int.from_bytes(bits.tobytes(), "big"), gray, float(spread))


def thumbnail_uri(thumb: np.ndarray | None) -> str:
    """A ``data:`` URI of the thumbnail as a JPEG (an empty gray square when there is none)."""
    from PIL import Image

    if thumb is None:
        thumb = np.full((THUMB_PIXELS // 2, THUMB_PIXELS // 2, 3), 200, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(thumb)).convert("RGB").save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_of(data: bytes | memoryview) -> str:
    """The thumbnail ``data:`` URI of encoded image bytes (a gray square when they do not decode)."""
    from PIL import Image

    try:
        pixels = decode(data, color=1, min_height=THUMB_PIXELS, min_width=THUMB_PIXELS)
    except ImageError:
        return thumbnail_uri(None)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    image.thumbnail((THUMB_PIXELS, THUMB_PIXELS))
    return thumbnail_uri(np.asarray(image))
