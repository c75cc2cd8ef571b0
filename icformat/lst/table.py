"""A parsed ``.lst`` as columns, and the grammar of its numeric fields (shared by the Python and
pyarrow parsers)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

import numpy as np

INDEX_RE = re.compile(r"[+-]?[0-9]+")
NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


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
    ``paths`` (list of str) and the 1-based source ``lines`` of each row. A ragged table (rows with
    different label counts, read with ``ragged=True``: detection lists) pads ``labels`` with NaN to
    the widest row and gives each row's count in ``label_counts`` (None when every row has ``k``)."""

    indices: np.ndarray
    labels: np.ndarray
    paths: list[str]
    lines: np.ndarray
    path: str | None = None
    skipped: list = field(default_factory=list)  # a Problem per bad line left out (on_error skip or warn)
    label_counts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def label_width(self) -> int:
        """The number of label columns (of the widest row, in a ragged table)."""
        return self.labels.shape[1]

    @property
    def ragged(self) -> bool:
        """Rows have different numbers of labels."""
        return self.label_counts is not None

    def counts(self) -> np.ndarray:
        """Each row's number of labels."""
        return self.label_counts if self.ragged else np.full(len(self), self.label_width, dtype=np.int64)

    def row_labels(self, row: int) -> list[float]:
        """Row ``row``'s labels, as many as its line holds."""
        labels = self.labels[row]
        return (labels[: int(self.label_counts[row])] if self.ragged else labels).tolist()

    def __iter__(self) -> Iterator[LstEntry]:
        rows = (self.row_labels(row) for row in range(len(self))) if self.ragged else self.labels.tolist()
        for i, labels, p, line in zip(self.indices.tolist(), rows, self.paths, self.lines.tolist()):
            yield LstEntry(i, tuple(labels), p, line)
