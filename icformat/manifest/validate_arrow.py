"""The fast path of manifest validation: one chunk of lines through ``pyarrow.json``.

Only the listed attributes are materialised (everything else, metadata included, is skipped), and
each distinct label value is checked once. The chunk is taken only when pyarrow's reading is
provably the same as Python's line by line: every non-blank line starts with ``{`` and ends with
``}`` (so no object spans lines), pyarrow finds exactly one object per line, and every value has
the type of the schema. Otherwise :func:`check_chunk_arrow` returns False and the caller checks the
chunk line by line, with the exact messages of invalid lines.
"""
from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from .parse import _BLANK, is_ref_attribute
from .validator import RANK_LABEL, RANK_PRESENCE, RANK_REF, Validator, presence_message
from .parse import ref_type_message

_SCHEMA_PROBE_LINES = 100
_OPEN, _CLOSE = ord("{"), ord("}")


class _Fallback(Exception):
    """This chunk must be checked line by line."""


def check_chunk_arrow(validator: Validator, chunk: bytes, first_line: int) -> bool:
    """Check ``chunk`` (whole lines starting at ``first_line``); False when it must go line by line."""
    if not chunk.isascii():
        try:
            chunk.decode("utf-8")  # pyarrow does not check the bytes of attributes it skips
        except UnicodeDecodeError:
            return False
    try:
        starts, ends, rows_at = _line_layout(chunk)
        if len(rows_at) == 0:
            return False
        table = _read_table(chunk, starts, ends, rows_at, validator.names)
        labels = _distinct(table.column(validator.label_attr).combine_chunks()) if validator.label_attr else None
    except _Fallback:
        return False
    lines = (first_line + rows_at).astype(np.int64)
    validator.rows += table.num_rows
    _check_presence(validator, table, chunk, starts, ends, rows_at, lines)
    _check_refs(validator, table, lines)
    if labels is not None:
        _check_labels(validator, *labels, lines)
    return True


def _line_layout(chunk: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end (``\\r`` excluded) of every line, and the indices of the non-blank ones."""
    data = np.frombuffer(chunk, dtype=np.uint8)
    newlines = np.flatnonzero(data == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    if starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    ends = ends - ((ends > starts) & (data[np.maximum(ends - 1, 0)] == 13))
    nonblank = ends > starts
    rows_at = np.flatnonzero(nonblank)
    looks_whole = (data[starts[rows_at]] == _OPEN) & (data[ends[rows_at] - 1] == _CLOSE)
    if not looks_whole.all():
        keep = np.ones(len(rows_at), dtype=bool)
        for i in np.flatnonzero(~looks_whole):
            text = chunk[starts[rows_at[i]] : ends[rows_at[i]]].strip(_BLANK)
            if not text:
                keep[i] = False  # blank but for spaces or tabs
            elif not (text.startswith(b"{") and text.endswith(b"}")):
                raise _Fallback
        rows_at = rows_at[keep]
    return starts, ends, rows_at


def _read_table(chunk: bytes, starts, ends, rows_at, names: tuple[str, ...]):
    import pyarrow as pa
    import pyarrow.json as pj

    schema = pa.schema([(name, _probe_type(chunk, starts, ends, rows_at, name)) for name in names])
    try:
        table = pj.read_json(
            io.BytesIO(chunk),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, UnicodeDecodeError):
        raise _Fallback from None
    if table.num_rows != len(rows_at):
        raise _Fallback  # an object spanning lines, or two objects on one line
    return table


def _probe_type(chunk: bytes, starts, ends, rows_at, name: str):
    """The pyarrow type of attribute ``name``, from its first non-null value in the first lines."""
    import pyarrow as pa

    for i in rows_at[:_SCHEMA_PROBE_LINES]:
        try:
            record = json.loads(chunk[starts[i] : ends[i]])
        except ValueError:
            raise _Fallback from None
        value = record.get(name) if isinstance(record, dict) else None
        if value is not None:
            arrow_type = _arrow_type(value)
            if arrow_type is None or (is_ref_attribute(name) and arrow_type != pa.string()):
                raise _Fallback
            return arrow_type
    return pa.string()


def _arrow_type(value: Any):
    import pyarrow as pa

    if isinstance(value, str):
        return pa.string()
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64() if -(1 << 63) <= value < (1 << 63) else None
    if isinstance(value, float):
        return pa.float64()
    if isinstance(value, list):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return pa.list_(pa.int64())
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return pa.list_(pa.float64())
    return None


def _check_presence(validator: Validator, table, chunk: bytes, starts, ends, rows_at, lines) -> None:
    """Lines where a listed attribute is null or absent: re-read to tell which, as Python would."""
    null_rows = set()
    for name in validator.names:
        column = table.column(name)
        if column.null_count:
            null_rows.update(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)).tolist())
    for row in sorted(null_rows):
        i = rows_at[row]
        record = json.loads(chunk[starts[i] : ends[i]])
        for position, name in enumerate(validator.names):
            message = presence_message(record, name, validator.names)
            if message:
                validator.add(lines[row], RANK_PRESENCE, position, message)


def _check_refs(validator: Validator, table, lines) -> None:
    import pyarrow.compute as pc

    for position, name in enumerate(validator.names):
        if not is_ref_attribute(name):
            continue
        column = table.column(name).combine_chunks()
        empty = pc.fill_null(pc.equal(column, ""), False).to_numpy(zero_copy_only=False)
        for row in np.flatnonzero(empty):
            validator.add(lines[row], RANK_REF, position, ref_type_message(name, ""))
        if name == validator.image_attr:
            keep = pc.and_(pc.is_valid(column), pc.invert(pc.fill_null(pc.equal(column, ""), False)))
            mask = keep.to_numpy(zero_copy_only=False)
            validator.collect_refs(column.filter(keep), lines[mask])


def _check_labels(validator: Validator, codes: np.ndarray, values: list, lines) -> None:
    """Check each distinct label once, then report the lines that hold a bad one."""
    if not values:
        return
    verdicts = [validator.label_verdict(v) for v in values]
    present = codes >= 0
    if validator.label_reference is None:
        valid = np.array([not isinstance(v, str) for v in verdicts])
        candidates = np.flatnonzero(present & valid[np.where(present, codes, 0)])
        if len(candidates):
            row = candidates[0]
            validator.label_reference = (verdicts[codes[row]], int(lines[row]))
    messages = [v if isinstance(v, str) else validator.consistency_message(v) for v in verdicts]
    bad = np.array([m is not None for m in messages])
    position = validator.names.index(validator.label_attr)
    for row in np.flatnonzero(present & bad[np.where(present, codes, 0)]):
        validator.add(lines[row], RANK_LABEL, position, messages[codes[row]])


def _distinct(column) -> tuple[np.ndarray, list]:
    """Per row, the code of its distinct value (-1 for null), and one Python value per code."""
    import pyarrow as pa
    import pyarrow.compute as pc

    key = column
    if pa.types.is_list(column.type):
        key = pc.binary_join(pc.cast(column, pa.list_(pa.string())), ",")
        if key.null_count != column.null_count:
            raise _Fallback  # a null inside a list
    encoded = pc.dictionary_encode(key)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if not pa.types.is_list(column.type):
        return codes, encoded.dictionary.to_pylist()
    present = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[present], return_index=True)
    return codes, [column[int(present[i])].as_py() for i in first]
