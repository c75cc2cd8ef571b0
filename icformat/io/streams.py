"""Opening inputs: a local fast path, ``s3://`` (and other URIs) through smart_open, FIFOs and file
objects as they are."""
from __future__ import annotations

import contextlib
import os
from typing import IO, Any, BinaryIO, ContextManager

from ..errors import InputNotFound, MissingDependencyError, UsageError
from .paths import PathLike, is_s3, is_uri, local_path


def smart_open_uri(uri: str, mode: str) -> IO:
    """Open a URI with smart_open (imported lazily: local work never pays for boto3); ``s3://`` uses
    the one shared client and its errors become ``RemoteAccessError``/``InputNotFound``."""
    try:
        import smart_open
    except ImportError as exc:
        raise MissingDependencyError(f"{uri}: URIs need smart_open: pip install 'smart_open[s3]'") from exc
    if not is_s3(uri):
        return smart_open.open(uri, mode, compression="disable")
    from . import s3

    s3.object_location(uri)  # s3://bucket alone: one line, not smart_open's traceback
    with s3.mapped_errors(uri):
        return smart_open.open(uri, mode, compression="disable", transport_params={"client": s3.client()})


def open_input(src: PathLike | BinaryIO, mode: str = "rb") -> IO:
    """Open ``src`` for reading: a path, a URI or an already open file object (returned as is).
    A missing input raises ``InputNotFound``; a folder ``UsageError``."""
    if hasattr(src, "read"):
        return src  # type: ignore[return-value]
    if is_uri(src):
        return smart_open_uri(str(src), mode)
    return open_local(src, mode)


def open_local(path: PathLike, mode: str = "rb") -> IO:
    """``open()`` for a local input, with a missing file or a folder as icformat errors."""
    name = os.fspath(path)
    try:
        return open(local_path(name), mode)
    except FileNotFoundError:
        raise InputNotFound(f"{name}: no such file", name) from None
    except IsADirectoryError:
        raise UsageError(f"{name}: is a folder, not a file", name) from None


def remote_errors(path: Any) -> ContextManager[None]:
    """Around reads from an open ``s3://`` stream: failures become one-line ``IcformatError``s naming
    ``path`` (a connection lost mid-file, credentials expiring); a no-op for everything else."""
    if is_s3(path):
        from . import s3

        return s3.mapped_errors(str(path))
    return contextlib.nullcontext()


def exists(path: PathLike) -> bool:
    """Whether ``path`` (local or URI) exists; remote access errors other than a missing object
    (no credentials, bad bucket name) are raised."""
    if is_s3(path):
        from . import s3

        return s3.head(str(path)) is not None
    if is_uri(path):
        try:
            with smart_open_uri(str(path), "rb"):
                return True
        except Exception:  # other transports raise their own errors
            return False
    return os.path.exists(local_path(path))


def size(path: PathLike | BinaryIO) -> int | None:
    """Size in bytes of a local file or an ``s3://`` object; None for streams, FIFOs and other URIs."""
    if hasattr(path, "read"):
        return None
    if is_s3(path):
        from . import s3

        return s3.size(str(path))
    if is_uri(path):
        return None
    local = local_path(path)
    return os.path.getsize(local) if os.path.isfile(local) else None
