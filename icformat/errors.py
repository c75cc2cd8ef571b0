"""Exception types of icformat: every error a user can cause is an ``IcformatError``.

Families (catch the one you can handle):

- ``InputNotFound`` (also ``FileNotFoundError``): a file, folder, object or prefix does not exist.
- ``FormatError`` (also ``ValueError``): data does not follow its format; carries ``path``, ``line``
  (1-based, text files) and ``offset`` (absolute byte position, binary files) where known.
  Subclasses: ``WrongFileKind`` (a RecordIO file given as a ``.lst``...), ``RecordIOError``, ``LstError``,
  ``ManifestError`` (``LabelError``), ``ImageError`` (``ImageTooLarge``), ``BadRecordError``.
- ``UsageError`` (also ``ValueError``): bad arguments or options.
- ``RemoteAccessError`` (also ``OSError``): an ``s3://`` object cannot be reached; ``reason`` is a
  stable code and the subclasses name the common ones (credentials, permission, endpoint, name).
- ``MissingDependencyError`` (also ``ImportError``): an optional package is needed.
- ``WorkerError`` (also ``RuntimeError``): a parallel worker died, failed or hung.

Every error pickles and unpickles to the same type, message and attributes, so errors raised in
worker processes read the same in the parent.
"""
from __future__ import annotations

from typing import Any


def _restore(cls: type, args: tuple, state: dict) -> "IcformatError":
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class IcformatError(Exception):
    """Base class of every error icformat raises on bad input or bad usage."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling __init__ again: the message is already formatted.
        return _restore, (type(self), self.args, dict(self.__dict__))


class InputNotFound(IcformatError, FileNotFoundError):
    """An input (file, folder, object or prefix) does not exist; ``path`` names it."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


class UsageError(IcformatError, ValueError):
    """Bad arguments or options; ``path`` names the file concerned, if any."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


class FormatError(IcformatError, ValueError):
    """Data does not follow its format.

    ``path`` names the file (or object URI), ``line`` is the 1-based line of a text file, ``offset``
    the absolute byte position in a binary file, ``reason`` the message without the location. The
    message reads ``path:line: reason`` or ``path@offset: reason``.
    """

    def __init__(self, message: str, path: str | None = None, offset: int | None = None, *, line: int | None = None):
        self.path = path
        self.line = line
        self.offset = offset
        self.reason = message
        super().__init__(self._located(message))

    def _located(self, message: str) -> str:
        if self.path is None and self.line is None and self.offset is None:
            return message
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.offset is not None:
            where = f"{where}@{self.offset}"
        return f"{where}: {message}"


class WrongFileKind(FormatError):
    """A file of another kind than the command reads (a RecordIO file given as a ``.lst``, a JPEG
    given as a ``.rec``); ``kind`` names what it is (``recordio``, ``jpeg``, ``gzip``, ``binary``...).
    The message reads ``path is a RecordIO file, not a .lst: use `icformat rec verify```."""

    def __init__(self, what: str, expected: str, use: str, path: str | None = None, *, kind: str = ""):
        self.kind = kind
        super().__init__(f"{what}, not {expected}: {use}", None if path is None else str(path))

    def _located(self, message: str) -> str:
        return f"{self.path or 'the input'} is {message}"


class RecordIOError(FormatError):
    """Bad RecordIO framing or image header (bad magic, truncated record, bad cflag sequence)."""


class NotRecordIOError(WrongFileKind, RecordIOError):
    """A file given as a ``.rec`` is recognisably something else (an image, a ``.lst``, JSON, an archive)."""


class LineError(FormatError):
    """A text file (``.lst``, manifest, ``.idx``) has a bad line; ``line`` is 1-based."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, *, offset: int | None = None):
        super().__init__(message, path, offset, line=line)


class LstError(LineError):
    """A ``.lst`` file has a bad line."""


class ManifestError(LineError):
    """An augmented manifest has a bad line."""


class LabelError(ManifestError):
    """A label value is invalid for its label format."""


class ImageError(FormatError):
    """An image cannot be decoded, encoded or is unsuitable."""


class ImageTooLarge(ImageError):
    """An image over the pixel budget (``--max-pixels``), refused before decoding, or one that ran
    out of memory decoding; ``height``, ``width`` (when known) and ``max_pixels`` say how large."""

    def __init__(self, message: str, path: str | None = None, offset: int | None = None, *, line: int | None = None,
                 height: int | None = None, width: int | None = None, max_pixels: int | None = None):
        self.height, self.width, self.max_pixels = height, width, max_pixels
        super().__init__(message, path, offset, line=line)


class BadRecordError(FormatError):
    """A loader met a record it cannot use (``strict=True``)."""


class RemoteAccessError(IcformatError, OSError):
    """A remote object (``s3://``) cannot be reached; ``uri`` names it, ``reason`` is a stable code:
    ``credentials``, ``permission``, ``endpoint``, ``bad-name`` or ``other``."""

    reason_code = "other"

    def __init__(self, message: str, uri: str | None = None, *, reason: str | None = None):
        self.uri = uri
        self.path = uri
        self.reason = reason or self.reason_code
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RemoteCredentialsError(RemoteAccessError):
    """No credentials were found, or they were rejected."""

    reason_code = "credentials"


class RemotePermissionError(RemoteAccessError):
    """The credentials do not allow this access."""

    reason_code = "permission"


class RemoteEndpointError(RemoteAccessError):
    """The endpoint cannot be reached (network, DNS, wrong ``AWS_ENDPOINT_URL_S3``)."""

    reason_code = "endpoint"


class RemoteNameError(RemoteAccessError):
    """The bucket name (or URI) is not valid."""

    reason_code = "bad-name"


class OutputWriteError(IcformatError, OSError):
    """An output could not be written (a full disk, a file size limit, a quota); ``path`` names it.
    Nothing of it is left behind."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


class MissingDependencyError(IcformatError, ImportError):
    """An optional dependency is needed; the message says what to install."""


class WorkerError(IcformatError, RuntimeError):
    """A parallel worker process failed, died or stopped answering."""


class WorkerTimeout(WorkerError):
    """A worker neither answered nor died within the allowed time."""


class HyperparameterError(IcformatError, ValueError):
    """A training hyperparameter is unknown, missing, invalid or contradicts another; ``name`` names it."""

    def __init__(self, message: str, name: str | None = None):
        self.name = name
        super().__init__(message)


class TrainingDataError(IcformatError, ValueError):
    """A training channel does not fit the hyperparameters (too few images, labels out of range...)."""


class ModelMismatchError(IcformatError, ValueError):
    """A model given to seed training (``--model``, ``--pretrained``) does not fit the hyperparameters."""


class JobError(UsageError):
    """A training job's description cannot be read (bad request JSON, bad ``--channel``)."""


class ChannelUnreachable(IcformatError):
    """A channel's data cannot be reached (credentials, bucket, network); ``uri`` names it and
    ``reason`` says why. Preflight then says "could not check", not "will fail"."""

    def __init__(self, reason: str, uri: str):
        self.uri = uri
        self.reason = reason
        super().__init__(f"{uri}: {reason}")


class HttpError(IcformatError):
    """An inference request answered with ``status`` and a JSON ``{"error": message}`` body."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


__all__ = [
    "IcformatError", "InputNotFound", "UsageError", "FormatError", "RecordIOError", "LineError", "LstError",
    "ManifestError", "LabelError", "WrongFileKind", "NotRecordIOError", "ImageError", "ImageTooLarge", "BadRecordError", "RemoteAccessError", "RemoteCredentialsError",
    "RemotePermissionError", "RemoteEndpointError", "RemoteNameError", "MissingDependencyError", "WorkerError",
    "WorkerTimeout", "HyperparameterError", "TrainingDataError", "ModelMismatchError",
    "JobError", "ChannelUnreachable", "HttpError",
]
