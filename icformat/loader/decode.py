"""Decoding for the loader: libjpeg-turbo at the smallest DCT scale the output still allows,
into a buffer reused from image to image.

Only the power-of-two scales (1/2, 1/4, 1/8) are used: libjpeg-turbo's other scaled IDCTs have no
SIMD code and decode slower than a full-size decode. Non-JPEG images (and JPEGs that libjpeg-turbo
cannot convert, such as CMYK) go through :func:`icformat.image.decode`.

The whole image is decoded even when a crop keeps part of it. Decoding only the kept window needs
libjpeg-turbo's ``jpeg_crop_scanline``/``jpeg_skip_scanlines`` (libjpeg API) or TurboJPEG 3's
``tj3SetCroppingRegion``: simplejpeg offers neither; PyTurboJPEG 1.8.3 over the TurboJPEG 2.1 API
only has ``crop``, a lossless transform that re-encodes the window, and it alone costs as much as
decoding the whole ImageNet-size JPEG (0.56 ms against 0.57 ms, measured); the libjpeg API cannot be
driven through ctypes safely (its errors leave by ``longjmp``), so it would need a compiled
extension. The gain would be bounded anyway: entropy decoding covers the whole image whatever the
window (a 1/8-scale decode, nearly all entropy decoding, takes 60% of a full one), so a 224/256
random crop of a 500x375 photo (57% of the pixels) would save about 17% of the decode.

Every decode checks the pixel budget first (``image/budget.py``): for a JPEG the size decoded at
the chosen scale (the whole image for progressive JPEGs), so ``ImageTooLarge`` comes before any
allocation.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ImageError
from ..image.budget import check_jpeg, out_of_memory, resolve_max_pixels
from ..image.decode import TRANSPOSED, apply_orientation, exif_orientation, image_format, image_size, is_jpeg, unknown_format_message
from ..image.decode import decode as decode_any

_SCALES = (8, 4, 2)


def dct_scale(height: int, width: int, need_height: int, need_width: int) -> int:
    """The largest power-of-two reduction (8, 4, 2 or 1) that keeps the decoded image at least
    ``need_height`` x ``need_width`` (a non-positive need means full size)."""
    if need_height <= 0 or need_width <= 0:
        return 1
    for f in _SCALES:
        if -(-height // f) >= need_height and -(-width // f) >= need_width:
            return f
    return 1


def has_exif(data) -> bool:
    """Whether ``data`` may hold EXIF: a JPEG with an ``Exif`` APP1 segment among its leading
    APPn segments, or any other format (left to Pillow). Reads a few header bytes only."""
    if not is_jpeg(data):
        return True
    pos, size = 2, len(data)
    while pos + 10 <= size and data[pos] == 0xFF and 0xE0 <= data[pos + 1] <= 0xEF:
        if data[pos + 1] == 0xE1 and bytes(data[pos + 4 : pos + 10]) == b"Exif\0\0":
            return True
        pos += 2 + (data[pos + 2] << 8 | data[pos + 3])
    return False


class ImageInfo(NamedTuple):
    """What the header says: size as displayed (EXIF applied), orientation, and for JPEGs the
    stored size (so that decoding need not parse the header again)."""

    height: int
    width: int
    orientation: int = 1
    jpeg_size: tuple[int, int] | None = None


class Decoder:
    """Decodes one image at a time to ``HxWxC`` uint8 (RGB, or gray with ``channels=1``), in
    display orientation. The result may be a view of an internal buffer: it is valid until the
    next call. ``max_pixels``: the pixel budget (None: the default)."""

    def __init__(self, channels: int = 3, *, apply_exif: bool = True, max_pixels: int | None = None):
        import simplejpeg

        self._simplejpeg = simplejpeg
        self.channels = channels
        self.apply_exif = apply_exif
        self.max_pixels = resolve_max_pixels(max_pixels)
        self._colorspace = "GRAY" if channels == 1 else "RGB"
        self._buffer = np.empty(0, np.uint8)

    def probe(self, data) -> ImageInfo:
        """Read the header only."""
        orientation = exif_orientation(data) if self.apply_exif and has_exif(data) else 1
        stored = None
        if is_jpeg(data):
            h, w = stored = self._jpeg_header(data)
        elif image_format(data) == "unknown":
            raise ImageError(unknown_format_message(data))
        else:
            h, w = image_size(data, max_pixels=self.max_pixels)
        if orientation in TRANSPOSED:
            h, w = w, h
        return ImageInfo(h, w, orientation, stored)

    def size(self, data) -> tuple[int, int, int]:
        """``(height, width, orientation)`` of the image as displayed (EXIF applied)."""
        return self.probe(data)[:3]

    def _jpeg_header(self, data) -> tuple[int, int]:
        try:
            h, w, _, _ = self._simplejpeg.decode_jpeg_header(data)
        except ValueError as exc:
            raise ImageError(f"cannot read JPEG header: {exc}") from exc
        return h, w

    def decode(self, data, need_height: int, need_width: int, info: ImageInfo | int | None = None) -> np.ndarray:
        """Decode ``data``, reduced while both sides stay at least ``need_height`` x ``need_width``
        (display orientation; a non-positive need means full size). ``info`` is what
        :meth:`probe` said (or just the EXIF orientation)."""
        if len(data) == 0:
            raise ImageError("empty image data (0 bytes)")
        if not isinstance(info, ImageInfo):
            info = ImageInfo(0, 0, info or 1)
        try:
            array = self._decode_jpeg(data, need_height, need_width, info) if is_jpeg(data) else None
            if array is None:
                color = 0 if self.channels == 1 else 1
                array = decode_any(data, color=color, apply_exif=self.apply_exif, max_pixels=self.max_pixels)
                return array[:, :, None] if array.ndim == 2 else array
        except MemoryError:
            raise out_of_memory(data, self.max_pixels) from None
        if info.orientation != 1:
            array = np.ascontiguousarray(apply_orientation(array, info.orientation))
        return array

    def _decode_jpeg(self, data, need_height: int, need_width: int, info: ImageInfo) -> np.ndarray | None:
        sj = self._simplejpeg
        h, w = info.jpeg_size or self._jpeg_header(data)
        if info.orientation in TRANSPOSED:  # stored transposed
            need_height, need_width = need_width, need_height
        f = dct_scale(h, w, need_height, need_width)
        oh, ow = -(-h // f), -(-w // f)
        check_jpeg(data, self.max_pixels, min_height=oh if f > 1 else 0, min_width=ow if f > 1 else 0)
        size = oh * ow * self.channels
        if self._buffer.size < size:
            self._buffer = np.empty(int(size * 1.25), np.uint8)
        try:
            out = sj.decode_jpeg(
                data,
                colorspace=self._colorspace,
                min_height=oh if f > 1 else 0,
                min_width=ow if f > 1 else 0,
                buffer=self._buffer,
                strict=False,
            )
        except ValueError as exc:
            text = str(exc)
            if "CMYK" in text or "olorspace" in text or "Unsupported" in text:
                return None  # Pillow converts CMYK/YCCK
            raise ImageError(f"cannot decode JPEG: {exc}") from exc
        return out
