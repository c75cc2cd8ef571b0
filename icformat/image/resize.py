"""Geometry as MXNet's im2rec does it (square center crop, shorter side to N) and resizing via Pillow.

Sizes are ``(height, width)`` everywhere. The arithmetic matches ``tools/im2rec.py`` exactly, so an
image packed here has the same size as one packed by MXNet.
"""
from __future__ import annotations

import numpy as np

from ..errors import ImageError, UsageError

_FILTERS = ("bilinear", "bicubic", "lanczos", "box", "nearest")


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


def _resize_opencv(array: np.ndarray, height: int, width: int) -> np.ndarray | None:
    """Bilinear as MXNet's im2rec (``cv2.resize``, the faster backend); area averaging
    instead when shrinking 2x or more, where bilinear would alias."""
    cv2 = opencv()
    if cv2 is None:
        return None
    shrink = min(array.shape[0] / height, array.shape[1] / width)
    interpolation = cv2.INTER_AREA if shrink >= 2 else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(array), (width, height), interpolation=interpolation)


def resize(array: np.ndarray, height: int, width: int, *, method: str = "bilinear", exact: bool = False) -> np.ndarray:
    """Resize ``array`` (HxW, HxWxC uint8, or HxW uint16) to ``height x width``.

    ``bilinear`` on 8-bit images goes through OpenCV when it is installed (as MXNet's im2rec does);
    everything else through Pillow.

    Shrinking by a large factor first reduces by whole factors (box filter), which is faster and
    looks the same (Pillow's ``reducing_gap``). ``exact=True`` always uses Pillow's plain
    ``Image.resize`` (no OpenCV, no reducing gap), so the pixels do not depend on what is installed.
    """
    if method not in _FILTERS:
        raise UsageError(f"unknown resize method {method!r}; use one of {', '.join(_FILTERS)}")
    if array.shape[0] == height and array.shape[1] == width:
        return array
    if method == "bilinear" and array.dtype == np.uint8 and not exact:
        fast = _resize_opencv(array, height, width)
        if fast is not None:
            return fast
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
