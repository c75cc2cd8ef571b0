"""Outputs that appear whole or not at all: a file (``AtomicOutput``) or a folder (``atomic_folder``).

A local file is written under a hidden temporary name in its destination folder and renamed on
success; an ``s3://`` object goes through smart_open, whose multipart upload completes only on close
(and is aborted on error). Folders the output needed and that did not exist are removed again when
the output is dropped, so a failure leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from typing import IO, Iterator

from ..errors import UsageError
from .paths import PathLike, is_uri, local_path


def make_parents(folder: str) -> list[str]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    created: list[str] = []
    current = os.path.abspath(folder)
    while current and not os.path.exists(current):
        created.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    os.makedirs(folder, exist_ok=True)
    return created


def remove_created(created: list[str]) -> None:
    """Remove folders made by :func:`make_parents` again, if they are still empty."""
    for folder in created:
        try:
            os.rmdir(folder)
        except OSError:
            return


class AtomicOutput:
    """A writable file that appears at ``dest`` only when closed without error."""

    def __init__(self, dest: PathLike, mode: str = "wb"):
        self.dest = os.fspath(dest)
        self._tmp: str | None = None
        self._created: list[str] = []
        if is_uri(self.dest):
            from .streams import smart_open_uri

            self.file = smart_open_uri(self.dest, mode)
            return
        path = local_path(self.dest)
        if path.endswith(("/", os.sep)) or os.path.isdir(path):
            raise UsageError(f"{self.dest}: is a folder; give a file name", path=self.dest)
        self._created = make_parents(os.path.dirname(os.path.abspath(path)))
        fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                         dir=os.path.dirname(os.path.abspath(path)))
        if "b" in mode:  # a large buffer coalesces small writes (record headers, padding)
            self.file = os.fdopen(fd, mode, buffering=1 << 20)
        else:
            self.file = io.open(fd, mode, encoding="utf-8", newline="", buffering=1 << 20)

    @property
    def temporary_path(self) -> str | None:
        """The local temporary file being written (None on ``s3://``), for a writer that opens it
        natively (pyarrow): write through one handle only, and before :meth:`commit`."""
        return self._tmp

    def commit(self) -> None:
        """Close the file and make it appear at its destination."""
        from .streams import remote_errors

        with remote_errors(self.dest):  # an upload completes here
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
                remove_created(self._created)
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


@contextlib.contextmanager
def atomic_folder(dest: PathLike) -> Iterator[str]:
    """Yield a hidden temporary folder beside ``dest``; on success its contents appear at ``dest``.

    When ``dest`` does not exist the temporary folder is renamed to it; when it is an existing folder
    the new entries are moved into it (replacing files of the same name). On an exception the
    temporary folder, and any parent folders created for it, are removed and ``dest`` is untouched.
    """
    name = os.fspath(dest)
    if is_uri(name):
        raise UsageError(f"{name}: an output folder must be local", path=name)
    target = os.path.abspath(local_path(name))
    if os.path.exists(target) and not os.path.isdir(target):
        raise UsageError(f"{name}: exists and is not a folder", path=name)
    created = make_parents(os.path.dirname(target))
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=os.path.dirname(target))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_created(created)
        raise
    os.chmod(tmp, 0o755)
    if os.path.isdir(target):
        _merge_into(tmp, target)
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, target)


def _merge_into(src: str, dest: str) -> None:
    """Move every entry of ``src`` into the existing folder ``dest``."""
    for entry in os.listdir(src):
        source, target = os.path.join(src, entry), os.path.join(dest, entry)
        if os.path.isdir(source) and os.path.isdir(target):
            _merge_into(source, target)
        else:
            if os.path.isdir(target):
                shutil.rmtree(target)
            os.replace(source, target)
