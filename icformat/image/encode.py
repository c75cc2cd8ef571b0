"""Encoding images: JPEG through libjpeg-turbo (simplejpeg), PNG through Pillow.

Arrays are RGB order (what :func:`icformat.image.decode` returns). The choices match what MXNet's
``pack_img`` gets from OpenCV's ``imencode``: JPEG quality 1-100 with 4:2:0 chroma subsampling, a
one-channel JPEG for gray images, alpha dropped for JPEG; for PNG the "quality" is the zlib
compression level, clamped to 0-9.
"""
from __future__ import annotations

import io

import numpy as np

from ..errors import ImageError, UsageError

ENCODINGS = (".jpg", ".png")
_ALIASES = {".jpg": ".jpg", ".jpeg": ".jpg", "jpg": ".jpg", "jpeg": ".jpg", ".png": ".png", "png": ".png"}


def normalize_encoding(encoding: str) -> str:
    """``'.jpeg'``, ``'JPG'``... -> ``'.jpg'``; ``'png'`` -> ``'.png'``."""
    try:
        return _ALIASES[encoding.lower()]
    except KeyError:
        raise UsageError(f"unknown encoding {encoding!r}; use .jpg or .png") from None


def to_uint8(array: np.ndarray) -> np.ndarray:
    """16-bit (or other integer) pixels scaled to 8 bits; uint8 passes through."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    raise ImageError(f"cannot encode {array.dtype} pixels; expected uint8 or uint16")


def encode_jpeg(array: np.ndarray, quality: int = 95, *, subsampling: str = "420", fastdct: bool = False) -> bytes:
    """JPEG bytes of an RGB (HxWx3), RGBA (alpha dropped) or gray (HxW) array."""
    import simplejpeg

    array = to_uint8(array)
    if array.ndim == 3 and array.shape[2] in (1, 2):  # gray (+ alpha)
        array = array[:, :, 0]
    quality = min(max(int(quality), 1), 100)
    if array.ndim == 2:
        image, colorspace, subsampling = array[:, :, None], "GRAY", "Gray"
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        image, colorspace = array, "RGB" if array.shape[2] == 3 else "RGBA"
    else:
        raise ImageError(f"cannot encode an array of shape {array.shape} as JPEG")
    try:
        return simplejpeg.encode_jpeg(
            np.ascontiguousarray(image), quality=quality, colorspace=colorspace, colorsubsampling=subsampling, fastdct=fastdct
        )
    except ValueError as exc:
        raise ImageError(f"cannot encode JPEG: {exc}") from exc


def encode_png(array: np.ndarray, compression: int = 3) -> bytes:
    """PNG bytes of a gray, gray+alpha, RGB or RGBA array (uint8, or uint16 gray)."""
    from PIL import Image

    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == np.uint16 and array.ndim == 3:
        array = to_uint8(array)  # Pillow writes 16 bits for gray only
    elif array.dtype not in (np.uint8, np.uint16):
        array = to_uint8(array)
    try:
        image = Image.fromarray(np.ascontiguousarray(array))
    except (TypeError, ValueError) as exc:
        raise ImageError(f"cannot encode an array of shape {array.shape} as PNG: {exc}") from exc
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=min(max(int(compression), 0), 9))
    return out.getvalue()


def encode(array: np.ndarray, *, encoding: str = ".jpg", quality: int = 95) -> bytes:
    """Encode as im2rec's ``--encoding``/``--quality`` do: JPEG quality, or PNG compression level."""
    if normalize_encoding(encoding) == ".png":
        return encode_png(array, quality)
    return encode_jpeg(array, quality)
