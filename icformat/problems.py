"""What every validator answers: one :class:`Problem` type and one :class:`ValidationResult` type.

``validate_lst``, ``validate_manifest`` and ``verify_rec`` each return a ``ValidationResult`` (a
subclass adding what that validator counted: rows, records, classes...). Each problem carries a
stable machine ``code`` (``duplicate-index``, ``label-out-of-range``...) that programs can match on,
and the CLI's ``--json`` prints exactly ``result.to_dict()``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Iterator

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
            return f"{where}@{self.offset}"  # a position, plain as in every location (counts take separators)
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


SHOWN_PER_KIND = 3  # findings of one kind printed before the rest are summed up in one line
_VALUES_AT_MOST = 6
_TOKEN = re.compile(r"\S+")


def grouped_lines(findings: Iterable[Any], *, shown: int = SHOWN_PER_KIND) -> list[str]:
    """The text of ``findings`` with identical ones grouped: for each kind (same severity, code and
    file) the first ``shown`` in full, then one line for the rest (``... and 263 more errors like
    these (label-out-of-range) on lines 41-9,000: class label 10, 11``). Kinds come in the order of
    their first finding. Works for :class:`Problem` and for preflight's findings (``check``)."""
    groups: dict[tuple, list] = {}
    for finding in findings:
        groups.setdefault(_kind(finding), []).append(finding)
    lines: list[str] = []
    for group in groups.values():
        lines += [str(f) for f in group[:shown]]
        if len(group) > shown:
            lines.append(_rest_line(group[0], group[shown:]))
    return lines


def _kind(finding: Any) -> tuple:
    return finding.severity, getattr(finding, "code", None) or getattr(finding, "check", ""), finding.path


def _rest_line(first: Any, rest: list) -> str:
    severity = first.severity if first.severity in (ERROR, WARNING) else "finding"
    plural = f"{severity}s" if len(rest) != 1 else severity
    text = f"{first.path or '<input>'}: ... and {len(rest):,} more {plural} like these ({_kind(first)[1]})"
    lines = [f.line for f in rest if f.line is not None]
    offsets = [f.offset for f in rest if f.offset is not None]
    if lines:
        text += f" on lines {min(lines)}-{max(lines)}" if len(lines) > 1 else f" on line {lines[0]}"
    elif offsets:
        text += f" at offsets {min(offsets)}-{max(offsets)}" if len(offsets) > 1 else f" at offset {offsets[0]}"
    values = _varying_values([f.message for f in rest])
    return f"{text}: {values}" if values else text


def _varying_values(messages: list[str]) -> str | None:
    """Where the messages differ in one word only (``class label 10 is out of range``), that word's
    distinct values after the two words before it: ``class label 10, 11``; else None."""
    tokens = [_TOKEN.findall(m) for m in messages]
    if len({len(t) for t in tokens}) != 1:
        return None
    varying = [i for i in range(len(tokens[0])) if len({t[i] for t in tokens}) > 1]
    if len(varying) != 1:
        return None
    i = varying[0]
    distinct = sorted({t[i].rstrip(",;:") for t in tokens}, key=_natural)
    shown = ", ".join(distinct[:_VALUES_AT_MOST]) + (f" and {len(distinct) - _VALUES_AT_MOST:,} more" if len(distinct) > _VALUES_AT_MOST else "")
    before = " ".join(tokens[0][max(0, i - 2):i])
    return f"{before} {shown}".strip()


def _natural(value: str) -> tuple:
    try:
        return 0, float(value.replace(",", "")), value
    except ValueError:
        return 1, 0.0, value
