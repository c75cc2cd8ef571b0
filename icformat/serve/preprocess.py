"""The one preprocessing every inference path shares (MXNet and onnxruntime, predict, transform and
the HTTP endpoint), as SageMaker's image-classification containers do it.

The encoded image is decoded (EXIF orientation applied), made RGB (gray when the model takes one
channel), resized to the model's ``image_shape`` without keeping the aspect ratio and without
cropping, and fed as raw 0-255 values in CHW order: the network normalises its input itself (its
first layer is the ``bn_data`` BatchNorm). The resize is Pillow's bicubic ``Image.resize``, as in
SageMaker's Neo inference handler, computed the same way whether or not OpenCV is installed.
An image over the pixel budget (``image/budget.py``) is refused from its header with
``ImageTooLarge`` before anything is decoded, and so is one that runs out of memory on the way.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ImageError
from ..image.budget import out_of_memory, resolve_max_pixels
from ..image.decode import decode
from ..image.resize import resize

RESIZE_METHOD = "bicubic"


def check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """``image_shape`` as ``(C, H, W)``; C must be 1 or 3."""
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) <= 0:
        raise ValueError(f"image_shape must be (1 or 3, height, width), got {shape}")
    return shape  # type: ignore[return-value]


def preprocess(data: bytes | memoryview, image_shape: Sequence[int], *, max_pixels: int | None = None) -> np.ndarray:
    """One encoded image -> float32 ``(C, H, W)`` raw 0-255 pixels; ``ImageError`` says why it cannot
    (``ImageTooLarge`` over ``max_pixels``, the pixel budget)."""
    channels, height, width = check_image_shape(image_shape)
    if len(data) == 0:
        raise ImageError("empty image (0 bytes)")
    limit = resolve_max_pixels(max_pixels)
    try:
        return _preprocess(data, channels, height, width, limit)
    except MemoryError:
        raise out_of_memory(data, limit) from None


def _preprocess(data, channels: int, height: int, width: int, limit: int) -> np.ndarray:
    pixels = decode(data, color=1, max_pixels=limit)
    if channels == 1:  # luma from RGB, as Pillow's convert("L") gives it (not the JPEG's own Y plane)
        pixels = _to_gray(pixels)
    pixels = resize(pixels, height, width, method=RESIZE_METHOD, exact=True)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32)


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L"))


def preprocess_batch(images: Sequence[bytes], image_shape: Sequence[int]) -> np.ndarray:
    """Several encoded images -> float32 ``(N, C, H, W)``."""
    shape = check_image_shape(image_shape)
    batch = np.empty((len(images),) + shape, dtype=np.float32)
    for i, data in enumerate(images):
        batch[i] = preprocess(data, shape)
    return batch
