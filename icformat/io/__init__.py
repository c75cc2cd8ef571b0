"""The one I/O layer of icformat: paths (local, ``file://``, ``s3://``, FIFOs), opening inputs, atomic
outputs (files and folders), the shared S3 client with ranged reads, and the ordered parallel map."""
from __future__ import annotations

from .atomic import AtomicOutput, atomic_folder, open_output
from .objects import ObjectStore, read_bytes
from .parallel import map_ordered, start_method
from .paths import PathLike, is_fifo, is_s3, is_uri, join_uri, local_path, split_s3
from .streams import exists, open_input, size
from .upload import upload_folder

__all__ = [
    "AtomicOutput", "PathLike", "atomic_folder", "exists", "is_fifo", "is_s3", "is_uri", "join_uri", "local_path",
    "map_ordered", "ObjectStore", "open_input", "open_output", "read_bytes", "size", "split_s3", "start_method",
    "upload_folder",
]
