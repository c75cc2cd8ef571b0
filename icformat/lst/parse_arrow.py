"""The fast path of :mod:`.parse`: pyarrow's CSV reader, used only where it gives exactly the rows
the line-by-line parser gives. It returns None (the caller parses line by line, which names each
bad line) for anything else: blank lines (pyarrow drops them, shifting line numbers), lone CR line
ends, whitespace other than blanks and tabs, uneven rows, or a cell that does not follow the grammar.
"""
from __future__ import annotations

import io
import re

import numpy as np

from .parse import INDEX_RE, NUMBER_RE, LstTable

# Python's str.strip() removes these too; pyarrow's trim may not: leave such files to the line parser.
_OTHER_SPACE = re.compile(rb"[\x0b\x0c\x1c-\x1f]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")


def arrow_friendly(data: bytes) -> bool:
    """True when pyarrow's reader sees the same lines and blanks as the line parser."""
    body = data.rstrip(b"\r\n")
    if not body or data.startswith((b"\n", b"\r")) or b"\n\n" in body or b"\n\r\n" in body or b"\r\r" in body:
        return False
    if b"\r" in body.replace(b"\r\n", b""):
        return False
    return _OTHER_SPACE.search(data) is None


def parse_arrow(data: bytes, name: str | None) -> LstTable | None:
    """The table of a ``.lst`` whose every line is good, or None (see the module docstring)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not arrow_friendly(data):
        return None
    import pyarrow as pa

    columns = _read_strings(data)
    if columns is None or len(columns) < 3:
        return None
    try:
        return _to_table(columns, name)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _read_strings(data: bytes) -> list | None:
    """Every column as trimmed strings, or None when pyarrow cannot read the file evenly."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    width = data.split(b"\n", 1)[0].count(b"\t") + 1
    names = [f"f{i}" for i in range(width)]
    try:
        table = csv.read_csv(
            io.BytesIO(data),
            read_options=csv.ReadOptions(column_names=names, block_size=16 << 20),
            parse_options=csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
            convert_options=csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # uneven rows, invalid UTF-8 and the like
    return [pc.utf8_trim(column, characters=" ") for column in table.columns]


def _to_table(columns: list, name: str | None) -> LstTable | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    def all_match(column, pattern: re.Pattern) -> bool:
        return bool(pc.all(pc.match_substring_regex(column, f"^(?:{pattern.pattern})$")).as_py())

    if not all_match(columns[0], INDEX_RE) or not all(all_match(c, NUMBER_RE) for c in columns[1:-1]):
        return None
    if pc.any(pc.equal(columns[-1], "")).as_py():
        return None
    n = len(columns[0])
    indices = pc.cast(columns[0], pa.int64()).to_numpy(zero_copy_only=False)
    labels = [pc.cast(c, pa.float64()).to_numpy(zero_copy_only=False) for c in columns[1:-1]]
    matrix = np.column_stack(labels).reshape(n, len(labels))
    paths = columns[-1].to_pylist()
    return LstTable(indices.astype(np.int64), matrix.astype(np.float64), paths, np.arange(1, n + 1, dtype=np.int64), name)
