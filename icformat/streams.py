"""Opening inputs and outputs: a local fast path, ``s3://`` (and other URIs) through smart_open,
FIFOs and file objects as they are. Outputs are written to a temporary name and renamed on success."""
from __future__ import annotations

import io
import os
import stat
import tempfile
from typing import IO, Any, BinaryIO

PathLike = str | os.PathLike


def is_uri(path: Any) -> bool:
    """True for ``scheme://...`` strings (s3://, gs://, http://); False for local paths."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


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


def _smart_open(uri: str, mode: str) -> IO:
    import smart_open  # imported lazily: local work never pays for boto3

    return smart_open.open(uri, mode, compression="disable")


def open_input(src: PathLike | BinaryIO, mode: str = "rb") -> IO:
    """Open ``src`` for reading: a path, a URI or an already open file object (returned as is)."""
    if hasattr(src, "read"):
        return src  # type: ignore[return-value]
    if is_uri(src):
        return _smart_open(str(src), mode)
    return open(local_path(src), mode)


def exists(path: PathLike) -> bool:
    """Whether ``path`` (local or URI) exists."""
    if is_uri(path):
        try:
            with _smart_open(str(path), "rb"):
                return True
        except Exception:  # smart_open raises transport-specific errors
            return False
    return os.path.exists(local_path(path))


class AtomicOutput:
    """A writable binary file that appears at ``dest`` only when closed without error.

    Local paths are written to a temporary file in the same folder and renamed; URIs go through
    smart_open, whose multipart upload only completes on close (and is aborted on error).
    """

    def __init__(self, dest: PathLike, mode: str = "wb"):
        self.dest = os.fspath(dest)
        self._tmp: str | None = None
        if is_uri(self.dest):
            self.file = _smart_open(self.dest, mode)
        else:
            path = local_path(self.dest)
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
            if "b" in mode:  # a large buffer coalesces small writes (record headers, padding)
                self.file = os.fdopen(fd, mode, buffering=1 << 20)
            else:
                self.file = io.open(fd, mode, encoding="utf-8", newline="", buffering=1 << 20)

    def commit(self) -> None:
        """Close the file and make it appear at its destination."""
        self.file.close()
        if self._tmp is not None:
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, local_path(self.dest))
            self._tmp = None

    def abort(self) -> None:
        """Drop what was written; nothing appears at the destination."""
        if self._tmp is not None:
            try:
                self.file.close()
            finally:
                if os.path.exists(self._tmp):
                    os.unlink(self._tmp)
                self._tmp = None
            return
        raw = self.file
        if isinstance(raw, io.TextIOWrapper):
            raw = raw.detach()  # text mode: abort the binary writer underneath, uncommitted
        terminate = getattr(raw, "terminate", None)
        if terminate is not None:
            terminate()  # smart_open: abort the upload; no object appears
        else:
            raw.close()

    def __enter__(self) -> IO:
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def open_output(dest: PathLike, mode: str = "wb") -> AtomicOutput:
    """Open ``dest`` for atomic writing; use as a context manager or call commit()/abort()."""
    return AtomicOutput(dest, mode)
