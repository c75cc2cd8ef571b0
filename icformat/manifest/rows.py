"""Rows of a manifest by number: count them once, then read any window of rows without parsing
(or even reading) the rows before it. A shard of a manifest is such a window.

Rows are the non-blank lines, numbered from 0 in file order; a :class:`RowPosition` remembers where
a row starts (byte offset and line number), so a reader can seek there.
"""
from __future__ import annotations

import bisect
from typing import Iterator, NamedTuple, Sequence

from .. import streams
from .parse import _BLANK, _UTF8_BOM, ManifestRow, decode_line, iter_line_chunks, parse_attribute_names, row_values, source_name

CHECKPOINT_ROWS = 4096


class RowPosition(NamedTuple):
    """Where row ``row`` starts: its byte ``offset`` and its 1-based ``line``."""

    offset: int
    line: int
    row: int


class RowIndex(NamedTuple):
    """The number of rows of a manifest and the position of every ``CHECKPOINT_ROWS``-th row."""

    rows: int
    positions: list[RowPosition]

    def position_before(self, row: int) -> RowPosition:
        """The last checkpoint at or before ``row`` (a reader skips the few rows after it)."""
        at = bisect.bisect_right([p.row for p in self.positions], row) - 1
        return self.positions[max(0, at)]


def index_rows(src: streams.PathLike, every: int = CHECKPOINT_ROWS) -> RowIndex:
    """Count the rows of a manifest (no JSON parsing) and note where every ``every``-th one starts."""
    positions: list[RowPosition] = []
    rows = 0
    with streams.open_input(src, "rb") as stream:
        offset = len(_UTF8_BOM) if stream.read(len(_UTF8_BOM)) == _UTF8_BOM else 0
        stream.seek(offset)
        for first_line, chunk in iter_line_chunks(stream):
            for line, raw in enumerate(chunk.split(b"\n"), first_line):
                if raw.strip(_BLANK):
                    if rows % every == 0:
                        positions.append(RowPosition(offset, line, rows))
                    rows += 1
                offset += len(raw) + 1
    return RowIndex(rows, positions or [RowPosition(0, 1, 0)])


def read_manifest_rows(
    src: streams.PathLike, attribute_names: str | Sequence[str], start: int, stop: int, index: RowIndex | None = None
) -> Iterator[tuple[int, ManifestRow]]:
    """``(row number, row)`` for rows ``[start, stop)``, read from the nearest checkpoint of
    ``index`` (without one, from the top: rows before ``start`` are skipped unparsed)."""
    names = parse_attribute_names(attribute_names)
    path = source_name(src)
    position = index.position_before(start) if index else RowPosition(0, 1, 0)
    row = position.row
    with streams.open_input(src, "rb") as stream:
        if position.offset:
            stream.seek(position.offset)
        for first_line, chunk in iter_line_chunks(stream):
            for line, raw in enumerate(chunk.split(b"\n"), first_line + position.line - 1):
                if not raw.strip(_BLANK):
                    continue
                if row >= stop:
                    return
                if row >= start:
                    raw = raw.rstrip(b"\r")
                    record = decode_line(raw, path, line)
                    yield row, ManifestRow(line, row_values(record, names, path, line), record)
                row += 1
