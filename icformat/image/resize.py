"""Geometry as MXNet's im2rec does it (square center crop, shorter side to N) and the one resize.

Sizes are ``(height, width)`` everywhere. The arithmetic matches ``tools/im2rec.py`` exactly, so an
image packed here has the same size as one packed by MXNet.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ImageError, UsageError

#: interpolation methods: ``bilinear`` is im2rec.py's (``cv2.resize``'s default) and the default
METHODS = ("bilinear", "bicubic", "lanczos", "box", "nearest")


def shorter_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """``(h, w)`` after scaling the shorter side to ``size`` (the longer one is ``long * size // short``,
    rounded down, as im2rec's ``--resize``). A square becomes ``size x size``."""
    if height <= 0 or width <= 0:
        raise ImageError(f"image has no pixels ({height}x{width})")
    if height > width:
        return height * size // width, size
    return size, width * size // height


def center_crop_box(height: int, width: int) -> tuple[int, int, int]:
    """``(top, left, side)`` of the largest centered square (im2rec's ``--center-crop``: the margin
    ``(long - short) // 2`` is cut from the start of the longer side)."""
    if height > width:
        return (height - width) // 2, 0, width
    return 0, (width - height) // 2, height


def center_crop(array: np.ndarray) -> np.ndarray:
    """The largest centered square of ``array`` (a view)."""
    top, left, side = center_crop_box(array.shape[0], array.shape[1])
    return array[top : top + side, left : left + side]


def output_size(height: int, width: int, *, resize: int = 0, center_crop: bool = False) -> tuple[int, int]:
    """The size im2rec gives an image of ``height x width``: center crop first, then ``resize``."""
    if center_crop:
        height = width = min(height, width)
    if resize:
        return shorter_side_size(height, width, resize)
    return height, width


def opencv():
    """OpenCV when installed (the ``train`` and ``loader`` extras), single-threaded; else None."""
    global _CV2
    if _CV2 is None:
        try:
            import cv2

            cv2.setNumThreads(1)  # our own workers are the parallelism
            _CV2 = cv2
        except ImportError:
            _CV2 = False
    return _CV2 or None


_CV2 = None


def _linear_axis(src: int, out: int, inv_scale: float | None, start: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output position along one axis: the two source indices and their 8-bit weights (summing
    to 256), as OpenCV's bit-exact bilinear (``INTER_LINEAR_EXACT``) computes them: the sample point
    ``(i + 0.5) / inv_scale - 0.5`` (plus ``start``) in double precision, edges clamped to the
    first/last pixel."""
    inv = out / src if inv_scale is None else inv_scale
    point = (1.0 / inv) * (np.arange(out, dtype=np.float64) + 0.5) - 0.5
    if start:
        point = point + start
    base = np.floor(point)
    weight = np.rint((point - base) * 256).astype(np.uint16)  # round half to even, as cvRound
    base = base.astype(np.int64)
    inside = (base >= 0) & (base < src - 1)
    first = np.where(inside, base, np.where(base < 0, 0, src - 1))
    weight = np.where(inside, weight, 0).astype(np.uint16)
    return first, np.where(inside, first + 1, first), (256 - weight).astype(np.uint16), weight


def resize_linear(array: np.ndarray, height: int, width: int, *, inv_scale: tuple[float, float] | None = None,
                  start: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Bilinear resize of an 8-bit ``array`` (HxW or HxWxC) to ``height x width``, the same bytes
    whether or not OpenCV is installed: OpenCV's ``INTER_LINEAR_EXACT`` when it is (fast), else the
    same fixed-point arithmetic in numpy. Sample points are ``cv2.resize``'s (pixel centres, no
    antialiasing: MXNet's ``im2rec.py`` resizes with ``cv2.resize``'s default bilinear); the weights
    have 8 fractional bits instead of 11, so a pixel may differ from ``im2rec.py``'s by one level.

    ``inv_scale`` = ``(fy, fx)``: the output-per-input scale factors to sample with (default
    ``height / H``, ``width / W``); the output then covers the first ``height x width`` of that grid.
    ``start`` = ``(y, x)`` shifts the grid by that many input pixels (numpy only, which OpenCV's
    resize cannot).
    """
    src_h, src_w = array.shape[:2]
    cv2 = opencv() if start == (0.0, 0.0) else None
    if cv2 is not None:
        fast = _resize_linear_opencv(cv2, array, height, width, inv_scale)
        if fast is not None:
            return fast
    fy, fx = inv_scale if inv_scale is not None else (None, None)
    x0, x1, wx0, wx1 = _linear_axis(src_w, width, fx, start[1])
    y0, y1, wy0, wy1 = _linear_axis(src_h, height, fy, start[0])
    channels = 1 if array.ndim == 2 else array.shape[2]
    rows = np.ascontiguousarray(array).reshape(src_h, src_w * channels)  # a pixel's channels side by side
    lanes = np.arange(channels)
    weights = [np.repeat(w, channels).astype(np.uint32) for w in (wx0, wx1)]
    # horizontal pass: 8.8 fixed point (at most 255 * 256)
    horizontal = rows[:, (x0[:, None] * channels + lanes).ravel()].astype(np.uint32)
    horizontal *= weights[0]
    right = rows[:, (x1[:, None] * channels + lanes).ravel()].astype(np.uint32)
    right *= weights[1]
    horizontal += right
    # vertical pass: 16.16 fixed point, rounded; rows past the edges: the clamped row, rounded from 8.8
    out = horizontal[y0]
    out *= wy0.astype(np.uint32)[:, None]
    below = horizontal[y1]
    below *= wy1.astype(np.uint32)[:, None]
    out += below
    out += 1 << 15
    out >>= 16
    edge = y0 == y1
    if edge.any():
        out[edge] = (horizontal[y0[edge]] + 128) >> 8
    return out.astype(np.uint8).reshape((height, width) + array.shape[2:])


def _resize_linear_opencv(cv2, array: np.ndarray, height: int, width: int,
                          inv_scale: tuple[float, float] | None) -> np.ndarray | None:
    """:func:`resize_linear` through OpenCV, or None where OpenCV would not compute the same."""
    if array.ndim == 3 and array.shape[2] > 4:
        return None  # OpenCV's channel limit for resizing
    src = np.ascontiguousarray(array)
    if inv_scale is None:
        if (height, width) == src.shape[:2]:
            return array
        out = cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR_EXACT)
    else:
        # the edge repeated (as clamping does) so that OpenCV's own output size covers ours
        fy, fx = inv_scale
        pad_y = max(2, math.ceil(height / fy) + 2 - src.shape[0])
        pad_x = max(2, math.ceil(width / fx) + 2 - src.shape[1])
        src = cv2.copyMakeBorder(src, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        out = cv2.resize(src, None, fx=fx, fy=fy, interpolation=cv2.INTER_LINEAR_EXACT)
        if out.shape[:2] == src.shape[:2] or out.shape[0] < height or out.shape[1] < width:
            return None  # OpenCV copies when the sizes match (whatever the factors): not a resize
        out = out[:height, :width]
    if out.ndim == 2 and array.ndim == 3:
        out = out[:, :, None]  # OpenCV drops a single channel axis
    return out


def resize(array: np.ndarray, height: int, width: int, *, method: str = "bilinear", exact: bool = False) -> np.ndarray:
    """Resize ``array`` (HxW, HxWxC uint8, or HxW uint16) to ``height x width``.

    ``bilinear`` (the default, im2rec.py's interpolation) on 8-bit images is :func:`resize_linear`:
    the same bytes with or without OpenCV. Every other method, and 16-bit images, go through Pillow
    (``box`` averages every pixel under each output pixel: antialiased).

    Shrinking by a large factor first reduces by whole factors (box filter), which is faster and
    looks the same (Pillow's ``reducing_gap``). ``exact=True`` always uses Pillow's plain
    ``Image.resize`` (no reducing gap).
    """
    if method not in METHODS:
        raise UsageError(f"unknown resize method {method!r}; use one of {', '.join(METHODS)}")
    if array.shape[0] == height and array.shape[1] == width:
        return array
    if method == "bilinear" and array.dtype == np.uint8:
        return resize_linear(array, height, width)
    from PIL import Image

    resample = getattr(Image.Resampling, method.upper())
    gap = 3.0 if method != "nearest" and not exact else None
    if array.dtype == np.uint16:  # 16-bit gray: resample as 32-bit integers, then back
        image = Image.fromarray(array.astype(np.int32))
        out = image.resize((width, height), resample, reducing_gap=gap)
        return np.clip(np.asarray(out), 0, 65535).astype(np.uint16)
    else:
        image = Image.fromarray(np.ascontiguousarray(array))
    return np.asarray(image.resize((width, height), resample, reducing_gap=gap))
