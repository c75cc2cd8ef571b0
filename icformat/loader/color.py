"""Colour jitter in HLS space, as MXNet's default augmenter does it for ``crop_color``.

The image goes to 8-bit HLS (OpenCV's units: hue 0-180, lightness and saturation 0-255), each
channel gets its offset and is clamped (hue to 0-180, not wrapped, as MXNet does), then back to
RGB. OpenCV does the conversions when installed; otherwise a NumPy version of the same formulas.
"""
from __future__ import annotations

import numpy as np

LIMITS = np.array([180, 255, 255], dtype=np.int16)  # OpenCV 8-bit HLS: hue 0-180, lightness, saturation
_CHANNEL_BASE = np.array([0, 256, 512], dtype=np.uint16)
# which of (p2, p1, falling, rising) goes to (b, g, r) in each 60-degree sector (OpenCV's table);
# the GPU loader's jitter reads the same table
SECTORS = np.array([[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]], dtype=np.intp)


def jitter_hls(image: np.ndarray, offsets: tuple[int, int, int], cv2=None, out: np.ndarray | None = None) -> np.ndarray:
    """Add ``(hue, lightness, saturation)`` offsets to an ``HxWx3`` uint8 RGB image. With OpenCV
    and ``out`` (an ``HxWx3`` uint8 buffer, which may be ``image`` itself) all three passes
    write into ``out`` and it is returned; otherwise a new array."""
    if cv2 is not None:
        if out is not None and out.shape != image.shape:
            out = None
        hls = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HLS, dst=out)
        hls = cv2.LUT(hls, _offset_table(offsets).reshape(1, 256, 3), dst=hls)
        return cv2.cvtColor(hls, cv2.COLOR_HLS2RGB, dst=hls)
    lut = _offset_table(offsets)
    hls = np.take(lut.T.ravel(), rgb_to_hls(image) + _CHANNEL_BASE)
    return hls_to_rgb(hls)


def _offset_table(offsets: tuple[int, int, int]) -> np.ndarray:
    """``256 x 3`` table: value -> clamp(value + offset) for each HLS channel."""
    values = np.arange(256, dtype=np.int16)[:, None] + np.asarray(offsets, dtype=np.int16)
    return np.clip(values, 0, LIMITS).astype(np.uint8)


def rgb_to_hls(image: np.ndarray) -> np.ndarray:
    """``HxWx3`` uint8 RGB -> uint8 HLS in OpenCV's 8-bit units."""
    x = image.astype(np.float32) * np.float32(1 / 255)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    vmax = np.maximum(np.maximum(r, g), b)
    vmin = np.minimum(np.minimum(r, g), b)
    diff = vmax - vmin
    total = vmax + vmin
    light = total * 0.5
    gray = diff <= np.finfo(np.float32).eps
    safe = np.where(gray, 1, diff)
    sat = np.where(light < 0.5, diff / np.where(gray, 1, total), diff / np.where(gray, 1, 2 - total))
    hue = np.where(vmax == r, (g - b) / safe * 60, np.where(vmax == g, (b - r) / safe * 60 + 120, (r - g) / safe * 60 + 240))
    hue = np.where(hue < 0, hue + 360, hue)
    hue[gray] = 0
    sat[gray] = 0
    out = np.empty(image.shape, np.uint8)
    out[..., 0] = np.clip(np.rint(hue * 0.5), 0, 255)
    out[..., 1] = np.clip(np.rint(light * 255), 0, 255)
    out[..., 2] = np.clip(np.rint(sat * 255), 0, 255)
    return out


def hls_to_rgb(hls: np.ndarray) -> np.ndarray:
    """uint8 HLS in OpenCV's 8-bit units -> ``HxWx3`` uint8 RGB."""
    h = hls[..., 0].astype(np.float32) * np.float32(6 / 180)
    light = hls[..., 1].astype(np.float32) * np.float32(1 / 255)
    sat = hls[..., 2].astype(np.float32) * np.float32(1 / 255)
    p2 = np.where(light <= 0.5, light * (1 + sat), light + sat - light * sat)
    p1 = 2 * light - p2
    h = np.where(h >= 6, h - 6, h)
    sector = np.floor(h).astype(np.intp)
    frac = h - sector
    table = np.stack([p2, p1, p1 + (p2 - p1) * (1 - frac), p1 + (p2 - p1) * frac])
    out = np.empty(hls.shape, np.uint8)
    for channel, column in ((2, 0), (1, 1), (0, 2)):  # table columns are (b, g, r)
        picked = np.take_along_axis(table, SECTORS[sector, column][None], 0)[0]
        value = np.where(sat == 0, light, picked)
        out[..., channel] = np.clip(np.rint(value * 255), 0, 255)
    return out
