"""What a path names: a local file, a ``file://`` path, a URI (``s3://``...) or a FIFO."""
from __future__ import annotations

import os
import stat
from typing import Any

PathLike = str | os.PathLike


def is_uri(path: Any) -> bool:
    """True for ``scheme://...`` strings (s3://, gs://, http://); False for local paths."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def is_s3(path: Any) -> bool:
    """True for ``s3://`` URIs."""
    return isinstance(path, str) and path.startswith("s3://")


def local_path(path: PathLike) -> str:
    """Strip a ``file://`` prefix and return a plain local path."""
    path = os.fspath(path)
    return path[len("file://"):] if path.startswith("file://") else path


def is_fifo(path: PathLike) -> bool:
    """True if ``path`` is a local named pipe."""
    try:
        return stat.S_ISFIFO(os.stat(local_path(path)).st_mode)
    except (OSError, TypeError, ValueError):
        return False


def is_stream(path: PathLike) -> bool:
    """True if ``path`` exists locally and is neither a regular file nor a folder: a named pipe or
    a device such as ``/dev/null``, which is written in place, not replaced by a renamed file."""
    try:
        mode = os.stat(local_path(path)).st_mode
    except (OSError, TypeError, ValueError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/x.jpg`` -> ``("bucket", "key/x.jpg")``."""
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key


def join_uri(prefix: str, relative: str) -> str:
    """``prefix`` + ``/`` + ``relative``, with exactly one slash between them."""
    if not prefix:
        return relative
    return prefix.rstrip("/") + "/" + relative.lstrip("/")
