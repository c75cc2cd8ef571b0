"""Image decoding, encoding and resizing (simplejpeg / Pillow); knows no container format."""
from .decode import ImageInfo, apply_orientation, decode, exif_orientation, image_format, image_info, image_size, is_jpeg, verify_image
from .encode import encode, encode_jpeg, encode_png
from .resize import center_crop, output_size, resize, shorter_side_size
from .verdict import ImageVerdict, judge_image

__all__ = [
    "decode",
    "image_size",
    "image_format",
    "is_jpeg",
    "exif_orientation",
    "apply_orientation",
    "image_info",
    "verify_image",
    "judge_image",
    "ImageVerdict",
    "ImageInfo",
    "encode",
    "encode_jpeg",
    "encode_png",
    "resize",
    "shorter_side_size",
    "center_crop",
    "output_size",
]
