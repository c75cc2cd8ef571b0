"""``im2rec``: pack images listed in a ``.lst`` into RecordIO (``.rec`` + ``.idx``), as MXNet's
``tools/im2rec.py`` does, with many workers and records in list order."""
from .pack import PackOptions, image_header, pack_file, pack_image, read_image_file, transform_image
from .plan import find_lst_files, output_prefix, shard_bounds
from .run import PackReport, Skipped, im2rec, iter_packed, pack_lst

__all__ = [
    "PackOptions",
    "PackReport",
    "Skipped",
    "im2rec",
    "pack_lst",
    "iter_packed",
    "pack_image",
    "pack_file",
    "transform_image",
    "image_header",
    "read_image_file",
    "find_lst_files",
    "output_prefix",
    "shard_bounds",
]
