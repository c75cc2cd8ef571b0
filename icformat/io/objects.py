"""Whole objects by name: read, check and write a local file, an ``s3://`` object (through the one
shared client) or another smart_open URI. Safe to share between threads."""
from __future__ import annotations

import os
import stat

from ..errors import IcformatError, RemoteCredentialsError, RemoteEndpointError, RemoteNameError
from . import s3
from .atomic import open_output
from .paths import is_s3, is_uri, local_path
from .streams import open_input

# Failures of the setup, not of one object: the same for every object, so report them once.
SETUP_ERRORS = (RemoteCredentialsError, RemoteEndpointError, RemoteNameError)


def read_bytes(uri: str) -> bytes:
    """The whole content of a local file, an ``s3://`` object or another URI (the one way to read a
    file's bytes); raises ``InputNotFound``, ``RemoteAccessError`` or ``OSError``."""
    if is_s3(uri):
        return s3.get(uri)
    if not is_uri(uri):
        data = read_local_file(local_path(uri))
        if data is not None:
            return data
    with open_input(uri, "rb") as f:
        return f.read()


def read_local_file(path: str) -> bytes | None:
    """A local file's bytes through one ``os.open``, ``fstat`` and ``os.read`` (of one byte more
    than the file's size, so that a file that grew meanwhile is read to its new end), without a
    file object; a FIFO or device is read to its end like ``open().read()``. None when ``path``
    cannot be opened or is a folder: :func:`read_bytes` then opens it the usual way, which raises
    the usual error."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None
        size = info.st_size if stat.S_ISREG(info.st_mode) else -1
        first = os.read(fd, size + 1) if size > 0 else b""
        if size > 0 and len(first) == size:  # the whole file, as large as it was said to be: at its end
            return first
        parts = [first] if first else []
        chunk = os.read(fd, _READ_MORE)
        while chunk:
            parts.append(chunk)
            chunk = os.read(fd, _READ_MORE)
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


_READ_MORE = 1 << 20


class ObjectStore:
    """Reads, checks and writes objects; ``s3://`` goes through :func:`icformat.io.s3.client`."""

    def s3(self):
        """The shared boto3 S3 client."""
        return s3.client()

    def read(self, uri: str) -> bytes:
        """The whole object's bytes; raises ``InputNotFound``, ``RemoteAccessError`` or ``OSError``."""
        return read_bytes(uri)

    def check(self, uri: str) -> str | None:
        """None when ``uri`` can be read, else the reason why not. Failures that would hit every
        object alike (no credentials, unreachable endpoint, invalid bucket name) are raised."""
        try:
            if is_s3(uri):
                return None if s3.head(uri) is not None else "no such object"
            if not is_uri(uri):
                if os.path.isfile(uri):
                    return None if os.access(uri, os.R_OK) else "not readable (permissions)"
                return "no such file" if not os.path.exists(uri) else "not a regular file"
            with open_input(uri, "rb") as f:
                f.read(1)
            return None
        except SETUP_ERRORS:
            raise
        except Exception as exc:  # other transports raise their own errors
            return describe_error(exc, uri)

    def write(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` at ``uri`` (local files appear whole, through a temporary name; an S3 object
        gets ``content_type`` as its Content-Type)."""
        if is_s3(uri):
            s3.put(uri, data, content_type)
            return
        with open_output(uri, "wb") as out:
            out.write(data)


def describe_error(exc: BaseException, uri: str | None = None) -> str:
    """A short reason for an I/O failure, without the object's name (the caller says it)."""
    if uri is not None and is_s3(uri) and not isinstance(exc, IcformatError):
        exc = s3.remote_error(exc, uri) or exc
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    path = getattr(exc, "path", None) or getattr(exc, "uri", None)
    if isinstance(exc, IcformatError) and path and text.startswith(f"{path}: "):
        return text[len(path) + 2 :]
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return text
