"""Reading ``.lst`` files: ``index<TAB>label[<TAB>label...]<TAB>relative/path`` per line.

One grammar, MXNet's (``tools/im2rec.py`` ``read_list``): a line holds at least 3 tab-separated
fields, each stripped of blanks; the first is an integer index (decimal digits, optional sign: not
``2.0``, ``0x10`` or ``1e3``), the last the image path, those between are decimal numbers (not empty,
not ``nan``/``inf``). ``1.000000`` (MXNet 1.x) and ``1`` (newer tools) both read. Every line has
as many labels as the first, except in a ``ragged`` read: detection lists (GluonCV's and MXNet's
``im2rec.py --pack-label``: header width, object width, header, objects) vary per line, and im2rec
packs each line's labels as they are. Lines end in LF,
CRLF or CR; blank lines are skipped. Where im2rec prints a message and skips a bad line, this
module raises :class:`~icformat.errors.LstError` naming it (or, in :func:`parse_lst_tolerant`,
returns a :class:`~icformat.problems.Problem` for it).

The rows are read by pyarrow (:mod:`.parse_arrow`) when that path can take the whole file exactly;
otherwise line by line here. A property test checks that both give the same rows and errors.
"""
from __future__ import annotations

import os
import re
from typing import Iterator, NamedTuple

import numpy as np

from ..io.paths import PathLike
from ..io.sniff import read_text
from ..errors import LstError
from ..problems import Problem, error
from .parse_arrow import parse_arrow
from .table import INDEX_RE, NUMBER_RE, LstEntry, LstTable

_LINE_END = re.compile(r"\r\n|\r|\n")
_INT64_MAX = (1 << 63) - 1
LST_KIND = "a .lst"  # what a .lst reader expects, in the one-line answer to another kind of file
EMPTY_LST = "the list has no rows; nothing to pack or train on"


class BadLine(NamedTuple):
    """Why one line does not follow the grammar: a stable ``code`` and a ``message``."""

    code: str
    message: str


def parse_fields(text: str) -> tuple[int, list[float], str] | BadLine:
    """One stripped, non-blank line -> ``(index, labels, path)``, or the :class:`BadLine` reason."""
    fields = [f.strip() for f in text.split("\t")]
    if len(fields) < 3:
        return BadLine("too-few-fields", f"expected index<TAB>label(s)<TAB>path but found {len(fields)} field(s); "
                                         "fields must be tab-separated")
    if not INDEX_RE.fullmatch(fields[0]):
        return BadLine("bad-index", f"index '{fields[0]}' is not an integer (decimal digits only)")
    index = int(fields[0])
    if not -_INT64_MAX - 1 <= index <= _INT64_MAX:
        return BadLine("bad-index", f"index {fields[0]} is too large")
    for column, cell in enumerate(fields[1:-1], 2):
        if not NUMBER_RE.fullmatch(cell):
            shown = f"'{cell}'" if cell else "an empty cell"
            return BadLine("bad-label", f"label in column {column} is {shown}, not a decimal number; "
                                        "labels are the columns between index and path")
    if not fields[-1]:
        return BadLine("empty-path", "empty image path in the last column")
    return index, [float(x) for x in fields[1:-1]], fields[-1]


def split_lines(data: bytes) -> list[str]:
    """The text of ``data`` (UTF-8, a BOM dropped) split at LF, CRLF or CR, as Python's text mode."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return _LINE_END.split(data.decode("utf-8", errors="replace"))


def read_lst(path: PathLike, *, strict: bool = True, on_error: str | None = None, ragged: bool = False) -> LstTable:
    """Parse a ``.lst`` file (local or ``s3://``) into an :class:`LstTable`.

    A bad line raises :class:`~icformat.errors.LstError` naming the line; so do rows whose number of
    labels differs from the first row's, unless ``ragged`` (detection lists). ``on_error="skip"``
    (or ``"warn"``, which also warns) leaves bad lines out, as im2rec does, and lists them in the
    table's ``skipped``; ``strict=False`` is the older spelling of ``on_error="skip"``.
    """
    name = os.fspath(path)
    data = read_text(path, LST_KIND)
    return parse_lst_bytes(data, name=name, strict=strict, on_error=on_error, ragged=ragged)


def parse_lst_bytes(data: bytes, *, name: str | None = None, strict: bool = True, on_error: str | None = None,
                    ragged: bool = False) -> LstTable:
    """Parse the bytes of a ``.lst`` file (see :func:`read_lst`)."""
    from ..skips import SkipPolicy

    policy = SkipPolicy(on_error or ("raise" if strict else "skip"))
    table = parse_arrow(data, name)
    if table is not None:
        return table
    table, problems = parse_lst_tolerant(data, name, ragged=ragged)
    if problems and policy.raises:
        raise LstError(problems[0].message, name, problems[0].line)
    for problem in problems:
        policy.note(problem)
    table.skipped = policy.skipped
    return table


def parse_lst_tolerant(data: bytes, name: str | None, first_line: int = 1, width: int | None = None,
                       ragged: bool = False) -> tuple[LstTable, list[Problem]]:
    """Parse line by line, keeping the good rows and a :class:`Problem` for each bad line. Unless
    ``ragged``, rows whose number of labels differs from the first good row's (or from ``width``,
    when given: the file's, for a part of it) are problems too. Lines are numbered from ``first_line``."""
    rows: list[tuple[int, list[float], str, int]] = []
    problems: list[Problem] = []
    for number, raw in enumerate(split_lines(data), first_line):
        text = raw.strip()
        if not text:
            continue
        row = parse_fields(text)
        if isinstance(row, BadLine):
            problems.append(error(name, row.code, row.message, line=number))
        elif not ragged and width is not None and len(row[1]) != width:
            problems.append(error(name, "label-width", f"{len(row[1])} label column(s) where earlier lines have {width}", line=number))
        else:
            width = len(row[1]) if width is None or not ragged else max(width, len(row[1]))
            rows.append((*row, number))
    return table_from_rows(rows, width or 0, name), problems


def first_row_width(data: bytes) -> int | None:
    """The number of label columns of the first line that parses (None when none does): the width
    every row of the file must have."""
    for raw in split_lines(data):
        text = raw.strip()
        row = parse_fields(text) if text else None
        if row is not None and not isinstance(row, BadLine):
            return len(row[1])
    return None


def count_lines(data: bytes) -> int:
    """How many lines ``data`` holds as :func:`split_lines` numbers them (a final line end starts
    no new line): where the next part of a file starts its numbering."""
    lines = split_lines(data)
    return len(lines) - (1 if lines and lines[-1] == "" else 0)


def table_from_rows(rows: list[tuple[int, list[float], str, int]], width: int, name: str | None) -> LstTable:
    """An :class:`LstTable` from ``(index, labels, path, line)`` tuples; rows with fewer than
    ``width`` labels make it ragged (NaN-padded, see :class:`LstTable`)."""
    counts = np.array([len(r[1]) for r in rows], dtype=np.int64)
    ragged = bool(len(rows)) and bool((counts != width).any())
    if ragged:
        labels = np.full((len(rows), width), np.nan)
        for row, r in enumerate(rows):
            labels[row, : len(r[1])] = r[1]
    else:
        labels = np.array([r[1] for r in rows], dtype=np.float64).reshape(len(rows), width)
    return LstTable(
        np.array([r[0] for r in rows], dtype=np.int64),
        labels,
        [r[2] for r in rows],
        np.array([r[3] for r in rows], dtype=np.int64),
        name,
        label_counts=counts if ragged else None,
    )


def require_rows(table: LstTable) -> LstTable:
    """``table``, or :class:`~icformat.errors.LstError` when it has no rows (the one verdict on an
    empty list, in every command)."""
    if len(table) == 0:
        raise LstError(EMPTY_LST, table.path)
    return table


def iter_lst(path: PathLike, *, on_error: str = "raise") -> Iterator[LstEntry]:
    """Yield the entries of a ``.lst`` file in file order (``on_error`` as :func:`read_lst`)."""
    yield from read_lst(path, on_error=on_error)
