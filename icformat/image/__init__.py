"""Image decoding, encoding and resizing (simplejpeg / Pillow); knows no container format."""
from .decode import apply_orientation, decode, exif_orientation, image_format, image_size, is_jpeg

__all__ = ["decode", "image_size", "image_format", "is_jpeg", "exif_orientation", "apply_orientation"]
