"""What every validator answers: one :class:`Problem` type and one :class:`ValidationResult` type.

``validate_lst``, ``validate_manifest`` and ``verify_rec`` each return a ``ValidationResult`` (a
subclass adding what that validator counted: rows, records, classes...). Each problem carries a
stable machine ``code`` (``duplicate-index``, ``label-out-of-range``...) that programs can match on,
and the CLI's ``--json`` prints exactly ``result.to_dict()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterator

ERROR = "error"
WARNING = "warning"
DUPLICATE_IMAGE = "duplicate-image"  # one code and one severity (warning) in lst and manifest validation


@dataclass(frozen=True)
class Problem:
    """One problem: the file ``path``, its 1-based ``line`` (text files) or byte ``offset`` (binary
    files), None for the file as a whole; a stable ``code``; ``severity`` (``"error"`` or
    ``"warning"``) and a human ``message``."""

    path: str | None
    line: int | None
    message: str
    severity: str = ERROR
    code: str = "invalid"
    offset: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def where(self) -> str:
        """``path:line``, ``path@offset`` or ``path``."""
        where = self.path or "<input>"
        if self.line is not None:
            return f"{where}:{self.line}"
        if self.offset is not None:
            return f"{where}@{self.offset:,}"
        return where

    def __str__(self) -> str:
        tag = "warning: " if self.severity == WARNING else ""
        return f"{self.where()}: {tag}{self.message}"

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "offset": self.offset,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }


def error(path: str | None, code: str, message: str, *, line: int | None = None, offset: int | None = None) -> Problem:
    """An error-severity :class:`Problem`."""
    return Problem(path, line, message, ERROR, code, offset)


def warning(path: str | None, code: str, message: str, *, line: int | None = None, offset: int | None = None) -> Problem:
    """A warning-severity :class:`Problem`."""
    return Problem(path, line, message, WARNING, code, offset)


@dataclass
class ValidationResult:
    """Every :class:`Problem` a validator found in ``path``. ``ok`` is True when none is an error
    (warnings allowed). Subclasses add what they counted; :meth:`to_dict` includes it."""

    path: str | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(p.severity == ERROR for p in self.problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def __getitem__(self, index):
        return self.problems[index]

    def facts(self) -> dict[str, Any]:
        """What the validator counted (the subclass's own fields)."""
        own = {f.name for f in fields(ValidationResult)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in own}

    def counts(self) -> str:
        """``2 errors, 1 warning``."""
        errors, warnings = len(self.errors), len(self.warnings)
        return f"{errors:,} error{'s' if errors != 1 else ''}, {warnings:,} warning{'s' if warnings != 1 else ''}"

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "ok": self.ok,
            **self.facts(),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_dict() for p in self.problems],
        }
