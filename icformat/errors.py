"""Exception types of icformat: every error a user can cause is an ``IcformatError``."""
from __future__ import annotations


class IcformatError(Exception):
    """Base class of every error icformat raises on bad input or bad usage."""


class FormatError(IcformatError, ValueError):
    """A file does not follow its format; ``offset`` is the byte position of the problem."""

    def __init__(self, message: str, path: str | None = None, offset: int | None = None):
        self.path = path
        self.offset = offset
        self.reason = message
        where = path or "<stream>"
        if offset is not None:
            where = f"{where}@{offset}"
        super().__init__(f"{where}: {message}")


class RecordIOError(FormatError):
    """Bad RecordIO framing or image header (bad magic, truncated record, bad cflag sequence)."""


class LineError(IcformatError, ValueError):
    """A text file (``.lst``, manifest) has a bad line; ``line`` is 1-based."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        self.reason = message
        where = path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class LstError(LineError):
    """A ``.lst`` file has a bad line."""


class ManifestError(LineError):
    """An augmented manifest has a bad line."""


class ImageError(IcformatError, ValueError):
    """An image cannot be decoded, encoded or is unsuitable."""


class MissingDependencyError(IcformatError, ImportError):
    """An optional dependency is needed; the message says what to install."""


class InputNotFound(IcformatError, FileNotFoundError):
    """An input (file, folder, object or prefix) does not exist; ``path`` names it."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


class HyperparameterError(IcformatError, ValueError):
    """A training hyperparameter is unknown, missing, invalid or contradicts another; ``name`` names it."""

    def __init__(self, message: str, name: str | None = None):
        self.name = name
        super().__init__(message)


class TrainingDataError(IcformatError, ValueError):
    """A training channel does not fit the hyperparameters (too few images, labels out of range...)."""


class ModelMismatchError(IcformatError, ValueError):
    """A model given to seed training (``--model``, ``--pretrained``) does not fit the hyperparameters."""
