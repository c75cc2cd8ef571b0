"""Outputs that appear whole or not at all: a file (``AtomicOutput``) or a folder (``atomic_folder``).

A local file is written under a hidden temporary name in its destination folder and renamed on
success; an ``s3://`` object goes through smart_open, whose multipart upload completes only on close
(and is aborted on error). An existing device or named pipe (``/dev/null``, a FIFO a reader waits
on) is written in place: it streams, and is never replaced by a file. Folders the output needed and
that did not exist are removed again when the output is dropped, so a failure leaves nothing
behind: also when several outputs share a new folder (a ``.rec`` and its ``.idx``) and are dropped
in any order, since the folder stays marked as made-for-output until one of them is committed.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import tempfile
import threading
from typing import IO, Iterator

from ..errors import IcformatError, OutputWriteError, UsageError
from .paths import PathLike, is_stream, is_uri, local_path


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


# folders made for outputs none of which has been committed yet (abspath); see _claim_folders
_UNCLAIMED: set[str] = set()
_UNCLAIMED_LOCK = threading.Lock()


def _claim_folders(folder: str) -> list[str]:
    """Create ``folder`` as needed; return the folders this output may remove when dropped (deepest
    first): those it created, and those another still uncommitted output created for it."""
    created = make_parents(folder)
    with _UNCLAIMED_LOCK:
        _UNCLAIMED.update(created)
        current, ours = os.path.abspath(folder), []
        while current in _UNCLAIMED:
            ours.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
    return ours


def _keep_folders(folders: list[str]) -> None:
    """An output was committed there: the folders hold a result now."""
    with _UNCLAIMED_LOCK:
        _UNCLAIMED.difference_update(folders)


def _drop_folders(folders: list[str]) -> None:
    """An output was dropped: remove the folders made for outputs, deepest first, while empty."""
    with _UNCLAIMED_LOCK:
        for folder in folders:
            if folder not in _UNCLAIMED:
                return
            try:
                os.rmdir(folder)
            except OSError:
                return  # another output's temporary file is still there: it removes the folder
            _UNCLAIMED.discard(folder)


# write failures that are about the destination's file system, not about the data
_NO_ROOM = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file is larger than allowed here (file size limit)",
            errno.EDQUOT: "the disk quota is used up", errno.EROFS: "the file system is read-only",
            errno.EIO: "an input/output error"}


def output_error(dest: PathLike, exc: BaseException) -> BaseException:
    """``exc`` as raised while writing ``dest``: a full disk, a size limit or a quota (an ``OSError``
    naming no file) becomes an :class:`OutputWriteError` naming ``dest`` and what to do; anything
    else is returned unchanged."""
    if isinstance(exc, OSError) and not isinstance(exc, IcformatError) and exc.errno in _NO_ROOM:
        where = os.path.dirname(os.path.abspath(local_path(os.fspath(dest)))) if not is_uri(os.fspath(dest)) else None
        room = f" ({where})" if where else ""
        return OutputWriteError(f"{os.fspath(dest)}: cannot be written, {_NO_ROOM[exc.errno]}{room}; nothing was "
                                "left behind: free some space or write the output elsewhere", path=os.fspath(dest))
    return exc


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
        if is_stream(path):  # /dev/null, a named pipe: written in place, never replaced by a file
            self.file = open(path, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""}))
            return
        self._created = _claim_folders(os.path.dirname(os.path.abspath(path)))
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

        try:
            with remote_errors(self.dest):  # an upload completes here
                self.file.close()
            if self._tmp is not None:
                os.chmod(self._tmp, 0o644)
                os.replace(self._tmp, local_path(self.dest))
        except BaseException as exc:  # e.g. the last buffered bytes find the disk full: leave nothing
            self.abort()
            error = output_error(self.dest, exc)
            if error is exc:
                raise
            raise error from exc
        if self._tmp is not None:
            self._tmp = None
            _keep_folders(self._created)

    def abort(self) -> None:
        """Drop what was written; nothing appears at the destination."""
        if self._tmp is not None:
            try:
                with contextlib.suppress(OSError):  # the buffer's last bytes may not fit: dropped anyway
                    self.file.close()
            finally:
                if os.path.exists(self._tmp):
                    os.unlink(self._tmp)
                self._tmp = None
                _drop_folders(self._created)
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
            return
        self.abort()
        error = output_error(self.dest, exc)
        if error is not exc:
            raise error from exc


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
