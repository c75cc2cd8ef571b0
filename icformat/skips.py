"""What readers and converters do with a bad row: ``on_error="raise"`` (the default: stop at the
first, as before), ``"skip"`` (leave it out and note it) or ``"warn"`` (the same, with a
:class:`SkippedRowWarning` for each). Each row left out becomes a :class:`~icformat.problems.Problem`
(path, line or byte offset, code, message) in the result's ``skipped`` list.

Only the row's own faults are skipped (bad JSON, a missing attribute, a bad label, an unreadable or
non-image reference); failures of the whole run (no such file, no credentials, an unreachable
endpoint) are raised whatever ``on_error`` says.
"""
from __future__ import annotations

import warnings

from .errors import FormatError, IcformatError, UsageError
from .problems import Problem, error

ON_ERROR = ("raise", "skip", "warn")


class SkippedRowWarning(UserWarning):
    """A reader or converter left a bad row out (``on_error="warn"``)."""


def check_on_error(on_error: str) -> str:
    """``on_error`` when it is one of :data:`ON_ERROR`, else a :class:`UsageError`."""
    if on_error not in ON_ERROR:
        raise UsageError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")
    return on_error


def as_problem(exc: IcformatError, code: str = "skipped") -> Problem:
    """A row's error as a :class:`Problem` at its place (``path``, ``line``, ``offset``)."""
    if isinstance(exc, FormatError):
        return error(exc.path, code, exc.reason, line=exc.line, offset=exc.offset)
    return error(getattr(exc, "path", None), code, str(exc))


class SkipPolicy:
    """Applies ``on_error`` to the errors of single rows, collecting what was skipped."""

    def __init__(self, on_error: str = "raise", skipped: list[Problem] | None = None):
        self.on_error = check_on_error(on_error)
        self.skipped: list[Problem] = [] if skipped is None else skipped

    @property
    def raises(self) -> bool:
        return self.on_error == "raise"

    def skip(self, exc: IcformatError, code: str = "skipped") -> Problem:
        """Note a row left out (``exc`` re-raised when ``on_error="raise"``)."""
        if self.raises:
            raise exc
        problem = as_problem(exc, code)
        self.skipped.append(problem)
        if self.on_error == "warn":
            warnings.warn(f"skipped: {problem}", SkippedRowWarning, stacklevel=3)
        return problem

    def note(self, problem: Problem) -> None:
        """Note a row a tolerant parser already left out (the caller raises with ``on_error="raise"``)."""
        self.skipped.append(problem)
        if self.on_error == "warn":
            warnings.warn(f"skipped: {problem}", SkippedRowWarning, stacklevel=3)


class Converted(int):
    """A converter's count of lines or records written (an ``int``, as before), with ``skipped``:
    a :class:`~icformat.problems.Problem` per row left out."""

    skipped: list[Problem]

    def __new__(cls, count: int, skipped: list[Problem] | None = None) -> Converted:
        self = super().__new__(cls, count)
        self.skipped = list(skipped or [])
        return self

    def __reduce__(self):
        return Converted, (int(self), self.skipped)
