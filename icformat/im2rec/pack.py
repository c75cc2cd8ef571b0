"""One image -> one record: read the file, decode, crop, resize, encode, prepend the image header.

The semantics are those of MXNet's ``tools/im2rec.py`` (which reads with OpenCV's ``imread``):
``color`` 1 gives colour (alpha dropped, gray expanded), 0 gray, -1 the pixels as stored (and, like
``imread``'s unchanged mode, no EXIF rotation); ``center_crop`` cuts the centered square first, then
``resize`` scales the shorter side; ``quality`` is the JPEG quality, or the PNG compression level
(0-9) with ``.png``; ``pass_through`` stores the file's bytes untouched. A JPEG re-encoded as a
JPEG goes through its Y/Cb/Cr planes when libturbojpeg is there (``image/transcode.py``), else,
like everything else, through RGB pixels (libjpeg-turbo via simplejpeg, and Pillow): a JPEG
shrunk by 2x or more is decoded at reduced DCT scale either way.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..io.paths import is_uri
from ..errors import IcformatError, ImageError, ImageTooLarge, UsageError
from ..image.budget import check_max_pixels, out_of_memory, resolve_max_pixels
from ..image.decode import TRANSPOSED, JpegHeader, apply_orientation, decode, exif_orientation, image_size, is_jpeg, jpeg_header
from ..image.encode import encode, normalize_encoding
from ..image.resize import center_crop as crop_center
from ..image.resize import METHODS, output_size, resize as resize_array, shorter_side_size
from ..image.transcode import PATH_YUV, codec_path, transcode
from ..io.objects import SETUP_ERRORS, describe_error, read_bytes
from ..io.paths import join_uri
from ..lst.paths import ABSOLUTE, unsafe_path_reason
from ..recordio.framing import FRAME_SIZE
from ..recordio.header import header_bytes



@dataclass(frozen=True)
class PackOptions:
    """How each image is turned into a record (the options of ``im2rec.py``)."""

    resize: int = 0
    center_crop: bool = False
    quality: int = 95
    encoding: str = ".jpg"
    color: int = 1
    pass_through: bool = False
    pack_label: bool = False
    resize_method: str = "bilinear"
    allow_absolute: bool = False  # read absolute .lst paths as they are (MXNet's im2rec does; opt-in here)
    max_pixels: int | None = None  # the pixel budget (image/budget.py); None: the default

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "encoding", normalize_encoding(self.encoding))
        except ValueError as exc:
            raise UsageError(f"{exc}") from None
        if self.color not in (-1, 0, 1):
            raise UsageError(f"color must be 1 (colour), 0 (gray) or -1 (unchanged), not {self.color}")
        if self.resize < 0:
            raise UsageError(f"resize must be 0 (off) or a positive number of pixels, not {self.resize}")
        if self.resize_method not in METHODS:
            raise UsageError(f"unknown interpolation {self.resize_method!r}; use one of {', '.join(METHODS)}")
        if self.encoding == ".jpg" and not 1 <= self.quality <= 100:
            raise UsageError(f"JPEG quality must be 1-100, not {self.quality}")
        if self.max_pixels is not None:
            object.__setattr__(self, "max_pixels", check_max_pixels(self.max_pixels))
        if self.encoding == ".png" and self.quality < 0:
            raise UsageError(f"PNG compression must be 0-9 (higher values mean 9), not {self.quality}")


def image_header(index: int, labels, pack_label: bool = False) -> bytes:
    """The header bytes im2rec writes: ``id`` = the ``.lst`` index; the first label, or with
    ``pack_label`` and more than one label, ``flag`` = count and the float32 labels after the header."""
    if index < 0:
        raise IcformatError(f"index {index} is negative; image ids are unsigned")
    if pack_label and len(labels) > 1:
        return header_bytes(np.asarray(labels, dtype="<f4"), index)
    return header_bytes(float(labels[0]), index)


def _read_object(uri: str, allow_empty: bool = False) -> bytes:
    try:
        data = read_bytes(uri)
    except SETUP_ERRORS:
        raise  # no credentials, bad bucket name: the same for every image, said once
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except Exception as exc:  # boto3/smart_open raise transport-specific errors
        where = f" {uri}" if is_uri(uri) else ""
        raise ImageError(f"cannot read{where}: {describe_error(exc, uri)}") from None
    if not data and not allow_empty:
        raise ImageError("empty file (0 bytes)")
    return data


def read_image_file(root: str, path: str, allow_absolute: bool = False, allow_empty: bool = False) -> bytes:
    """The bytes of ``root/path`` (``root`` a folder or an ``s3://`` prefix); refuses absolute paths
    (unless ``allow_absolute``) and paths leaving the root, and empty files (unless ``allow_empty``)."""
    reason = unsafe_path_reason(path)
    if reason and not (allow_absolute and reason == ABSOLUTE):
        raise ImageError(f"{reason}, refused")
    if reason:
        root = ""
    if is_uri(root):
        return _read_object(join_uri(root, path), allow_empty)
    return _read_object(os.path.join(root, path), allow_empty)


def transform_image(data: bytes, options: PackOptions, notes: list[str] | None = None, out: memoryview | None = None, *,
                    jpeg_path: str | None = None, header: JpegHeader | None = None) -> bytes | memoryview:
    """Decode, crop, resize and re-encode one image as ``options`` say; what the user should hear
    about (a damaged JPEG) goes to ``notes``. JPEG to JPEG goes through YUV planes where it can
    (see ``image.transcode``); the RGB path does the rest, and any JPEG that path refuses. An image
    over the pixel budget raises ``ImageTooLarge`` undecoded. ``out``: memory the YUV path may
    encode into, in which case a view of it comes back (see ``turbo.encode_planes``).
    ``jpeg_path``: what ``transcode.codec_path()`` says, when the caller has asked it already
    (once for many images: it reads the environment); ``header``: ``jpeg_header(data)``, when the
    caller has read it (see :func:`read_image_input`)."""
    limit = resolve_max_pixels(options.max_pixels)
    try:
        return _transform(data, options, notes, limit, out, jpeg_path or codec_path(), header)
    except MemoryError:
        raise out_of_memory(data, limit) from None


def _transform(data: bytes, options: PackOptions, notes: list[str] | None, limit: int, out: memoryview | None,
               jpeg_path: str, header: JpegHeader | None) -> bytes | memoryview:
    jpeg = is_jpeg(data)
    if header is None and jpeg:
        header = jpeg_header(data)  # read once, for every step below
    if options.color == -1:
        orientation = 1
    else:
        orientation = header.orientation if header is not None else exif_orientation(data)
    target = None
    min_h = min_w = 0
    yuv = header is not None and options.encoding == ".jpg" and options.color != -1 and jpeg_path == PATH_YUV
    if (options.resize or yuv) and jpeg:
        target, (min_h, min_w) = _jpeg_plan(_jpeg_size(data, header), orientation, options)
    if yuv and target:
        packed = transcode(data, *target, quality=options.quality, center_crop=options.center_crop, min_height=min_h,
                           min_width=min_w, orientation=orientation, gray=options.color == 0, method=options.resize_method,
                           max_pixels=limit, header=header, out=out, jpeg_path=jpeg_path)
        if packed is not None:
            return packed
    array = _decode_pixels(data, options.color, min_h, min_w, notes if notes is not None else [], limit)
    array = apply_orientation(array, orientation)
    if options.center_crop:
        array = crop_center(array)
    if options.resize:
        h, w = target or shorter_side_size(array.shape[0], array.shape[1], options.resize)
        array = resize_array(array, h, w, method=options.resize_method)
    return encode(array, encoding=options.encoding, quality=options.quality)


def _jpeg_size(data: bytes, header) -> tuple[int, int] | None:
    """A JPEG's stored ``(height, width)``: from its header, else as Pillow reads it; None when
    neither can."""
    if header is not None:
        return header.height, header.width
    try:
        return image_size(data)
    except ImageError:
        return None


def _jpeg_plan(size: tuple[int, int] | None, orientation: int, options: PackOptions):
    """The final size (from the full-resolution ``size``, so it is exactly MXNet's) and the minimum
    decoded size that allows a reduced-scale decode when the image shrinks by 2x or more."""
    if size is None:
        return None, (0, 0)
    h, w = size
    if orientation in TRANSPOSED:
        h, w = w, h
    region = min(h, w) if options.center_crop else None
    rh, rw = (region, region) if region else (h, w)
    fh, fw = output_size(h, w, resize=options.resize, center_crop=options.center_crop)
    if not options.resize or min(rh, rw) < 2 * options.resize:
        return (fh, fw), (0, 0)
    need_h, need_w = math.ceil(h * fh / rh), math.ceil(w * fw / rw)
    if orientation in TRANSPOSED:  # decode sees the stored (unrotated) image
        need_h, need_w = need_w, need_h
    return (fh, fw), (need_h, need_w)


def _decode_pixels(data: bytes, color: int, min_h: int, min_w: int, notes: list[str], limit: int) -> np.ndarray:
    """Pixels as OpenCV's ``imread(flags=color)`` gives them, in RGB order and before EXIF rotation.
    A JPEG that decodes only with libjpeg's warnings (as OpenCV decodes it) adds a note."""
    if is_jpeg(data) and color != -1:
        try:
            return decode(data, color=color, min_height=min_h, min_width=min_w, apply_exif=False, strict=True,
                          max_pixels=limit)
        except ImageTooLarge:
            raise
        except ImageError as exc:
            array = decode(data, color=color, min_height=min_h, min_width=min_w, apply_exif=False, max_pixels=limit)
            notes.append(f"{exc}; packed as decoded, with the damaged part gray (as MXNet's im2rec packs it)")
            return array
    array = decode(data, color=-1, apply_exif=False, max_pixels=limit)  # as stored; then convert like imread does
    if color == -1:
        return array
    if array.dtype != np.uint8:  # 16-bit: imread scales to 8 bits
        array = (array >> 8).astype(np.uint8) if array.dtype == np.uint16 else np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 2:  # gray + alpha
        array = array[:, :, 0]
    if color == 1:
        if array.ndim == 2:
            return np.repeat(array[:, :, None], 3, axis=2)
        return array[:, :, :3]
    if array.ndim == 2:
        return array
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(array[:, :, :3])).convert("L"))


def pack_image(index: int, labels, data: bytes, options: PackOptions, notes: list[str] | None = None) -> bytes:
    """One record payload (header + image bytes) from an image file's bytes; ``notes`` collects
    what the user should hear about the image (it was packed anyway)."""
    return b"".join(image_record_parts(index, labels, data, options, notes))


def image_record_parts(index: int, labels, data: bytes, options: PackOptions, notes: list[str] | None = None,
                       room: memoryview | None = None, *, jpeg_path: str | None = None,
                       header: JpegHeader | None = None) -> tuple[bytes, bytes | memoryview]:
    """:func:`pack_image`'s record as ``(image header, image bytes)``, kept apart so that framing
    them for the file (``recordio.framing.frame_into``) copies the image once, not twice.

    ``room``: memory where the record is to be framed. The image may be encoded straight to its
    place there (after the frame's head and the image header), and then comes back as a view of
    it (a ``memoryview``; otherwise ``bytes``). ``jpeg_path``, ``header``: see :func:`transform_image`."""
    head = image_header(index, labels, options.pack_label)
    if options.pass_through:
        payload = data
        if notes is not None and not data and not (options.pack_label and len(labels) > 1):
            notes.append("empty file stored as a record without an image, as im2rec.py --pass-through does; nothing can decode it")
        if notes is not None and is_jpeg(data) and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
            notes.append("JPEG without its end marker (FF D9): it may be cut short; stored as it is (--pass-through)")
    else:
        out = room[FRAME_SIZE + len(head) :] if room is not None and len(room) > FRAME_SIZE + len(head) else None
        payload = transform_image(data, options, notes, out, jpeg_path=jpeg_path, header=header)
    return head, payload


def pack_file(root: str, index: int, labels, path: str, options: PackOptions, notes: list[str] | None = None) -> bytes:
    """One record payload from ``root/path``; raises ``ImageError`` saying why it cannot be packed.
    With ``pass_through`` an empty file is stored as it is (im2rec.py does so): a header record of
    an InsightFace face set (labels, no image) packs back that way."""
    return b"".join(pack_file_parts(root, index, labels, path, options, notes))


def pack_file_parts(root: str, index: int, labels, path: str, options: PackOptions,
                    notes: list[str] | None = None, room: memoryview | None = None, *,
                    jpeg_path: str | None = None) -> tuple[bytes, bytes | memoryview]:
    """:func:`pack_file`'s record as ``(image header, image bytes)`` (see :func:`image_record_parts`)."""
    data, header = read_image_input(root, path, options)
    return image_record_parts(index, labels, data, options, notes, room, jpeg_path=jpeg_path, header=header)


def read_image_input(root: str, path: str, options: PackOptions) -> tuple[bytes, JpegHeader | None]:
    """What a record needs before the codec runs: the bytes of ``root/path`` (as
    :func:`read_image_file` reads them for ``options``) and, for a JPEG to be transcoded, its
    header (``decode.jpeg_header``; None otherwise). im2rec reads several images' inputs first,
    then transcodes them: each phase's Python then stays in the processor's caches, which the
    codec's work between two images would otherwise empty."""
    data = read_image_file(root, path, options.allow_absolute, options.pass_through)
    header = None if options.pass_through or not is_jpeg(data) else jpeg_header(data)
    return data, header
