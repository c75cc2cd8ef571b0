"""The fast path of :mod:`.parse`: pyarrow's CSV reader, used only where it gives exactly the rows
the line-by-line parser gives. It returns None (the caller parses line by line, which names each
bad line) for anything else: blank lines (pyarrow drops them, shifting line numbers), lone CR line
ends, whitespace other than blanks and tabs, uneven rows, or a cell that does not follow the grammar.
"""
from __future__ import annotations

import io
import re

import numpy as np

from .table import INDEX_RE, NUMBER_RE, LstTable

# Python's str.strip() removes these too; pyarrow's trim does not: leave such files to the line parser.
# (Byte searches, not one regular expression: ten times faster on a large list.)
_ASCII_SPACE = b"\x0b\x0c\x1c\x1d\x1e\x1f"
_UNICODE_SPACE = tuple(chr(c).encode() for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000))


def arrow_friendly(data: bytes) -> bool:
    """True when pyarrow's reader sees the same lines and blanks as the line parser."""
    if not data or data.startswith((b"\n", b"\r")) or b"\n\n" in data:
        return False  # blank lines (even at the end, to keep this quick)
    if b"\r" in data and (b"\n\r\n" in data or b"\r\r" in data or data.count(b"\r") != data.count(b"\r\n")):
        return False  # blank lines or lone CR line ends
    if len(data.translate(None, _ASCII_SPACE)) != len(data):
        return False
    return data.isascii() or not any(space in data for space in _UNICODE_SPACE)


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
    if not _has_padding(data):
        return list(table.columns)
    return [pc.utf8_trim(column, characters=" ") for column in table.columns]


def _has_padding(data: bytes) -> bool:
    """Blanks next to a tab or a line end, or at the start: only then do cells need trimming."""
    return data.startswith(b" ") or data.endswith(b" ") or any(pair in data for pair in (b" \t", b"\t ", b" \n", b"\n ", b" \r"))


def _to_table(columns: list, name: str | None) -> LstTable | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    def all_match(column, pattern: re.Pattern) -> bool:
        return bool(pc.all(pc.match_substring_regex(column, f"^(?:{pattern.pattern})$")).as_py())

    # pyarrow's casts take more than the grammar ("0x10", "nan"): every index is matched; labels
    # on their distinct values, few in a list of class ids
    if not all_match(columns[0], INDEX_RE) or not all(all_match(pc.unique(c), NUMBER_RE) for c in columns[1:-1]):
        return None
    if pc.any(pc.equal(columns[-1], "")).as_py():
        return None
    n = len(columns[0])
    indices = pc.cast(columns[0], pa.int64()).to_numpy(zero_copy_only=False)
    labels = [pc.cast(c, pa.float64()).to_numpy(zero_copy_only=False) for c in columns[1:-1]]
    matrix = np.column_stack(labels).reshape(n, len(labels))
    paths = columns[-1].to_numpy(zero_copy_only=False).tolist()  # to_pylist() is ten times slower
    return LstTable(indices.astype(np.int64), matrix.astype(np.float64), paths, np.arange(1, n + 1, dtype=np.int64), name)
