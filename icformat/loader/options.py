"""Loader options, validated once at the door: output shape and type, resize, augmentation.

``Augmentation.from_type`` maps SageMaker's ``augmentation_type`` hyperparameter to the
``ImageRecordIter`` settings it stands for (random crop + mirror; HSL jitter of +-36, +-50, +-50;
rotation up to 10 degrees, shear up to 0.1, aspect-ratio change up to 0.25).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import UsageError

AUGMENTATION_TYPES = ("crop", "crop_color", "crop_color_transform")
DTYPES = ("float32", "uint8")


@dataclass(frozen=True)
class Augmentation:
    """Random augmentation, in MXNet ``ImageRecordIter`` terms (all off by default)."""

    rand_crop: bool = False
    rand_mirror: bool = False
    random_h: int = 0
    random_s: int = 0
    random_l: int = 0
    max_rotate_angle: int = 0
    max_shear_ratio: float = 0.0
    max_aspect_ratio: float = 0.0
    fill_value: int = 255

    @classmethod
    def from_type(cls, augmentation_type: str | None) -> "Augmentation":
        """SageMaker's ``augmentation_type``: None, ``crop``, ``crop_color`` or ``crop_color_transform``."""
        if augmentation_type is None or augmentation_type in ("", "none", "None"):
            return cls()
        if augmentation_type not in AUGMENTATION_TYPES:
            raise UsageError(
                f"augmentation_type must be one of {', '.join(AUGMENTATION_TYPES)} or None, got {augmentation_type!r}"
            )
        crop = dict(rand_crop=True, rand_mirror=True)
        if augmentation_type == "crop":
            return cls(**crop)
        color = dict(crop, random_h=36, random_s=50, random_l=50)
        if augmentation_type == "crop_color":
            return cls(**color)
        return cls(**color, max_rotate_angle=10, max_shear_ratio=0.1, max_aspect_ratio=0.25)

    @property
    def affine(self) -> bool:
        """True when a rotation/shear/aspect warp is drawn per sample."""
        return self.max_rotate_angle > 0 or self.max_shear_ratio > 0 or self.max_aspect_ratio > 0

    @property
    def color(self) -> bool:
        return bool(self.random_h or self.random_s or self.random_l)

    @property
    def random(self) -> bool:
        return self.rand_crop or self.rand_mirror or self.affine or self.color


@dataclass(frozen=True)
class Preprocess:
    """What every sample goes through: decode, ``resize`` (shorter side), warp, crop to
    ``data_shape`` (random or centre), colour jitter, mirror, then ``(x - mean) / std`` into
    ``dtype``. Without mean/std, float32 output holds raw 0-255 values, as SageMaker's built-in
    network expects (it normalises inside the graph)."""

    data_shape: tuple[int, int, int]
    resize: int | None = None
    augment: Augmentation = Augmentation()
    dtype: str = "float32"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    apply_exif: bool = True

    @property
    def channels(self) -> int:
        return self.data_shape[0]

    @property
    def height(self) -> int:
        return self.data_shape[1]

    @property
    def width(self) -> int:
        return self.data_shape[2]


def parse_data_shape(data_shape: Sequence[int] | str) -> tuple[int, int, int]:
    """``(c, h, w)`` from a tuple or SageMaker's ``"3,224,224"``; c must be 1 or 3."""
    if isinstance(data_shape, str):
        try:
            data_shape = tuple(int(v) for v in data_shape.split(","))
        except ValueError:
            raise UsageError(f"data_shape must look like '3,224,224', got {data_shape!r}") from None
    shape = tuple(int(v) for v in data_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise UsageError(f"data_shape must be (channels, height, width), got {data_shape!r}")
    if shape[0] not in (1, 3):
        raise UsageError(f"data_shape channels must be 1 (gray) or 3 (RGB), got {shape[0]}")
    return shape  # type: ignore[return-value]


def _per_channel(name: str, values, channels: int) -> tuple[float, ...] | None:
    if values is None:
        return None
    if isinstance(values, (int, float)):
        values = [values] * channels
    values = tuple(float(v) for v in values)
    if len(values) != channels:
        raise UsageError(f"{name} needs {channels} value(s), one per channel, got {len(values)}")
    return values


def make_preprocess(
    data_shape,
    *,
    resize: int | None = None,
    augmentation_type: str | Augmentation | None = None,
    dtype: str = "float32",
    mean=None,
    std=None,
    apply_exif: bool = True,
) -> Preprocess:
    """Validate the loader's image options and bundle them."""
    shape = parse_data_shape(data_shape)
    if dtype not in DTYPES:
        raise UsageError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if resize is not None:
        resize = int(resize)
        if resize <= 0:
            resize = None  # MXNet's -1: no resize
        elif resize < min(shape[1], shape[2]):
            raise UsageError(
                f"resize={resize} is smaller than data_shape {shape[1]}x{shape[2]}: every image would be too small; "
                f"use resize >= {max(shape[1], shape[2])}"
            )
    augment = augmentation_type if isinstance(augmentation_type, Augmentation) else Augmentation.from_type(augmentation_type)
    mean_t, std_t = _per_channel("mean", mean, shape[0]), _per_channel("std", std, shape[0])
    if (mean_t or std_t) and dtype != "float32":
        raise UsageError("mean/std need dtype='float32'")
    if std_t and min(abs(v) for v in std_t) == 0:
        raise UsageError("std must not contain zeros")
    return Preprocess(shape, resize, augment, dtype, mean_t, std_t, bool(apply_exif))
