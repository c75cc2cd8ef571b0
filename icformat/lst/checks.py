"""Checks on the columns of a parsed ``.lst`` (whole columns at once, with numpy): indices unique and
not negative; class labels whole, 0-based, contiguous and within ``num_classes``; multi-hot rows of
the right width holding only 0 and 1. Each returns :class:`~icformat.problems.Problem` objects."""
from __future__ import annotations

import numpy as np

from ..problems import Problem, error, warning
from .parse import LstTable

_LIST_AT_MOST = 20  # how many missing labels to name in one message


def check_indices(table: LstTable) -> list[Problem]:
    """Negative indices (image ids are unsigned) and duplicates (each after the first)."""
    name, problems = table.path, []
    indices, lines = table.indices, table.lines
    for row in np.flatnonzero(indices < 0):
        problems.append(error(name, "negative-index", f"negative index {int(indices[row])}; indices must be unique integers >= 0", line=int(lines[row])))
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
    name, problems = table.path, []
    if table.label_width == 0 or len(table) == 0:
        return problems, 0
    if table.label_width > 1:
        problems.append(
            warning(name, "extra-label-columns", extra_label_columns_message(table.label_width), line=int(table.lines[0]))
        )
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
    present = np.unique(labels[valid].astype(np.int64))
    if len(present) == 0:
        return problems, 0
    problems += _label_set_problems(name, present, num_classes)
    return problems, max(int(present[-1]) + 1, num_classes or 0)


def _label_set_problems(name, present: np.ndarray, num_classes: int | None) -> list[Problem]:
    problems = []
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
    name, problems = table.path, []
    width = table.label_width
    if num_classes is not None and width != num_classes and len(table):
        problems.append(error(name, "multi-hot-width", f"rows have {width} label column(s) but --num-classes is {num_classes}; "
                                            "multi-hot rows need one 0/1 column per class"))
    if len(table) == 0 or width == 0:
        return problems
    labels = table.labels
    bad = ~((labels == 0) | (labels == 1))
    for row in np.flatnonzero(bad.any(axis=1)):
        cols = np.flatnonzero(bad[row])
        values = ", ".join(f"{_fmt(labels[row, c])} in label column {c + 1}" for c in cols[:5])
        problems.append(error(name, "multi-hot-value", f"multi-hot labels must be 0 or 1: found {values}", line=int(table.lines[row])))
    never = np.flatnonzero(~(labels == 1).any(axis=0))
    if len(never) and width > 1:
        problems.append(warning(name, "unused-classes", f"no image has class {_names(never.tolist())} (multi-hot column(s) never 1)"))
    return problems



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
