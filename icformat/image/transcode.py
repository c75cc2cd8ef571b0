"""JPEG bytes -> JPEG bytes through Y/Cb/Cr planes (libjpeg-turbo's YUV API, via PyTurboJPEG).

Decoding to planes and encoding from them skips libjpeg-turbo's colour conversion and its chroma
up/down-sampling on both sides; the planes are cropped and resized as 2-D images instead (luma to
the output size, chroma to the 4:2:0 plane size). A JPEG shrunk by 2x or more decodes at a reduced
DCT scale (the one the RGB path's decoder picks: see :func:`~icformat.image.budget.jpeg_scale`).

:func:`transcode` returns ``None`` whenever this path does not apply (no libturbojpeg, CMYK/YCCK or
RGB-coded JPEGs, unusual subsampling, a damaged JPEG: any libjpeg warning); the caller then takes
the RGB path (decode to RGB, resize, encode). ``ICFORMAT_JPEG_PATH=rgb`` in the environment turns
this path off; :func:`codec_path` says which path runs.
"""
from __future__ import annotations

import os

import numpy as np

from . import turbo
from .budget import check_frame, jpeg_scale
from .decode import TRANSPOSED, JpegHeader, apply_orientation, jpeg_header
from .resize import center_crop_box, resize, resize_linear

PATH_YUV = "turbojpeg-yuv"
PATH_RGB = "rgb (simplejpeg)"
ENV_VAR = "ICFORMAT_JPEG_PATH"

# the header's subsampling -> TurboJPEG's code and the (vertical, horizontal) chroma factors
_SUBSAMPLINGS = {"444": (turbo.SAMP_444, (1, 1)), "422": (turbo.SAMP_422, (1, 2)), "420": (turbo.SAMP_420, (2, 2)),
                 "440": (turbo.SAMP_440, (2, 1)), "411": (turbo.SAMP_411, (1, 4)), "Gray": (turbo.SAMP_GRAY, (1, 1))}


def available() -> bool:
    """True when libturbojpeg and PyTurboJPEG load (whatever ``ICFORMAT_JPEG_PATH`` says)."""
    return turbo.available()


def unavailable_reason() -> str:
    """Why the YUV path cannot run here ('' when it can)."""
    return turbo.unavailable_reason()


def codec_path() -> str:
    """The path JPEG -> JPEG re-encoding takes: ``'turbojpeg-yuv'``, or ``'rgb (simplejpeg)'`` when
    the library is missing or ``ICFORMAT_JPEG_PATH=rgb`` is set."""
    if os.environ.get(ENV_VAR, "").strip().lower() == "rgb" or not available():
        return PATH_RGB
    return PATH_YUV


def transcode(
    data: bytes,
    height: int,
    width: int,
    *,
    quality: int = 95,
    center_crop: bool = False,
    min_height: int = 0,
    min_width: int = 0,
    orientation: int = 1,
    gray: bool = False,
    method: str = "bilinear",
    max_pixels: int | None = None,
    header: JpegHeader | None = None,
    out: memoryview | None = None,
    jpeg_path: str | None = None,
) -> bytes | memoryview | None:
    """A 4:2:0 JPEG (one-channel with ``gray``) of ``data`` rotated by EXIF ``orientation``, center
    cropped when asked, resized to ``height x width``; or None when this path does not apply.

    ``min_height``/``min_width`` (of the stored, unrotated image) allow a reduced DCT scale: the
    smallest n/8 keeping both sides at least that large, as the RGB path decodes. A JPEG over
    ``max_pixels`` at that scale raises ``ImageTooLarge`` undecoded. ``header``: the JPEG's
    header when the caller has read it already. ``out``: where the JPEG may be written (see
    ``turbo.encode_planes``), in which case a view of it comes back instead of bytes.
    ``jpeg_path``: what :func:`codec_path` says, when the caller has asked it already (im2rec,
    once a run of images: it reads the environment).
    """
    if (jpeg_path or codec_path()) != PATH_YUV:
        return None
    header = header or jpeg_header(data)
    if header is None:
        return None
    h, w, colorspace, subsampling = header.height, header.width, header.colorspace, header.subsampling
    if colorspace not in ("YCbCr", "Gray") or subsampling not in _SUBSAMPLINGS or min(h, w) < 1:
        return None  # CMYK/YCCK, RGB-coded, unusual subsampling: the RGB path
    samp, (fy, fx) = _SUBSAMPLINGS[subsampling]
    check_frame(header.frame, max_pixels, min_height=min_height, min_width=min_width)  # ImageTooLarge: not for the RGB path either
    scale = jpeg_scale(h, w, min_height, min_width)
    if scale:
        h, w = -(-h * scale[0] // scale[1]), -(-w * scale[0] // scale[1])
    if gray or samp == turbo.SAMP_GRAY:  # luma only: decoded to gray, as the RGB path's gray decode
        luma = turbo.decode_gray(data, h, w)
        planes = None if luma is None else [luma]
    else:
        planes = turbo.decode_planes(data, h, w, samp)
    if planes is None:  # damaged (even a warning) or not decodable here
        return None
    decoded = planes[0]
    planes[0] = planes[0][:h, :w]  # TurboJPEG pads the luma plane to whole chroma samples
    if orientation != 1:
        planes = [apply_orientation(p, orientation) for p in planes]
        if orientation in TRANSPOSED:
            fy, fx = fx, fy
    luma = planes[0]
    top, left, rows, cols = 0, 0, luma.shape[0], luma.shape[1]
    if center_crop:
        top, left, side = center_crop_box(rows, cols)
        rows = cols = side
    luma = resize(luma[top : top + rows, left : left + cols], height, width, method=method)
    if gray:
        return turbo.encode_planes(_encoder_planes([luma], False), height, width, turbo.SAMP_GRAY, quality, out=out)
    ch, cw = (height + 1) // 2, (width + 1) // 2
    if len(planes) == 1:  # a gray JPEG in colour: neutral chroma, as OpenCV's imread gives it
        chroma = [np.full((ch, cw), 128, np.uint8)] * 2
    else:
        chroma = [_chroma(p, (top, left, rows, cols), (fy, fx), (height, width), method) for p in planes[1:]]
    return turbo.encode_planes(_encoder_planes([luma, *chroma], True, decoded), height, width, turbo.SAMP_420, quality, out=out)


def _chroma(plane: np.ndarray, box: tuple[int, int, int, int], factors: tuple[int, int], size: tuple[int, int],
            method: str) -> np.ndarray:
    """The 4:2:0 chroma plane for a ``size`` output (``ceil(h/2) x ceil(w/2)``) from a chroma plane
    subsampled by ``factors`` (vertical, horizontal), under the luma ``box`` (top, left, rows, cols).

    Each output sample sits where JPEG puts it (centered on its 2x2 luma block). Bilinear (shrinking
    the chroma by 2x or less: at 2x it averages sample pairs, as libjpeg's downsampling does) maps the
    output onto the plane exactly, for odd sizes and odd crop offsets too (through
    :func:`~icformat.image.resize.resize_linear`: the same bytes with or without OpenCV); otherwise
    the plane's whole samples under the box are resized, with the same interpolation rule as the RGB
    path."""
    (top, left, rows, cols), (fy, fx), (height, width) = box, factors, size
    out_h, out_w = (height + 1) // 2, (width + 1) // 2
    if (top, left, rows, cols, fy, fx) == (0, 0, height, width, 2, 2) and plane.shape == (out_h, out_w):
        return plane  # 4:2:0 in, same size out (the general test below, decided without its arithmetic)
    sy, sx = rows / height, cols / width  # source luma pixels per output luma pixel
    # output chroma sample j is centered on output luma edge 2j+1 -> plane coordinate a*j + b
    ay, by, ax, bx = 2 * sy / fy, (top + sy) / fy - 0.5, 2 * sx / fx, (left + sx) / fx - 0.5
    if plane.shape == (out_h, out_w) and (ay, by, ax, bx) == (1.0, 0.0, 1.0, 0.0):
        return plane  # 4:2:0 in, same size out: the plane as it is
    if method == "bilinear" and ay <= 2 and ax <= 2:
        # resize_linear samples at (j + 0.5) * a - 0.5 from where its input starts, which is a*j + b
        # when the input starts at the box's first sample (b = start + a/2 - 1/2)
        if top % fy == 0 and left % fx == 0 and (top == 0 or ay >= 1) and (left == 0 or ax >= 1):
            return resize_linear(plane[top // fy :, left // fx :], out_h, out_w, inv_scale=(1 / ay, 1 / ax))
        return resize_linear(plane, out_h, out_w, inv_scale=(1 / ay, 1 / ax), start=(top / fy, left / fx))
    region = plane[top // fy : -(-(top + rows) // fy), left // fx : -(-(left + cols) // fx)]
    return resize(region, out_h, out_w, method=method)


def _encoder_planes(planes: list[np.ndarray], even_luma: bool, decoded: np.ndarray | None = None) -> list[np.ndarray]:
    """The planes as ``turbo.encode_planes`` takes them: rows contiguous, top to bottom; with
    ``even_luma`` (4:2:0) the luma plane with even sides, the added row or column repeating the
    edge pixels, as libjpeg pads. A luma that is the top-left corner of ``decoded`` (the decoder's
    plane, already padded to even sides) is padded there, in place, not copied."""
    out = [p if p.strides[1] == 1 and p.strides[0] > 0 else np.ascontiguousarray(p) for p in planes]
    luma = out[0]
    h, w = luma.shape
    if not even_luma or (h % 2 == 0 and w % 2 == 0):
        return out
    rows, cols = h + h % 2, w + w % 2
    if (decoded is not None and turbo.address(luma) == turbo.address(decoded) and luma.strides == decoded.strides
            and decoded.shape[0] >= rows and decoded.shape[1] >= cols):
        padded = decoded[:rows, :cols]
    else:
        padded = np.empty((rows, cols), np.uint8)
        padded[:h, :w] = luma
    padded[:h, w:] = padded[:h, w - 1 : w]
    padded[h:] = padded[h - 1 : h]
    out[0] = padded
    return out
