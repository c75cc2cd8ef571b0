"""The one answer to "are these image bytes OK?", used by ``lst validate --check-images``, ``rec
verify --decode``, ``rec info --decode`` and the loader's account of a bad record.

An image is an error only when the decoder the loader uses (libjpeg-turbo without strict mode, or
Pillow) cannot produce pixels from it. Bytes that decode only with libjpeg warnings (a JPEG cut
short, an extra byte before its end marker, corrupt entropy data) are a warning: MXNet's
``ImageRecordIter`` (OpenCV) decodes them too, showing a missing part as gray. One exception, on
purpose: a JPEG with no decodable scan data at all is an error, though MXNet turns it into a black image.
An image over the pixel budget (``budget.py``) is an error too, judged from its header alone.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Sequence

from ..errors import ImageError, ImageTooLarge
from .decode import ImageInfo, decode, image_info, verify_image

ERROR = "error"
WARNING = "warning"
_GRAY_MODES = ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L")


class Finding(NamedTuple):
    """One thing wrong with an image: ``severity``, a stable ``code`` and a ``message``."""

    severity: str
    code: str
    message: str


class ImageVerdict(NamedTuple):
    """What :func:`judge_image` found: the header ``info`` (None when unreadable) and every
    :class:`Finding`. ``ok`` is True when none is an error."""

    info: ImageInfo | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def reason(self) -> str | None:
        """The first error's message, or None."""
        return next((f.message for f in self.findings if f.severity == ERROR), None)


def judge_image(
    data: bytes | memoryview,
    *,
    image_shape: Sequence[int] | None = None,
    resize: int = 0,
    name: str | None = None,
    max_pixels: int | None = None,
) -> ImageVerdict:
    """Decide whether ``data`` is a usable image. ``image_shape`` (C, H, W as SageMaker's
    ``image_shape``) adds the size check after ``resize`` (shorter side) and the colour warnings;
    ``name`` (the file's name) adds a warning when its extension names another format than the bytes.
    An image over ``max_pixels`` (the pixel budget, at full size) is an ``image-too-large`` error,
    found from its header without decoding it."""
    try:
        info = image_info(data, max_pixels=max_pixels)
        decode(data, min_height=1, min_width=1, apply_exif=False, max_pixels=max_pixels)
    except ImageTooLarge as exc:
        return ImageVerdict(None, (Finding(ERROR, "image-too-large", str(exc)),))
    except ImageError as exc:
        return ImageVerdict(None, (Finding(ERROR, _error_code(data), str(exc)),))
    findings: list[Finding] = []
    try:
        verify_image(data, max_pixels=max_pixels)
    except ImageError as exc:
        findings.append(Finding(WARNING, "decode-warning", f"{exc}; it decodes with warnings (as MXNet and OpenCV do)"))
    findings += _name_findings(data, name)
    findings += _size_findings(info, image_shape, resize)
    findings += _mode_findings(info, image_shape[0] if image_shape else 3)
    return ImageVerdict(info, tuple(findings))


def _error_code(data) -> str:
    if len(data) == 0:
        return "empty-image"
    from .decode import image_format

    return "not-an-image" if image_format(data) == "unknown" else "undecodable"


_EXTENSION_FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png", ".gif": "gif", ".bmp": "bmp",
                      ".tif": "tiff", ".tiff": "tiff", ".webp": "webp"}
_FORMAT_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "bmp": ".bmp", "tiff": ".tif", "webp": ".webp"}


def _name_findings(data, name: str | None) -> list[Finding]:
    """A warning when the file's extension names another image format than its bytes."""
    if not name:
        return []
    from .decode import image_format

    extension = os.path.splitext(name)[1].lower()
    named, real = _EXTENSION_FORMATS.get(extension), image_format(data)
    if named is None or real == "unknown" or named == real:
        return []
    return [Finding(WARNING, "misnamed-image", f"a {real.upper()} image named {extension}; it decodes by its content (as MXNet "
                                               f"does), but tools that go by the name may not: rename it {_FORMAT_EXTENSIONS[real]}")]


def _size_findings(info: ImageInfo, image_shape, resize: int) -> list[Finding]:
    if not image_shape:
        return []
    from .resize import shorter_side_size

    h, w = info.height, info.width
    if resize:
        h, w = shorter_side_size(h, w, resize)
    if h >= image_shape[1] and w >= image_shape[2]:
        return []
    after = f", {h}x{w} after --resize {resize}" if resize else ""
    return [Finding(ERROR, "image-too-small", f"image is {info.height}x{info.width} (HxW){after}, smaller than --image-shape "
                                              f"{','.join(map(str, image_shape))}; training fails on it (resize it or raise --resize)")]


def _mode_findings(info: ImageInfo, channels: int) -> list[Finding]:
    found = []
    if info.mode == "CMYK":
        found.append(Finding(WARNING, "cmyk-image", "CMYK image; it is converted to RGB when decoded and colours may shift"))
    elif info.mode in _GRAY_MODES and channels == 3:
        found.append(Finding(WARNING, "grayscale-image", "grayscale image; it becomes 3 equal channels when trained in colour"))
    if info.alpha and channels != 4:
        found.append(Finding(WARNING, "alpha-channel", "image has an alpha channel; it is dropped when decoded"))
    if info.bits == 16:
        found.append(Finding(WARNING, "16-bit-image", "16-bit image; it is reduced to 8 bits when decoded"))
    return found
