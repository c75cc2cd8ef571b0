"""Checks on the columns of a parsed ``.lst`` (whole columns at once, with numpy): indices unique and
not negative; class labels whole, 0-based, contiguous and within ``num_classes``; multi-hot rows of
the right width holding only 0 and 1. Each returns :class:`~icformat.problems.Problem` objects."""
from __future__ import annotations

import numpy as np

from ..problems import Problem, error, warning
from .table import LstTable

_LIST_AT_MOST = 20  # how many missing labels to name in one message


def check_indices(table: LstTable) -> list[Problem]:
    """Negative indices (image ids are unsigned) and duplicates (each after the first)."""
    return check_negative_indices(table) + check_duplicate_indices(table.indices, table.lines, table.path)


def check_negative_indices(table: LstTable) -> list[Problem]:
    """A problem for each negative index (a row check)."""
    name, indices, lines = table.path, table.indices, table.lines
    return [error(name, "negative-index", f"negative index {int(indices[row])}; indices must be unique integers >= 0", line=int(lines[row]))
            for row in np.flatnonzero(indices < 0)]


def check_duplicate_indices(indices: np.ndarray, lines: np.ndarray, name: str | None) -> list[Problem]:
    """A problem for each repeated index after its first row; ``indices`` and ``lines`` are rows in
    line order (a whole-file check: any subset holding every row of an index gives its problems)."""
    problems: list[Problem] = []
    if len(indices) < 2:
        return problems
    order = np.argsort(indices, kind="stable")
    ordered = indices[order]
    repeat = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    if len(repeat):
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        first_of = starts[np.searchsorted(starts, repeat, side="right") - 1]
        for pos, first in zip(repeat.tolist(), first_of.tolist()):
            row, first_row = order[pos], order[first]
            problems.append(
                error(name, "duplicate-index", f"duplicate index {int(indices[row])} (first on line {int(lines[first_row])}); indices must be unique",
                      line=int(lines[row]))
            )
    return problems


def check_class_labels(table: LstTable, num_classes: int | None) -> tuple[list[Problem], int]:
    """Single-label checks on the first label column; returns the problems and the class count."""
    if table.label_width == 0 or len(table) == 0:
        return [], 0
    problems = extra_label_columns_warning(table.path, table.label_width, int(table.lines[0]))
    row_problems, present = check_class_label_rows(table, num_classes)
    return problems + row_problems + label_set_problems(table.path, present, num_classes), class_count(present, num_classes)


def extra_label_columns_warning(name: str | None, width: int, first_line: int) -> list[Problem]:
    """The warning on a single-label list with more than one label column (at its first row)."""
    if width <= 1:
        return []
    return [warning(name, "extra-label-columns", extra_label_columns_message(width), line=first_line)]


def check_class_label_rows(table: LstTable, num_classes: int | None) -> tuple[list[Problem], np.ndarray]:
    """The row checks of single labels (whole, not negative, below ``num_classes``); returns the
    problems and the distinct valid labels (sorted), which :func:`label_set_problems` judges."""
    name, problems = table.path, []
    labels, lines = table.labels[:, 0], table.lines
    finite = np.isfinite(labels)
    whole = finite & (labels == np.floor(np.where(finite, labels, 0)))
    for row in np.flatnonzero(~whole):
        problems.append(error(name, "label-not-integer", f"class label {_fmt(labels[row])} is not an integer; class ids are 0, 1, 2...", line=int(lines[row])))
    negative = whole & (labels < 0)
    for row in np.flatnonzero(negative):
        problems.append(error(name, "negative-label", f"negative class label {_fmt(labels[row])}; class ids start at 0", line=int(lines[row])))
    valid = whole & ~negative
    if num_classes is not None:
        over = valid & (labels >= num_classes)
        for row in np.flatnonzero(over):
            problems.append(error(name, "label-out-of-range", f"class label {_fmt(labels[row])} is out of range for --num-classes {num_classes} "
                                                            f"(0..{num_classes - 1})", line=int(lines[row])))
        valid &= ~over
    return problems, np.unique(labels[valid].astype(np.int64))


def class_count(present: np.ndarray, num_classes: int | None) -> int:
    """The number of classes given the distinct valid labels (0 when there are none)."""
    return max(int(present[-1]) + 1, num_classes or 0) if len(present) else 0


def label_set_problems(name, present: np.ndarray, num_classes: int | None) -> list[Problem]:
    """The whole-file checks of the distinct valid labels: 0-based, contiguous, every class used."""
    problems = []
    if len(present) == 0:
        return problems
    lowest, highest = int(present[0]), int(present[-1])
    if lowest > 0:
        problems.append(error(name, "labels-not-0-based", f"class labels are not 0-based: the smallest is {lowest}; labels must be 0..num_classes-1 "
                                            f"(no image has {_names(range(lowest))})"))
    gaps = np.setdiff1d(np.arange(lowest, highest + 1), present)
    if len(gaps):
        problems.append(error(name, "labels-not-contiguous", f"class labels are not contiguous: no image has label {_names(gaps.tolist())} "
                                            f"(between {lowest} and {highest})"))
    if num_classes is not None and highest < num_classes - 1:
        unused = list(range(highest + 1, num_classes))
        problems.append(warning(name, "unused-classes", f"no image has label {_names(unused)} (--num-classes {num_classes})"))
    return problems


def check_multi_hot(table: LstTable, num_classes: int | None) -> list[Problem]:
    """Multi-label rows: width equal to ``num_classes`` (when given), values 0 or 1 only."""
    problems = multi_hot_width_problems(table.path, table.label_width, len(table), num_classes)
    if len(table) == 0 or table.label_width == 0:
        return problems
    row_problems, ever_one = check_multi_hot_rows(table)
    return problems + row_problems + multi_hot_unused_problems(table.path, ever_one)


def multi_hot_width_problems(name: str | None, width: int, rows: int, num_classes: int | None) -> list[Problem]:
    """The whole-file check of a multi-hot list's width against ``num_classes``."""
    if num_classes is not None and width != num_classes and rows:
        return [error(name, "multi-hot-width", f"rows have {width} label column(s) but --num-classes is {num_classes}; "
                                               "multi-hot rows need one 0/1 column per class")]
    return []


def check_multi_hot_rows(table: LstTable) -> tuple[list[Problem], np.ndarray]:
    """The row checks of multi-hot labels (0 or 1 only); returns the problems and, per column,
    whether some row has a 1 there (which :func:`multi_hot_unused_problems` judges)."""
    name, problems = table.path, []
    labels = table.labels
    bad = ~((labels == 0) | (labels == 1))
    for row in np.flatnonzero(bad.any(axis=1)):
        cols = np.flatnonzero(bad[row])
        values = ", ".join(f"{_fmt(labels[row, c])} in label column {c + 1}" for c in cols[:5])
        problems.append(error(name, "multi-hot-value", f"multi-hot labels must be 0 or 1: found {values}", line=int(table.lines[row])))
    return problems, (labels == 1).any(axis=0)


def multi_hot_unused_problems(name: str | None, ever_one: np.ndarray) -> list[Problem]:
    """The whole-file warning on multi-hot columns that are never 1."""
    never = np.flatnonzero(~ever_one)
    if len(never) and len(ever_one) > 1:
        return [warning(name, "unused-classes", f"no image has class {_names(never.tolist())} (multi-hot column(s) never 1)")]
    return []


def _fmt(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _names(values) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:_LIST_AT_MOST])
    if len(values) > _LIST_AT_MOST:
        text += f" and {len(values) - _LIST_AT_MOST} more"
    return text


def extra_label_columns_message(width: int) -> str:
    """What single-label use of a ``width``-column list loses (lst validate and im2rec say it alike)."""
    return (f"rows have {width} label columns but only the first is a class id (im2rec stores only the first "
            "unless --pack-label); use --multi-label for multi-hot rows")
