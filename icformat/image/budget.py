"""The pixel budget: every decode reads the image's size from its header first and refuses an image
above the budget before allocating anything (``ImageTooLarge``).

A 700-byte JPEG can claim 65000x65000 pixels and a PNG of zeros under 1 MB can hold 30000x30000:
decoded, either takes gigabytes. The default budget, :data:`DEFAULT_MAX_PIXELS` (178,956,970
pixels), is Pillow's own refusal threshold (twice its ``MAX_IMAGE_PIXELS``), so no image Pillow
opens by default is refused; it holds every camera's photos (the largest, 151 Mpx, Phase One IQ4)
and keeps one decode at most about 0.5 GB of RGB output, or about 1.6 GB at the peak of a
progressive JPEG (its coefficient buffers and the output): some 7% of a 2-core, 24 GB machine per
worker. ``max_pixels`` arguments, ``--max-pixels`` on the commands and ``ICFORMAT_MAX_PIXELS`` in
the environment (inherited by worker processes and serve's workers) change it.

JPEGs: the size is the largest of the frame headers (SOF) before the first scan, found by walking
the markers as libjpeg does (skipping stray bytes between them; past EOI too, to be safe). A decode at a reduced DCT scale
(``min_height``/``min_width``) allocates the scaled size, and the budget applies to that, except
for progressive or multi-scan JPEGs, where libjpeg keeps coefficients for the whole image. Other
formats: the size Pillow's ``Image.open`` reads from the header (PNG's IHDR is read directly too);
Pillow's ``MAX_IMAGE_PIXELS`` is set to the budget, and its ``DecompressionBombError`` and
``DecompressionBombWarning`` become ``ImageTooLarge``, so neither reaches the user.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import re
import struct
import warnings
from typing import NamedTuple

from ..errors import ImageError, ImageTooLarge, UsageError

DEFAULT_MAX_PIXELS = 178_956_970
ENV_VAR = "ICFORMAT_MAX_PIXELS"
HOW_TO_RAISE = f"raise the limit with --max-pixels (or {ENV_VAR}) if the image is genuine"

_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT, JPG, DAC)
_PROGRESSIVE = frozenset((0xC2, 0xC6, 0xCA, 0xCE))
_SEGMENT = re.compile(rb"\xff+([^\x00\x01\xd0-\xd9\xff])")  # a marker with a length (not TEM, RSTn, SOI, EOI)
_NO_LENGTH = frozenset((0x00, 0x01, *range(0xD0, 0xDA), 0xFF))  # what _SEGMENT's marker group excludes
_SEGMENT_HEAD = struct.Struct(">BBH")  # FF, marker, length
_SOS = 0xDA
_APP1 = 0xE1
_LAYOUT = _SOF | {_SOS, _APP1}  # the segments jpeg_layout reads
MAX_SEGMENTS = 10_000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_max_pixels(value: int) -> int:
    """``value`` as a budget: a positive number of pixels (``UsageError`` otherwise)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"max pixels must be a whole number of pixels, not {value!r}") from None
    if number <= 0:
        raise UsageError(f"max pixels must be positive, not {number}")
    return number


def default_max_pixels() -> int:
    """The budget when none is given: ``$ICFORMAT_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`."""
    text = os.environ.get(ENV_VAR, "").strip().replace("_", "").replace(",", "")
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        return check_max_pixels(text)
    except UsageError as exc:
        raise UsageError(f"{ENV_VAR}={os.environ[ENV_VAR]!r}: {exc}") from None


def set_default_max_pixels(max_pixels: int | None) -> None:
    """Make ``max_pixels`` the budget of this process and of the processes it starts from now on
    (worker pools, serve's workers): it is kept in ``$ICFORMAT_MAX_PIXELS``. None restores the default."""
    if max_pixels is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = str(check_max_pixels(max_pixels))


def resolve_max_pixels(max_pixels: int | None) -> int:
    """``max_pixels``, or the default budget when it is None."""
    return default_max_pixels() if max_pixels is None else check_max_pixels(max_pixels)


class JpegFrame(NamedTuple):
    """What a JPEG's frame headers say: the stored ``height`` and ``width`` (the largest over its
    SOF markers) and whether libjpeg keeps the whole image's coefficients (``full_buffer``:
    progressive, or a first scan without every component)."""

    height: int
    width: int
    full_buffer: bool


def markers(data, only: frozenset[int] | None = None) -> list[tuple[int, int, int]]:
    """``(marker, payload start, payload length)`` of each segment after SOI (of those whose marker
    is in ``only``, when given), up to and including the first SOS, found as libjpeg's reader finds
    them: stray bytes, fill bytes (FF), stuffed zeros and marker-only codes (RSTn, TEM, SOI, EOI)
    between segments are skipped. A segment that starts right where the last one ended (every
    encoder's output) is read in place; otherwise one regular expression search finds it, so no
    input makes this slow; past :data:`MAX_SEGMENTS` it raises ``ImageError`` (no real JPEG has
    that many)."""
    data = _octets(data)
    size, pos, found = len(data), 2, []
    for _ in range(MAX_SEGMENTS):
        in_place = False
        if pos + 4 <= size:  # FF, the marker and the length, read in one call
            fill, marker, length = _SEGMENT_HEAD.unpack_from(data, pos)
            in_place = fill == 0xFF and marker not in _NO_LENGTH
        if in_place:
            pos += 2
        else:
            if pos + 1 < size and data[pos] == 0xFF and data[pos + 1] not in _NO_LENGTH:
                marker, pos = data[pos + 1], pos + 2  # what the search below finds, found without it
            else:
                match = _SEGMENT.search(data, pos)
                if match is None:
                    return found
                marker, pos = data[match.end() - 1], match.end()
            if pos + 2 > size:
                return found
            length = data[pos] << 8 | data[pos + 1]
        if length < 2:
            return found
        if only is None or marker in only:
            found.append((marker, pos + 2, length - 2))
        if marker == _SOS:
            return found
        pos += length
    raise ImageError(f"JPEG with more than {MAX_SEGMENTS:,} segments before its image data; refused (no camera or "
                     "encoder writes that many)")


def _octets(data) -> memoryview:
    """``data`` (bytes, a memoryview, a NumPy uint8 array) as a view whose items are Python ints."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def jpeg_frame(data) -> JpegFrame | None:
    """The frame of a JPEG from its markers (no decoding), or None when no SOF comes before the
    first scan (libjpeg cannot decode such data either)."""
    return jpeg_layout(data)[0]


def jpeg_layout(data) -> tuple[JpegFrame | None, tuple[int, int] | None]:
    """One walk over a JPEG's markers: its frame (see :func:`jpeg_frame`) and where the payload
    of its first EXIF segment (APP1 ``Exif``) lies, ``(start, length)`` (None when it has none)."""
    data = _octets(data)
    height = width = components = 0
    found = full = False
    exif = None
    for marker, start, length in markers(data, _LAYOUT):
        if marker in _SOF and length >= 6 and start + 6 <= len(data):
            h, w = struct.unpack_from(">HH", data, start + 1)
            height, width, components = max(height, h), max(width, w), max(components, data[start + 5])
            found = True
            full = full or marker in _PROGRESSIVE
        elif marker == _SOS and length >= 1 and found and start < len(data):
            full = full or data[start] < components
        elif marker == _APP1 and exif is None and bytes(data[start : start + 6]) == b"Exif\0\0":
            exif = (start, length)
    return (JpegFrame(height, width, full) if found else None), exif


def png_size(data) -> tuple[int, int] | None:
    """``(height, width)`` from a PNG's IHDR chunk, or None when ``data`` is not a PNG with one."""
    if len(data) < 24 or bytes(data[:8]) != _PNG_MAGIC or bytes(data[12:16]) != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return height, width


def jpeg_scale(height: int, width: int, min_height: int, min_width: int) -> tuple[int, int] | None:
    """The DCT scale ``(num, den)`` libjpeg-turbo decodes at through simplejpeg with these minimums:
    the smallest n/8 keeping both sides >= the minimums (None: full size; both must be positive).
    ``image.transcode`` decodes at the same scale, so both paths resize from the same pixels. With
    the minimums set only when shrinking 2x or more, that is 1/2, 3/8, 1/4 or 1/8; 3/8 lacks SIMD
    but decodes as fast as 1/2 (the entropy decoding dominates), and 1/2 in its place would leave
    the bilinear resize to shrink by up to 2x, aliasing where the RGB path does not."""
    if min_height <= 0 or min_width <= 0:
        return None
    for num in range(1, 8):
        if -(-height * num // 8) >= min_height and -(-width * num // 8) >= min_width:
            common = math.gcd(num, 8)
            return num // common, 8 // common
    return None


def too_large(height: int, width: int, max_pixels: int, *, decoded: tuple[int, int] | None = None,
              what: str = "image") -> ImageTooLarge:
    """The error for an image of ``height x width`` over ``max_pixels`` (``decoded``: the reduced
    size a scaled decode would still allocate)."""
    pixels = height * width
    text = f"{what} is {height}x{width} (HxW, {pixels:,} pixels)"
    if decoded is not None:
        text += f", {decoded[0]}x{decoded[1]} ({decoded[0] * decoded[1]:,} pixels) even decoded at reduced scale"
    text += f": over the {max_pixels:,}-pixel limit, so it is refused undecoded; {HOW_TO_RAISE}"
    return ImageTooLarge(text, height=height, width=width, max_pixels=max_pixels)


def check_pixels(height: int, width: int, max_pixels: int | None = None, *, decoded: tuple[int, int] | None = None) -> None:
    """Raise :class:`ImageTooLarge` when decoding ``height x width`` (or the ``decoded`` size a
    reduced-scale decode allocates) needs more than the budget."""
    limit = resolve_max_pixels(max_pixels)
    allocated = decoded[0] * decoded[1] if decoded is not None else height * width
    if allocated > limit:
        raise too_large(height, width, limit, decoded=decoded if decoded != (height, width) else None)


def check_jpeg(data, max_pixels: int | None = None, *, min_height: int = 0, min_width: int = 0) -> JpegFrame | None:
    """Check a JPEG against the budget before libjpeg sees it, for a decode with these minimums
    (see :func:`jpeg_scale`); returns its frame (None when it has none)."""
    return check_frame(jpeg_frame(data), max_pixels, min_height=min_height, min_width=min_width)


def check_frame(frame: JpegFrame | None, max_pixels: int | None = None, *, min_height: int = 0,
                min_width: int = 0) -> JpegFrame | None:
    """:func:`check_jpeg` for a frame already read (``jpeg_layout``)."""
    if frame is not None:
        scale = None if frame.full_buffer else jpeg_scale(frame.height, frame.width, min_height, min_width)
        decoded = None if scale is None else (-(-frame.height * scale[0] // scale[1]), -(-frame.width * scale[0] // scale[1]))
        check_pixels(frame.height, frame.width, max_pixels, decoded=decoded)
    return frame


def check_header(data, max_pixels: int | None = None, *, min_height: int = 0, min_width: int = 0) -> None:
    """The check before any decode: JPEG frames (at the scale the minimums allow) and PNG's IHDR;
    other formats are checked when Pillow opens them (:func:`open_image`)."""
    head = bytes(data[:2])
    if head == b"\xff\xd8":
        check_jpeg(data, max_pixels, min_height=min_height, min_width=min_width)
        return
    size = png_size(data)
    if size is not None:
        check_pixels(*size, max_pixels)


def pillow(max_pixels: int | None = None):
    """Pillow's ``Image`` module with ``MAX_IMAGE_PIXELS`` set to the budget."""
    from PIL import Image

    limit = resolve_max_pixels(max_pixels)
    if Image.MAX_IMAGE_PIXELS != limit:
        Image.MAX_IMAGE_PIXELS = limit
    return Image


@contextlib.contextmanager
def open_image(data, max_pixels: int | None = None):
    """``Image.open`` on ``data`` (header only), refused with :class:`ImageTooLarge` above the budget.
    Pillow's decompression-bomb error and warning (during ``open``, and inside the block, where
    ``load()`` may check frames and tiles) come out as ``ImageTooLarge``, never as themselves."""
    limit = resolve_max_pixels(max_pixels)
    check_header(data, limit)  # JPEG and PNG: refused with their size before Pillow reads them
    Image = pillow(limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked just below
            im = Image.open(io.BytesIO(bytes(data)))
        with im, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            check_pixels(im.height, im.width, limit)
            yield im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{_bomb_size(str(exc))}over the {limit:,}-pixel limit, so it is refused undecoded; "
                            f"{HOW_TO_RAISE}", max_pixels=limit) from None


def _bomb_size(message: str) -> str:
    """``"image has N pixels: "`` from Pillow's bomb message ("Image size (N pixels) exceeds ...")."""
    found = re.search(r"\((\d+) pixels\)", message)
    return f"image has {int(found.group(1)):,} pixels: " if found else "image is "


def out_of_memory(data, max_pixels: int | None = None) -> ImageTooLarge:
    """The error for a decode that ran out of memory (``MemoryError``): the same one line."""
    size = None
    if bytes(data[:2]) == b"\xff\xd8":
        frame = jpeg_frame(data)
        size = (frame.height, frame.width) if frame else None
    else:
        size = png_size(data)
    what = f"image is {size[0]}x{size[1]} (HxW, {size[0] * size[1]:,} pixels)" if size else "image"
    limit = resolve_max_pixels(max_pixels)
    return ImageTooLarge(f"{what}: not enough memory to decode it (the limit is {limit:,} pixels); lower --max-pixels "
                         f"(or {ENV_VAR}) to refuse such images undecoded, or give the process more memory",
                         height=size[0] if size else None, width=size[1] if size else None, max_pixels=limit)
