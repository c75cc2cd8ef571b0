"""Decoding images: JPEG through libjpeg-turbo (simplejpeg), at reduced DCT scale when asked;
everything else through Pillow. Knows nothing about containers. Every decode first checks the
image's header size against the pixel budget (``budget.py``): ``max_pixels`` arguments, None for
the default."""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from ..errors import ImageError
from ..io.sniff import image_kind
from .budget import JpegFrame, check_jpeg, check_pixels, jpeg_frame, jpeg_layout, open_image, out_of_memory, resolve_max_pixels

JPEG_SOI = b"\xff\xd8"
TRANSPOSED = (5, 6, 7, 8)  # EXIF orientations that swap height and width


def unknown_format_message(data: bytes | memoryview) -> str:
    """Why bytes are not an image, naming their first bytes (in hex, never a Python repr)."""
    return f"not a readable image (unknown format; the file starts with {bytes(data[:8]).hex(' ')})"


def is_jpeg(data: bytes | memoryview) -> bool:
    """True when ``data`` starts like a JPEG file."""
    return bytes(data[:2]) == JPEG_SOI


def image_format(data: bytes | memoryview) -> str:
    """A short format name from the magic bytes: jpeg, png, gif, bmp, tiff, webp, or unknown."""
    return image_kind(data)


def image_size(data: bytes | memoryview, *, max_pixels: int | None = None) -> tuple[int, int]:
    """``(height, width)`` read from the header only. JPEGs are not checked against the pixel
    budget here (a reduced-scale decode may fit it); other formats, decoded whole, are."""
    if is_jpeg(data):
        import simplejpeg

        try:
            h, w, _, _ = simplejpeg.decode_jpeg_header(data)
            return h, w
        except ValueError:
            pass
    try:
        with open_image(data, max_pixels) as im:
            return im.height, im.width
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"cannot read image header: {_pillow_reason(exc, data)}") from exc


def exif_orientation(data: bytes | memoryview) -> int:
    """The EXIF orientation tag (1..8), 1 when absent. Reads the header only: for a JPEG its first
    EXIF segment before the scan data (found by the one marker walk, ``budget.jpeg_layout``; no
    64 KiB search, whatever the image's size), for other formats what Pillow reads from the header."""
    if not is_jpeg(data) and b"Exif" not in bytes(data[: 1 << 16]):
        return 1
    try:
        if is_jpeg(data):
            return _exif_orientation(data, jpeg_layout(data)[1])
        with open_image(data) as im:
            return _orientation(im.getexif().get(0x0112, 1))
    except Exception:
        return 1


def _exif_orientation(data, segment: tuple[int, int] | None) -> int:
    """The orientation tag of a JPEG's EXIF ``segment`` (``(start, length)``), as Pillow reads it;
    1 when there is none or it cannot be read."""
    if segment is None:
        return 1
    from PIL import Image

    start, length = segment
    try:
        exif = Image.Exif()
        exif.load(bytes(data[start : start + length]))
        return _orientation(exif.get(0x0112, 1))
    except Exception:
        return 1


def _orientation(value) -> int:
    """An EXIF orientation tag's value as 1..8; 1 for anything else."""
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


class JpegHeader(NamedTuple):
    """A JPEG's header, read once: ``height``, ``width``, ``colorspace`` and ``subsampling`` as
    libjpeg reads them (``simplejpeg.decode_jpeg_header``), its ``frame`` as the pixel budget
    reads it (``budget.jpeg_layout``) and its EXIF ``orientation`` (1..8)."""

    height: int
    width: int
    colorspace: str
    subsampling: str
    frame: JpegFrame | None
    orientation: int


def jpeg_header(data: bytes | memoryview) -> JpegHeader | None:
    """:class:`JpegHeader` of JPEG ``data``, None when libjpeg cannot read its header; raises
    ``ImageError`` for a JPEG no decoder should walk (see ``budget.markers``)."""
    import simplejpeg

    try:
        height, width, colorspace, subsampling = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    frame, exif = jpeg_layout(data)
    return JpegHeader(height, width, colorspace, subsampling, frame, _exif_orientation(data, exif))


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip ``array`` (HxW[xC]) so that it displays upright, as OpenCV's imread does."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return array.swapaxes(0, 1)[:, ::-1]
    if orientation == 7:
        return array.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return array.swapaxes(0, 1)[::-1]
    return array


def decode(
    data: bytes | memoryview,
    *,
    color: int = 1,
    min_height: int = 0,
    min_width: int = 0,
    apply_exif: bool = True,
    fast: bool = False,
    strict: bool = False,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Decode ``data`` to ``uint8``: ``color=1`` RGB (HxWx3, alpha dropped), ``0`` gray (HxW),
    ``-1`` unchanged (channels as stored; 16-bit PNGs stay uint16).

    For JPEGs with ``min_height``/``min_width`` set, libjpeg-turbo decodes at the smallest DCT scale
    (1/2, 1/4, 1/8) that keeps both sides at least that large, which is several times faster than a
    full decode followed by a resize. EXIF orientation is applied as OpenCV's ``imread`` does.
    ``strict`` turns libjpeg's warnings (a JPEG cut short, corrupt data) into ``ImageError``;
    by default such JPEGs decode as OpenCV and MXNet decode them.

    An image whose header size is over ``max_pixels`` (the size a reduced-scale JPEG decode
    allocates, for those) raises ``ImageTooLarge`` before anything is decoded, as does a decode
    that runs out of memory.
    """
    if len(data) == 0:
        raise ImageError("empty image data (0 bytes)")
    limit = resolve_max_pixels(max_pixels)
    try:
        orientation = exif_orientation(data) if apply_exif else 1
        if is_jpeg(data) and color in (0, 1):
            array = _decode_jpeg(data, color, min_height, min_width, orientation, fast, strict, limit)
            if array is not None:
                return apply_orientation(array, orientation)
        return apply_orientation(_decode_pillow(data, color, limit), orientation)
    except MemoryError:
        raise out_of_memory(data, limit) from None


def _decode_jpeg(data, color, min_height, min_width, orientation, fast, strict=False, max_pixels=None) -> np.ndarray | None:
    import simplejpeg

    if orientation in TRANSPOSED:  # the stored image is transposed: swap the minimums
        min_height, min_width = min_width, min_height
    check_jpeg(data, max_pixels, min_height=min_height, min_width=min_width)
    try:
        array = simplejpeg.decode_jpeg(
            data,
            colorspace="GRAY" if color == 0 else "RGB",
            fastdct=fast,
            fastupsample=fast,
            min_height=min_height,
            min_width=min_width,
            min_factor=1.0,
            strict=strict,
        )
    except ValueError as exc:
        if "CMYK" in str(exc) or "colorspace" in str(exc).lower() or "Unsupported" in str(exc):
            return None  # CMYK/YCCK JPEGs: Pillow converts them
        raise ImageError(f"cannot decode JPEG: {exc}") from exc
    return array[:, :, 0] if color == 0 and array.ndim == 3 else array


def _decode_pillow(data, color, max_pixels=None) -> np.ndarray:
    from PIL import UnidentifiedImageError

    try:
        with open_image(data, max_pixels) as im:
            im.load()
            if color == 1:
                im = im.convert("RGB")
            elif color == 0:
                im = im.convert("L")
            elif im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            return np.asarray(im)
    except UnidentifiedImageError:
        raise ImageError(unknown_format_message(data)) from None
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot decode image: {exc}") from exc


class ImageInfo(NamedTuple):
    """What a header says about an image: ``format`` (jpeg, png...), ``height`` and ``width`` as
    displayed (EXIF orientation applied), ``mode`` as Pillow names it (RGB, L, CMYK, RGBA, LA, P,
    I;16...), bits per sample, ``alpha`` and the EXIF ``orientation`` (1..8)."""

    format: str
    height: int
    width: int
    mode: str
    bits: int
    alpha: bool
    orientation: int


_JPEG_MODES = {"Gray": "L", "YCbCr": "RGB", "RGB": "RGB", "CMYK": "CMYK", "YCCK": "CMYK"}


def image_info(data: bytes | memoryview, *, max_pixels: int | None = None) -> ImageInfo:
    """Read :class:`ImageInfo` from the header only (no pixel decoding); raises ``ImageError`` for
    empty data or an unknown/unreadable format, ``ImageTooLarge`` for an image over the pixel
    budget (at full size: what MXNet and a full decode allocate)."""
    if len(data) == 0:
        raise ImageError("empty file (0 bytes)")
    fmt = image_format(data)
    orientation = exif_orientation(data) if fmt in ("jpeg", "tiff", "webp", "png") else 1
    if fmt == "jpeg":
        import simplejpeg

        try:
            h, w, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError:
            h = w = 0
        frame = jpeg_frame(data) if h and w else None
        if frame is not None:
            check_pixels(frame.height, frame.width, max_pixels)
        if h and w:
            if orientation in TRANSPOSED:
                h, w = w, h
            return ImageInfo(fmt, h, w, _JPEG_MODES.get(colorspace, colorspace), 8, False, orientation)
    from PIL import UnidentifiedImageError

    try:
        with open_image(data, max_pixels) as im:
            mode, (w, h) = im.mode, im.size
            alpha = "A" in im.getbands() or (mode in ("P", "L", "RGB") and "transparency" in im.info)
            fmt = (im.format or fmt).lower()
    except UnidentifiedImageError:
        raise ImageError(unknown_format_message(data)) from None
    except ImageError:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise ImageError(f"not a readable image ({_pillow_reason(exc, data)})") from exc
    bits = 16 if mode.startswith("I;16") or mode == "I" else 1 if mode == "1" else 8
    if fmt == "png" and len(data) > 24 and bytes(data[12:16]) == b"IHDR":
        bits = data[24]  # Pillow reads 16-bit RGB PNGs as 8-bit RGB: trust the header
    if orientation in TRANSPOSED:
        h, w = w, h
    return ImageInfo(fmt, h, w, mode, bits, alpha, orientation)


def verify_image(data: bytes | memoryview, *, strict: bool = True, max_pixels: int | None = None) -> ImageInfo:
    """Decode every pixel and return the header :class:`ImageInfo`; raises ``ImageError`` saying why
    when the image is empty, truncated, corrupt or not an image. ``strict=False`` lets JPEGs with
    recoverable errors pass (libjpeg warnings, which OpenCV and MXNet accept). JPEGs are decoded at
    1/8 scale: every entropy-coded byte is still read, at a fraction of the cost. An image over
    ``max_pixels`` raises ``ImageTooLarge`` undecoded."""
    limit = resolve_max_pixels(max_pixels)
    info = image_info(data, max_pixels=limit)
    try:
        if info.format == "jpeg" and info.mode in ("RGB", "L"):
            import simplejpeg

            try:
                simplejpeg.decode_jpeg(data, colorspace="GRAY" if info.mode == "L" else "RGB", min_height=1, min_width=1, strict=strict)
            except ValueError as exc:
                raise ImageError(_jpeg_reason(str(exc))) from exc
            return info
        try:
            with open_image(data, limit) as im:
                im.load()
        except ImageError:
            raise
        except Exception as exc:  # Pillow raises many types for broken files
            raise ImageError(f"cannot decode {info.format.upper()}: {_pillow_reason(exc, data)}") from exc
    except MemoryError:
        raise out_of_memory(data, limit) from None
    return info


def _pillow_reason(exc: Exception, data) -> str:
    """Pillow's message without the repr of our in-memory file it names."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return unknown_format_message(data)
    return re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", str(exc))


def _jpeg_reason(message: str) -> str:
    lowered = message.lower()
    if "premature end" in lowered or "truncat" in lowered:
        return f"truncated JPEG ({message})"
    return f"corrupt JPEG ({message})"
