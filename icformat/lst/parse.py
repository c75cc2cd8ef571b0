"""Reading ``.lst`` files: ``index<TAB>label[<TAB>label...]<TAB>relative/path`` per line.

Accepts what MXNet 1.x writes (``1.000000``) and what newer tools write (``1``), CRLF line ends,
blank lines and blanks around fields (stripped, as im2rec does). Large files are parsed by pyarrow.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np

from .. import streams
from ..errors import LstError


class LstEntry(NamedTuple):
    """One ``.lst`` line: ``index``, ``labels`` (a tuple of floats) and the relative ``path``."""

    index: int
    labels: tuple[float, ...]
    path: str
    line: int = 0

    @property
    def label(self) -> float:
        """The first (or only) label."""
        return self.labels[0]


@dataclass
class LstTable:
    """A parsed ``.lst`` as columns: ``indices`` (int64), ``labels`` (float64, shape (n, k)),
    ``paths`` (list of str) and the 1-based source ``lines`` of each row."""

    indices: np.ndarray
    labels: np.ndarray
    paths: list[str]
    lines: np.ndarray
    path: str | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def label_width(self) -> int:
        return self.labels.shape[1]

    def __iter__(self) -> Iterator[LstEntry]:
        for i, labels, p, line in zip(self.indices.tolist(), self.labels.tolist(), self.paths, self.lines.tolist()):
            yield LstEntry(i, tuple(labels), p, line)


def read_lst(path: streams.PathLike, *, strict: bool = True) -> LstTable:
    """Parse a ``.lst`` file (local or ``s3://``) into an :class:`LstTable`.

    Rows must all have the same number of labels. With ``strict`` a bad line raises
    :class:`~icformat.errors.LstError` naming the line; without it, lines with fewer than 3 fields
    are skipped as im2rec does (other problems still raise).
    """
    name = os.fspath(path)
    with streams.open_input(path, "rb") as f:
        data = f.read()
    return parse_lst_bytes(data, name=name, strict=strict)


def parse_lst_bytes(data: bytes, *, name: str | None = None, strict: bool = True) -> LstTable:
    """Parse the bytes of a ``.lst`` file (see :func:`read_lst`)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    table = _parse_arrow(data, name) if _arrow_friendly(data) else None
    if table is None:
        table = _parse_python(data, name, strict)
    return table


def _arrow_friendly(data: bytes) -> bool:
    """pyarrow drops blank lines, which would shift line numbers; use it when there are none."""
    body = data.rstrip(b"\r\n")
    return bool(body) and b"\n\n" not in body and b"\n\r\n" not in body and not data.startswith((b"\n", b"\r"))


def _parse_arrow(data: bytes, name: str | None) -> LstTable | None:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    try:
        table = csv.read_csv(
            io.BytesIO(data),
            read_options=csv.ReadOptions(autogenerate_column_names=True, block_size=16 << 20),
            parse_options=csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
            convert_options=csv.ConvertOptions(column_types={}, strings_can_be_null=False, auto_dict_encode=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # uneven rows and the like: the line-by-line parser names the line
    if table.num_columns < 3:
        return None
    columns = []
    for column in table.columns:
        if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
            column = pc.cast(column, pa.string())
        columns.append(pc.utf8_trim_whitespace(column))
    try:
        index_col = pc.cast(columns[0], pa.int64())
        label_cols = [pc.cast(c, pa.float64()) for c in columns[1:-1]]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    n = table.num_rows
    indices = index_col.to_numpy()
    labels = np.column_stack([c.to_numpy() for c in label_cols]) if label_cols else np.zeros((n, 0))
    if pc.any(pc.equal(columns[-1], "")).as_py():
        return None  # an empty path (or a trailing tab): the line parser explains or strips it
    paths = columns[-1].to_numpy(zero_copy_only=False).tolist()
    return LstTable(indices, labels.reshape(n, len(label_cols)), paths, np.arange(1, n + 1), name)


def _parse_python(data: bytes, name: str | None, strict: bool) -> LstTable:
    indices: list[int] = []
    labels: list[list[float]] = []
    paths: list[str] = []
    lines: list[int] = []
    width = None
    text = data.decode("utf-8", errors="replace")
    for number, raw in enumerate(text.splitlines(), 1):
        raw = raw.strip()  # as im2rec: a trailing tab or blanks around the line are tolerated
        if not raw:
            continue
        fields = [f.strip() for f in raw.split("\t")]
        if len(fields) < 3:
            if strict:
                raise LstError(
                    f"expected 'index<TAB>label<TAB>path' but found {len(fields)} field(s); fields must be tab-separated",
                    name,
                    number,
                )
            continue
        try:
            index = int(fields[0])
        except ValueError:
            raise LstError(f"index {fields[0]!r} is not an integer", name, number) from None
        try:
            row = [float(x) for x in fields[1:-1]]
        except ValueError as exc:
            raise LstError(f"label is not a number ({exc}); labels are the columns between index and path", name, number) from None
        if not fields[-1]:
            raise LstError("empty image path in the last column", name, number)
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise LstError(f"{len(row)} label column(s) where earlier lines have {width}", name, number)
        indices.append(index)
        labels.append(row)
        paths.append(fields[-1])
        lines.append(number)
    k = width or 0
    return LstTable(
        np.asarray(indices, dtype=np.int64),
        np.asarray(labels, dtype=np.float64).reshape(len(paths), k),
        paths,
        np.asarray(lines, dtype=np.int64),
        name,
    )


def iter_lst(path: streams.PathLike) -> Iterator[LstEntry]:
    """Yield the entries of a ``.lst`` file in file order."""
    yield from read_lst(path)
