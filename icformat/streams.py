"""Kept for imports written before ``icformat.io``: the same names, from the one I/O layer."""
from __future__ import annotations

from .io.atomic import AtomicOutput, open_output
from .io.paths import PathLike, is_fifo, is_uri, local_path
from .io.streams import exists, open_input, smart_open_uri

__all__ = ["AtomicOutput", "PathLike", "exists", "is_fifo", "is_uri", "local_path", "open_input", "open_output", "smart_open_uri"]
