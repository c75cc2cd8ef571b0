"""Per-sample augmentation plans: where the output crop comes from, and what else happens to it.

The geometry follows MXNet's ``ImageRecordIter`` default augmenter, which SageMaker's built-in
algorithm drives: resize the shorter side to ``resize`` (``long * resize // short``), optionally
warp (rotation, shear, aspect ratio; same output size, ``fill_value`` outside), crop
``data_shape`` at a random or centred position, jitter hue/lightness/saturation, mirror.

A plan never touches pixels: it is an affine map from output pixel coordinates to the resized
frame, so the worker can resample only the pixels it keeps, straight from the decoded image
(possibly DCT-reduced), in one step. Coordinates are continuous: pixel ``i`` covers ``[i, i+1)``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..errors import ImageError
from .options import Preprocess
from .rng import SampleRandom

Affine = tuple[float, float, float, float, float, float]  # x = a*u + b*v + c ; y = d*u + e*v + f


class Plan(NamedTuple):
    """What happens to one sample."""

    frame: tuple[int, int]  # (height, width) after the shorter-side resize
    matrix: Affine  # output coords -> frame coords
    axis_aligned: bool  # True: a plain crop of the frame (no rotation/shear)
    flip: bool
    hls: tuple[int, int, int] | None  # (hue, lightness, saturation) offsets, OpenCV 8-bit units


def frame_size(height: int, width: int, resize: int | None) -> tuple[int, int]:
    """Size after MXNet's shorter-side resize (integer arithmetic as ``image_aug_default.cc``)."""
    if resize is None:
        return height, width
    if height > width:
        return resize * height // width, resize
    return resize, resize * width // height


def plan_sample(height: int, width: int, prep: Preprocess, rng: SampleRandom | None) -> Plan:
    """Draw the augmentation of one image of ``height`` x ``width`` (display orientation).

    ``rng`` may be None when ``prep.augment`` draws nothing. Raises
    :class:`~icformat.errors.ImageError` when the image is smaller than ``data_shape``.
    """
    aug = prep.augment
    rh, rw = frame_size(height, width, prep.resize)
    out_h, out_w = prep.height, prep.width
    inverse = _warp_inverse(rh, rw, aug, rng) if aug.affine else None
    if rh < out_h or rw < out_w:
        detail = f" ({rh}x{rw} after resize={prep.resize})" if prep.resize else ""
        raise ImageError(
            f"image is {height}x{width}{detail}, smaller than data_shape {out_h}x{out_w}; set a larger resize"
        )
    if aug.rand_crop:
        y = rng.randint(0, rh - out_h)
        x = rng.randint(0, rw - out_w)
    else:
        y, x = (rh - out_h) // 2, (rw - out_w) // 2
    hls = None
    if aug.color:
        dh = int(rng.random() * aug.random_h * 2 - aug.random_h)
        ds = int(rng.random() * aug.random_s * 2 - aug.random_s)
        dl = int(rng.random() * aug.random_l * 2 - aug.random_l)
        hls = (dh, dl, ds)
    flip = bool(aug.rand_mirror and rng.random() < 0.5)
    if inverse is None:
        return Plan((rh, rw), (1.0, 0.0, float(x), 0.0, 1.0, float(y)), True, flip, hls)
    a, b, c, d, e, f = inverse
    # output (u, v) -> warped frame (u + x, v + y) -> frame, through the inverse warp
    matrix = (a, b, a * x + b * y + c, d, e, d * x + e * y + f)
    return Plan((rh, rw), matrix, False, flip, hls)


def _warp_inverse(rh: int, rw: int, aug, rng: SampleRandom) -> Affine:
    """The inverse of MXNet's random warp matrix, in continuous coordinates."""
    s = rng.random() * aug.max_shear_ratio * 2 - aug.max_shear_ratio
    angle = rng.randint(-aug.max_rotate_angle, aug.max_rotate_angle)
    ratio = rng.random() * aug.max_aspect_ratio * 2 - aug.max_aspect_ratio + 1
    a, b = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    hs = 2.0 / (1 + ratio)
    ws = ratio * hs
    m00, m01 = hs * a - s * b * ws, hs * b + s * a * ws
    m10, m11 = -b * ws, a * ws
    # MXNet maps the source centre to the centre of an output of the same size (pixel-index
    # convention); in continuous coordinates the translation gains 0.5 - M @ (0.5, 0.5)
    tx = (rw - (m00 * rw + m01 * rh)) / 2 + 0.5 - (m00 + m01) * 0.5
    ty = (rh - (m10 * rw + m11 * rh)) / 2 + 0.5 - (m10 + m11) * 0.5
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    return (i00, i01, -(i00 * tx + i01 * ty), i10, i11, -(i10 * tx + i11 * ty))


def scale_matrix(matrix: Affine, sx: float, sy: float) -> Affine:
    """Compose ``matrix`` with a scaling of the frame (frame coords -> decoded-image coords)."""
    a, b, c, d, e, f = matrix
    return (a * sx, b * sx, c * sx, d * sy, e * sy, f * sy)
