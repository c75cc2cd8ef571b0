"""``lst validate``: every problem of a ``.lst`` file (and, with a root, of its images), each with its
line number. Nothing stops at the first problem; structure checks run on whole columns at once
(numpy), so a million-line file takes a few seconds, most of it parsing.

Checks: lines that do not parse; duplicate or negative indices; class labels that are not integers,
not 0-based or not contiguous (naming the missing ones), or out of ``num_classes``; multi-hot rows of
the wrong width or with values other than 0/1; absolute paths and paths escaping the root (refused,
never read); missing or empty files; with ``check_images``: files that do not decode, are truncated,
smaller than ``image_shape`` (after ``resize``), and (warnings) CMYK, grayscale, alpha or 16-bit.
"""
from __future__ import annotations

import os
import posixpath
import stat
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .. import streams
from ..errors import LstError
from .parse import LstTable, parse_lst_bytes

ERROR = "error"
WARNING = "warning"
_LIST_AT_MOST = 20  # how many missing labels to name in one message


@dataclass(frozen=True)
class Problem:
    """One problem: ``path`` and 1-based ``line`` (None for whole-file problems), what is wrong and
    ``severity`` (``"error"`` or ``"warning"``)."""

    path: str | None
    line: int | None
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = self.path or "<lst>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        tag = "warning: " if self.severity == WARNING else ""
        return f"{where}: {tag}{self.message}"

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "severity": self.severity, "message": self.message}


@dataclass
class LstValidation:
    """The outcome of :func:`validate_lst`: every :class:`Problem` plus what was checked."""

    path: str | None
    rows: int = 0
    label_width: int = 0
    multi_label: bool = False
    classes: int = 0
    files_checked: int = 0
    images_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(p.severity == ERROR for p in self.problems)

    def summary(self) -> str:
        kind = f"multi-label ({self.label_width} columns)" if self.multi_label else f"{self.classes} classes"
        checked = ""
        if self.files_checked:
            checked += f", {self.files_checked:,} files checked"
        if self.images_checked:
            checked += f", {self.images_checked:,} images decoded"
        errors, warnings = len(self.errors), len(self.warnings)
        return (
            f"{self.path or '<lst>'}: {self.rows:,} rows, {kind}{checked}: "
            f"{errors:,} error{'s' if errors != 1 else ''}, {warnings:,} warning{'s' if warnings != 1 else ''}"
        )

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "ok": self.ok,
            "rows": self.rows,
            "label_width": self.label_width,
            "multi_label": self.multi_label,
            "classes": self.classes,
            "files_checked": self.files_checked,
            "images_checked": self.images_checked,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_dict() for p in self.problems],
        }


def parse_image_shape(value: str | Sequence[int] | None) -> tuple[int, int, int] | None:
    """``"3,224,224"`` -> ``(3, 224, 224)`` (SageMaker's ``image_shape``: channels, height, width)."""
    if value is None or value == "":
        return None
    parts = [int(p) for p in value.replace(" ", "").split(",")] if isinstance(value, str) else [int(p) for p in value]
    if len(parts) != 3 or min(parts) <= 0:
        raise ValueError(f"image shape must be C,H,W with positive numbers, not {value!r}")
    return parts[0], parts[1], parts[2]


def validate_lst(
    path: streams.PathLike,
    root: str | None = None,
    *,
    multi_label: bool | None = None,
    num_classes: int | None = None,
    check_files: bool = True,
    check_images: bool = False,
    image_shape: str | Sequence[int] | None = None,
    resize: int = 0,
    num_workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> LstValidation:
    """Check a ``.lst`` file and return every problem found (see the module docstring).

    ``multi_label``: None decides from the file (more than one label column means multi-hot).
    ``root``: the image folder; without it, files are not looked at. ``check_images`` decodes every
    image (in ``num_workers`` processes, default all cores); ``image_shape`` (``C,H,W``) and
    ``resize`` (shorter side, as SageMaker's ``resize``) add the size check. ``progress`` is called
    with the number of images checked since the last call.
    """
    name = os.fspath(path)
    with streams.open_input(path, "rb") as f:
        data = f.read()
    table, problems = read_lst_tolerant(data, name)
    result = LstValidation(name, rows=len(table), label_width=table.label_width)
    result.problems = problems
    if multi_label is None:
        multi_label = table.label_width > 1
    result.multi_label = multi_label
    problems += check_indices(table)
    if multi_label:
        problems += check_multi_hot(table, num_classes)
        result.classes = table.label_width
    else:
        label_problems, result.classes = check_class_labels(table, num_classes)
        problems += label_problems
    safe, path_problems = check_paths(table)
    problems += path_problems
    if root is not None and check_files:
        if streams.is_uri(root):
            raise LstError("checking files needs a local image folder for --root (not a URI)", name)
        file_problems, present = check_files_exist(table, root, safe)
        problems += file_problems
        result.files_checked = int(safe.sum())
        if check_images:
            shape = parse_image_shape(image_shape)
            problems += check_image_files(table, root, present, shape, resize, num_workers, progress)
            result.images_checked = int(present.sum())
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return result


# -- parsing ---------------------------------------------------------------------------------------


def read_lst_tolerant(data: bytes, name: str | None) -> tuple[LstTable, list[Problem]]:
    """Parse ``.lst`` bytes keeping the good rows and a :class:`Problem` for each bad line (the fast
    parser first; the line-by-line one only when the fast one finds a problem). Rows whose number of
    labels differs from most rows' are problems too."""
    try:
        return parse_lst_bytes(data, name=name, strict=True), []
    except LstError:
        return _parse_lines(data, name)


def _parse_lines(data: bytes, name: str | None) -> tuple[LstTable, list[Problem]]:
    rows, problems = parse_rows_tolerant(data, name)
    table, width_problems = table_of_width(rows, majority_width(label_widths(rows)), name)
    return table, problems + width_problems


def parse_rows_tolerant(data: bytes, name: str | None, first_line: int = 1) -> tuple[list, list[Problem]]:
    """Every line that parses as ``(index, labels, path, line)`` whatever its number of labels, and
    a :class:`Problem` for each line that does not (lines numbered from ``first_line``)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    problems: list[Problem] = []
    rows: list[tuple[int, list[float], str, int]] = []
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), first_line):
        text = raw.strip()
        if not text:
            continue
        fields = [f.strip() for f in text.split("\t")]
        if len(fields) < 3:
            problems.append(Problem(name, number, f"expected index<TAB>label(s)<TAB>path but found {len(fields)} field(s); fields must be tab-separated"))
            continue
        row = _parse_fields(fields, name, number, problems)
        if row is not None:
            rows.append(row)
    return rows, problems


def label_widths(rows: list) -> dict[int, int]:
    """How many rows have each number of label columns."""
    counts: dict[int, int] = {}
    for row in rows:
        counts[len(row[1])] = counts.get(len(row[1]), 0) + 1
    return counts


def majority_width(counts: dict[int, int]) -> int | None:
    """The number of label columns most rows have (the smallest on a tie); None without rows."""
    return max(sorted(counts), key=lambda w: counts[w]) if counts else None


def table_of_width(rows: list, width: int | None, name: str | None) -> tuple[LstTable, list[Problem]]:
    """The rows with ``width`` labels as a table, and a problem for each other row."""
    problems, good = [], []
    for row in rows:
        if len(row[1]) != width:
            problems.append(Problem(name, row[3], f"{len(row[1])} label column(s) where the file has {width}"))
        else:
            good.append(row)
    table = LstTable(
        np.array([r[0] for r in good], dtype=np.int64),
        np.array([r[1] for r in good], dtype=np.float64).reshape(len(good), width or 0),
        [r[2] for r in good],
        np.array([r[3] for r in good], dtype=np.int64),
        name,
    )
    return table, problems


def _parse_fields(fields: list[str], name, number: int, problems: list[Problem]):
    ok = True
    try:
        index = int(fields[0])
    except ValueError:
        problems.append(Problem(name, number, f"index {fields[0]!r} is not an integer"))
        ok, index = False, 0
    labels = []
    for column, text in enumerate(fields[1:-1], 1):
        try:
            labels.append(float(text))
        except ValueError:
            problems.append(Problem(name, number, f"label {text!r} in column {column + 1} is not a number"))
            ok = False
    if not fields[-1]:
        problems.append(Problem(name, number, "empty image path in the last column"))
        ok = False
    return (index, labels, fields[-1], number) if ok else None


# -- column checks ---------------------------------------------------------------------------------


def check_indices(table: LstTable) -> list[Problem]:
    """Negative indices (image ids are unsigned) and duplicates (each after the first)."""
    return check_negative_indices(table) + check_duplicate_indices(table.indices, table.lines, table.path)


def check_negative_indices(table: LstTable) -> list[Problem]:
    """A problem for each negative index (image ids are unsigned)."""
    name, indices, lines = table.path, table.indices, table.lines
    return [Problem(name, int(lines[row]), f"negative index {int(indices[row])}; indices must be unique integers >= 0")
            for row in np.flatnonzero(indices < 0)]


def check_duplicate_indices(indices: np.ndarray, lines: np.ndarray, name: str | None) -> list[Problem]:
    """A problem for each repeated index after its first row (rows in line order)."""
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
                Problem(name, int(lines[row]), f"duplicate index {int(indices[row])} (first on line {int(lines[first_row])}); indices must be unique")
            )
    return problems


def check_class_labels(table: LstTable, num_classes: int | None) -> tuple[list[Problem], int]:
    """Single-label checks on the first label column; returns the problems and the class count."""
    if table.label_width == 0 or len(table) == 0:
        return [], 0
    problems = label_columns_warning(table.path, table.label_width, int(table.lines[0]))
    row_problems, present = check_class_label_rows(table, num_classes)
    return problems + row_problems + label_set_problems(table.path, present, num_classes), class_count(present, num_classes)


def label_columns_warning(name: str | None, width: int, first_line: int) -> list[Problem]:
    """The warning (on the first row) that only the first of several label columns is a class id."""
    if width <= 1:
        return []
    return [Problem(name, first_line, f"rows have {width} label columns but only the first is a class id "
                    "(im2rec stores only the first unless --pack-label); use --multi-label for multi-hot rows", WARNING)]


def check_class_label_rows(table: LstTable, num_classes: int | None) -> tuple[list[Problem], np.ndarray]:
    """The problems of each row's class label, and the sorted distinct valid labels (int64)."""
    name, problems = table.path, []
    labels, lines = table.labels[:, 0], table.lines
    finite = np.isfinite(labels)
    whole = finite & (labels == np.floor(np.where(finite, labels, 0)))
    for row in np.flatnonzero(~whole):
        problems.append(Problem(name, int(lines[row]), f"class label {_fmt(labels[row])} is not an integer; class ids are 0, 1, 2..."))
    negative = whole & (labels < 0)
    for row in np.flatnonzero(negative):
        problems.append(Problem(name, int(lines[row]), f"negative class label {_fmt(labels[row])}; class ids start at 0"))
    valid = whole & ~negative
    if num_classes is not None:
        over = valid & (labels >= num_classes)
        for row in np.flatnonzero(over):
            problems.append(Problem(name, int(lines[row]), f"class label {_fmt(labels[row])} is out of range for --num-classes {num_classes} (0..{num_classes - 1})"))
        valid &= ~over
    return problems, np.unique(labels[valid].astype(np.int64))


def class_count(present: np.ndarray, num_classes: int | None) -> int:
    """The number of classes: one past the largest label present, at least ``num_classes``."""
    return max(int(present[-1]) + 1, num_classes or 0) if len(present) else 0


def label_set_problems(name, present: np.ndarray, num_classes: int | None) -> list[Problem]:
    """Whole-file problems of the set of class labels present (not 0-based, gaps, unused)."""
    return _label_set_problems(name, present, num_classes) if len(present) else []


def _label_set_problems(name, present: np.ndarray, num_classes: int | None) -> list[Problem]:
    problems = []
    lowest, highest = int(present[0]), int(present[-1])
    if lowest > 0:
        problems.append(Problem(name, None, f"class labels are not 0-based: the smallest is {lowest}; labels must be 0..num_classes-1 "
                                            f"(no image has {_names(range(lowest))})"))
    gaps = np.setdiff1d(np.arange(lowest, highest + 1), present)
    if len(gaps):
        problems.append(Problem(name, None, f"class labels are not contiguous: no image has label {_names(gaps.tolist())} "
                                            f"(between {lowest} and {highest})"))
    if num_classes is not None and highest < num_classes - 1:
        unused = list(range(highest + 1, num_classes))
        problems.append(Problem(name, None, f"no image has label {_names(unused)} (--num-classes {num_classes})", WARNING))
    return problems


def check_multi_hot(table: LstTable, num_classes: int | None) -> list[Problem]:
    """Multi-label rows: width equal to ``num_classes`` (when given), values 0 or 1 only."""
    problems = multi_hot_width_problems(table.path, table.label_width, len(table), num_classes)
    if len(table) == 0 or table.label_width == 0:
        return problems
    row_problems, ever_one = check_multi_hot_rows(table)
    return problems + row_problems + multi_hot_unused_problems(table.path, ever_one)


def multi_hot_width_problems(name: str | None, width: int, rows: int, num_classes: int | None) -> list[Problem]:
    if num_classes is not None and width != num_classes and rows:
        return [Problem(name, None, f"rows have {width} label column(s) but --num-classes is {num_classes}; "
                                    "multi-hot rows need one 0/1 column per class")]
    return []


def check_multi_hot_rows(table: LstTable) -> tuple[list[Problem], np.ndarray]:
    """A problem for each row with values other than 0/1, and which columns are 1 on some row."""
    problems = []
    labels = table.labels
    bad = ~((labels == 0) | (labels == 1))
    for row in np.flatnonzero(bad.any(axis=1)):
        cols = np.flatnonzero(bad[row])
        values = ", ".join(f"{_fmt(labels[row, c])} in label column {c + 1}" for c in cols[:5])
        problems.append(Problem(table.path, int(table.lines[row]), f"multi-hot labels must be 0 or 1: found {values}"))
    return problems, (labels == 1).any(axis=0)


def multi_hot_unused_problems(name: str | None, ever_one: np.ndarray) -> list[Problem]:
    never = np.flatnonzero(~ever_one)
    if len(never) and len(ever_one) > 1:
        return [Problem(name, None, f"no image has class {_names(never.tolist())} (multi-hot column(s) never 1)", WARNING)]
    return []


def check_paths(table: LstTable) -> tuple[np.ndarray, list[Problem]]:
    """Absolute paths and paths that leave the root; returns a mask of the safe rows and the problems.
    Also warns about a path listed twice. Rows are looked at one by one only when a scan of all the
    paths at once finds something suspicious."""
    safe, problems = check_unsafe_paths(table)
    return safe, problems + check_duplicate_paths(table.paths, table.lines, table.path)


def check_unsafe_paths(table: LstTable) -> tuple[np.ndarray, list[Problem]]:
    """A mask of the rows whose path is safe to read, and a problem for each other row."""
    name, problems = table.path, []
    paths, lines = table.paths, table.lines
    safe = np.ones(len(paths), dtype=bool)
    joined = "\n" + "\n".join(paths)
    if any(mark in joined for mark in ("\n/", "\\", "..", ":")):
        for row, p in enumerate(paths):
            reason = unsafe_path_reason(p)
            if reason:
                safe[row] = False
                problems.append(Problem(name, int(lines[row]), f"{reason}: {p!r}; paths must be relative to the image root "
                                                                "and stay inside it (refused, not read)"))
    return safe, problems


def check_duplicate_paths(paths: list[str], lines: np.ndarray, name: str | None) -> list[Problem]:
    """A warning for each path listed again after its first row (rows in line order)."""
    problems: list[Problem] = []
    if len(set(paths)) != len(paths):
        seen: dict[str, int] = {}
        for row, p in enumerate(paths):
            first = seen.setdefault(p, row)
            if first != row:
                problems.append(Problem(name, int(lines[row]), f"same image as line {int(lines[first])}: {p}", WARNING))
    return problems


def unsafe_path_reason(path: str) -> str | None:
    """Why a ``.lst`` path may not be read (absolute, or leaving the root), or None when it is safe."""
    if path[:1] in ("/", "\\") or path[1:3] in (":\\", ":/") or (len(path) == 2 and path[1] == ":"):
        return "absolute path"
    if ".." in path:
        normal = posixpath.normpath(path.replace("\\", "/"))
        if normal == ".." or normal.startswith("../"):
            return "path escapes the image root"
    return None


def safe_join(root: str, path: str) -> str | None:
    """``root/path`` when ``path`` is relative and stays inside ``root``; None otherwise."""
    return None if unsafe_path_reason(path) else os.path.join(root, path)


def check_files_exist(table: LstTable, root: str, safe: np.ndarray) -> tuple[list[Problem], np.ndarray]:
    """Missing, non-regular and empty files among the safe rows; returns problems and a mask of the
    rows whose file exists and is not empty."""
    name, problems = table.path, []
    if not os.path.isdir(root):
        raise LstError(f"image root {root!r} is not a folder", name)
    present = np.zeros(len(table), dtype=bool)
    lines = table.lines
    for row in np.flatnonzero(safe).tolist():
        rel = table.paths[row]
        full = os.path.join(root, rel)
        try:
            st = os.stat(full)
        except OSError:
            problems.append(Problem(name, int(lines[row]), f"file not found: {full}"))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem(name, int(lines[row]), f"not a regular file: {full}"))
        elif st.st_size == 0:
            problems.append(Problem(name, int(lines[row]), f"empty file (0 bytes): {full}"))
        else:
            present[row] = True
    return problems, present


# -- image checks ----------------------------------------------------------------------------------


def check_image_files(
    table: LstTable,
    root: str,
    rows: np.ndarray,
    image_shape: tuple[int, int, int] | None,
    resize: int,
    num_workers: int | None,
    progress: Callable[[int], None] | None,
) -> list[Problem]:
    """Decode each image of the ``rows`` mask (in ``num_workers`` processes) and report what would
    fail training (errors) or change the pixels (warnings)."""
    selected = np.flatnonzero(rows).tolist()
    jobs = [(os.path.join(root, table.paths[r]), table.paths[r]) for r in selected]
    args = (image_shape, int(resize or 0))
    problems = []
    for row, found in zip(selected, _map_images(jobs, args, num_workers, progress)):
        line = int(table.lines[row])
        problems += [Problem(table.path, line, message, severity) for severity, message in found]
    return problems


def _map_images(jobs: list, args: tuple, num_workers: int | None, progress) -> list:
    chunk = 64
    chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    workers = min(num_workers or os.cpu_count() or 1, max(1, len(chunks)))
    results: list = []
    if workers <= 1:
        mapped = (_check_chunk(c, args) for c in chunks)
        for found in mapped:
            results += found
            if progress:
                progress(len(found))
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if sys.platform.startswith("linux") else "spawn"  # fork: workers share the list
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        for found in pool.map(_check_chunk, chunks, [args] * len(chunks)):
            results += found
            if progress:
                progress(len(found))
    return results


def _check_chunk(jobs: list, args: tuple) -> list:
    return [check_image_file(full, rel, *args) for full, rel in jobs]


def check_image_file(full: str, rel: str, image_shape: tuple[int, int, int] | None = None, resize: int = 0) -> list[tuple[str, str]]:
    """``(severity, message)`` pairs for one image file (empty when it is fine)."""
    from ..errors import ImageError
    from ..image.decode import verify_image
    from ..image.resize import shorter_side_size

    try:
        with open(full, "rb") as f:
            data = f.read()
    except OSError as exc:
        return [(ERROR, f"cannot read {rel}: {exc.strerror or exc}")]
    found = []
    try:
        info = verify_image(data)
    except ImageError as exc:
        if "truncated" in str(exc) or "empty" in str(exc):
            return [(ERROR, f"{rel}: {exc}")]
        try:
            info = verify_image(data, strict=False)
        except ImageError:
            return [(ERROR, f"{rel}: {exc}")]
        found.append((WARNING, f"{rel}: decodes only with errors ignored ({exc})"))
    channels = image_shape[0] if image_shape else 3
    if image_shape:
        h, w = info.height, info.width
        if resize:
            h, w = shorter_side_size(h, w, resize)
        if h < image_shape[1] or w < image_shape[2]:
            after = f", {h}x{w} after --resize {resize}" if resize else ""
            found.append((ERROR, f"{rel}: image is {info.height}x{info.width} (HxW){after}, smaller than --image-shape "
                                 f"{','.join(map(str, image_shape))}; training fails on it (resize it or raise --resize)"))
    if info.mode == "CMYK":
        found.append((WARNING, f"{rel}: CMYK image; it is converted to RGB when decoded and colours may shift"))
    elif info.mode in ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L") and channels == 3:
        found.append((WARNING, f"{rel}: grayscale image; it becomes 3 equal channels when trained in colour"))
    if info.alpha and channels != 4:
        found.append((WARNING, f"{rel}: image has an alpha channel; it is dropped when decoded"))
    if info.bits == 16:
        found.append((WARNING, f"{rel}: 16-bit image; it is reduced to 8 bits when decoded"))
    return found


def _fmt(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _names(values) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:_LIST_AT_MOST])
    if len(values) > _LIST_AT_MOST:
        text += f" and {len(values) - _LIST_AT_MOST} more"
    return text
