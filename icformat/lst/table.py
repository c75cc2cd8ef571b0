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
    ``paths`` (list of str) and the 1-based source ``lines`` of each row."""

    indices: np.ndarray
    labels: np.ndarray
    paths: list[str]
    lines: np.ndarray
    path: str | None = None
    skipped: list = field(default_factory=list)  # a Problem per bad line left out (on_error skip or warn)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def label_width(self) -> int:
        return self.labels.shape[1]

    def __iter__(self) -> Iterator[LstEntry]:
        for i, labels, p, line in zip(self.indices.tolist(), self.labels.tolist(), self.paths, self.lines.tolist()):
            yield LstEntry(i, tuple(labels), p, line)
