"""Detection lists: the ``.lst`` files of GluonCV's ``im2rec`` and of MXNet's ``im2rec.py --pack-label``
for object detection. Each line's labels are ``[A, B, header extras..., objects...]``: ``A`` the
header width (>= 2, the two widths included), ``B`` the width of each object (>= 5: class id, xmin,
ymin, xmax, ymax, then extras), so a line holds ``A + k * B`` labels for its ``k`` objects, and the
count varies from line to line.

The checks follow the reader that fails on them, MXNet's ``ImageDetIter`` (``_parse_label``): fewer
than 7 labels ("Label shape is invalid"), a length that is not the header plus whole objects
("Label shape ... inconsistent with annotation width"), no object with a positive-size box
("Encounter sample with no valid label") are errors; boxes it drops and widths that change between
lines (a batch holds one object width) are warnings.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..problems import Problem, error, warning
from .table import LstTable

MIN_HEADER_WIDTH = 2
MIN_OBJECT_WIDTH = 5
_MIN_LABELS = 7  # ImageDetIter's minimum: a 2-wide header and one 5-wide object
_AT_MOST = 20  # rows named per grouped warning


@dataclass
class DetectionSummary:
    """What a detection list holds: the first row's widths, objects and distinct class ids."""

    header_width: int = 0
    object_width: int = 0
    objects: int = 0
    classes: int = 0

    def to_dict(self) -> dict:
        return {"header_width": self.header_width, "object_width": self.object_width, "objects": self.objects, "classes": self.classes}


def _whole_at_least(values: np.ndarray, least: int) -> np.ndarray:
    finite = np.isfinite(values)
    return finite & (values == np.floor(np.where(finite, values, 0))) & (values >= least)


def row_fits(table: LstTable) -> np.ndarray:
    """Which rows are well-formed detection labels: whole widths ``A >= 2`` and ``B >= 5``, and a
    label count ``A + k * B``."""
    if not len(table) or table.label_width < 2:
        return np.zeros(len(table), dtype=bool)
    counts = table.counts()
    a, b = table.labels[:, 0], table.labels[:, 1]
    good = _whole_at_least(a, MIN_HEADER_WIDTH) & _whole_at_least(b, MIN_OBJECT_WIDTH)
    a_int = np.where(good, a, 0).astype(np.int64)
    b_int = np.where(good, b, 1).astype(np.int64)
    return good & (counts >= a_int) & ((counts - a_int) % b_int == 0)


def looks_like_detection(table: LstTable) -> bool:
    """A list reads as a detection list when its first row is one with at least one object (a
    class-id or multi-hot list cannot start with a header width >= 2 and an object width >= 5)."""
    if not len(table) or not row_fits(table)[:1].all():
        return False
    return int(table.counts()[0]) >= int(table.labels[0, 0]) + int(table.labels[0, 1])


def check_detection(table: LstTable, num_classes: int | None = None) -> tuple[list[Problem], DetectionSummary]:
    """Every problem of a detection list's labels, and what it holds; class ids must be below
    ``num_classes`` when it is given."""
    name, lines, counts = table.path, table.lines, table.counts()
    problems: list[Problem] = []
    summary = DetectionSummary()
    if not len(table):
        return problems, summary
    fits = row_fits(table)
    labels = table.labels
    for row in np.flatnonzero(~fits).tolist():
        problems.append(error(name, *_shape_problem(labels[row], int(counts[row])), line=int(lines[row])))
    good = np.flatnonzero(fits)
    if not good.size:
        return problems, summary
    first = good[0]
    summary.header_width, summary.object_width = int(labels[first, 0]), int(labels[first, 1])
    differs = good[(labels[good, 0] != summary.header_width) | (labels[good, 1] != summary.object_width)]
    if differs.size:
        problems.append(warning(name, "det-widths-differ", f"{differs.size:,} line(s) have another header or object width than line "
                                f"{int(lines[first])} ({summary.header_width}, {summary.object_width}): lines "
                                f"{_lines(lines, differs)}; a batch of ImageDetIter holds one object width", line=int(lines[differs[0]])))
    dropped, bad_class = _check_objects(table, good, num_classes, summary, problems)
    if dropped:
        rows = np.asarray(dropped)
        problems.append(warning(name, "det-empty-box", f"{rows.size:,} line(s) hold boxes without positive width and height, which "
                                f"ImageDetIter drops: lines {_lines(lines, rows)}", line=int(lines[rows[0]])))
    if bad_class:
        rows = np.asarray(bad_class)
        below = f" below --num-classes {num_classes}" if num_classes is not None else ""
        problems.append(warning(name, "det-class-id", f"{rows.size:,} line(s) hold class ids that are not whole numbers >= 0{below} "
                                f"(-1 marks padding): lines {_lines(lines, rows)}", line=int(lines[rows[0]])))
    return problems, summary


def _check_objects(table: LstTable, rows: np.ndarray, num_classes: int | None, summary: DetectionSummary,
                   problems: list[Problem]) -> tuple[list[int], list[int]]:
    """Check the objects of the well-formed ``rows``: add the errors of rows ImageDetIter fails on to
    ``problems`` and the counts to ``summary``; return the rows with boxes it drops and the rows
    with odd class ids (for one grouped warning each)."""
    name, lines, counts, labels = table.path, table.lines, table.counts(), table.labels
    classes: set = set()
    dropped, bad_class = [], []
    for row in rows.tolist():
        a, b, count = int(labels[row, 0]), int(labels[row, 1]), int(counts[row])
        objects = labels[row, a:count].reshape(-1, b)
        summary.objects += len(objects)
        ids = objects[:, 0]
        valid = (objects[:, 3] > objects[:, 1]) & (objects[:, 4] > objects[:, 2])
        if count < _MIN_LABELS:
            problems.append(error(name, "det-too-short", f"{count} labels: no object after the {a}-wide header; MXNet's ImageDetIter fails "
                                  "('Label shape is invalid'); leave images without objects out of the list", line=int(lines[row])))
        elif not valid.any():
            problems.append(error(name, "det-no-valid-box", f"none of the {len(objects)} object(s) has xmax > xmin and ymax > ymin; "
                                  "MXNet's ImageDetIter fails ('Encounter sample with no valid label')", line=int(lines[row])))
        elif not valid.all():
            dropped.append(row)
        if not _whole_at_least(ids, -1).all() or (num_classes is not None and (ids >= num_classes).any()):
            bad_class.append(row)  # -1 marks padding objects, which readers ignore
        classes.update(ids[ids >= 0].tolist())
    summary.classes = len(classes)
    return dropped, bad_class


def _shape_problem(row: np.ndarray, count: int) -> tuple[str, str]:
    """``(code, message)`` of a row that is no header plus whole objects."""
    a, b = row[0], row[1] if count > 1 else float("nan")
    if count < 2 or not _whole_at_least(np.array([a]), MIN_HEADER_WIDTH)[0]:
        return "det-header-width", (f"header width {_fmt(a)} (the first label) must be a whole number >= {MIN_HEADER_WIDTH}; "
                                    "detection labels are: header width, object width, header extras, objects")
    if not _whole_at_least(np.array([b]), MIN_OBJECT_WIDTH)[0]:
        return "det-object-width", (f"object width {_fmt(b)} (the second label) must be a whole number >= {MIN_OBJECT_WIDTH} "
                                    "(class id, xmin, ymin, xmax, ymax, extras)")
    return "det-label-length", (f"{count} labels are not a {int(a)}-wide header plus whole {int(b)}-wide objects; MXNet's "
                                "ImageDetIter fails ('Label shape ... inconsistent with annotation width')")


def _fmt(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _lines(lines: np.ndarray, rows: np.ndarray) -> str:
    shown = ", ".join(str(int(lines[r])) for r in rows[:_AT_MOST])
    return shown + (f" and {rows.size - _AT_MOST:,} more" if rows.size > _AT_MOST else "")
