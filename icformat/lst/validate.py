"""``lst validate``: every problem of a ``.lst`` file (and, with a root, of its images), each with its
line number and a stable code. Nothing stops at the first problem.

The jobs are split by module: :mod:`.parse` (the grammar), :mod:`.checks` (indices and labels),
:mod:`.paths` (path safety, files present) and :mod:`.images` (the image verdict on each file).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..io.paths import PathLike, is_uri
from ..io.sniff import read_text
from ..errors import UsageError
from ..io.paths import is_s3
from ..problems import ERROR, WARNING, Problem, ValidationResult, error
from .checks import check_class_labels, check_indices, check_multi_hot
from .detection import check_detection, looks_like_detection
from .images import check_image_files
from .parse import EMPTY_LST, LST_KIND, parse_lst_tolerant
from .table import LstTable
from .paths import check_files_exist, check_paths, unsafe_path_reason
from .remote import check_objects_exist

__all__ = ["LstValidation", "Problem", "validate_lst", "parse_image_shape", "read_lst_tolerant", "unsafe_path_reason",
           "ERROR", "WARNING"]


@dataclass
class LstValidation(ValidationResult):
    """The outcome of :func:`validate_lst`: every :class:`Problem` plus what was checked."""

    rows: int = 0
    label_width: int = 0
    multi_label: bool = False
    classes: int = 0
    files_checked: int = 0
    images_checked: int = 0
    detection: dict | None = None  # a detection list: header and object width, objects, classes (lst/detection.py)

    def summary(self) -> str:
        kind = f"multi-label ({self.label_width} columns)" if self.multi_label else f"{self.classes:,} classes"
        if self.detection is not None:
            d = self.detection
            kind = (f"detection list (header width {d['header_width']}, object width {d['object_width']}, {d['objects']:,} objects, "
                    f"{d['classes']:,} classes)")
        checked = ""
        if self.files_checked:
            checked += f", {self.files_checked:,} files checked"
        if self.images_checked:
            checked += f", {self.images_checked:,} images decoded"
        return f"{self.path or '<lst>'}: {self.rows:,} rows, {kind}{checked}: {self.counts()}"


def parse_image_shape(value: str | Sequence[int] | None) -> tuple[int, int, int] | None:
    """``"3,224,224"`` -> ``(3, 224, 224)`` (SageMaker's ``image_shape``: channels, height, width)."""
    if value is None or value == "":
        return None
    try:
        parts = [int(p) for p in value.replace(" ", "").split(",")] if isinstance(value, str) else [int(p) for p in value]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) <= 0:
        raise UsageError(f"image shape must be C,H,W with 3 positive whole numbers, not '{value}'")
    return parts[0], parts[1], parts[2]


def read_lst_tolerant(data: bytes, name: str | None, first_line: int = 1, width: int | None = None,
                      ragged: bool = False) -> tuple[LstTable, list[Problem]]:
    """Parse ``.lst`` bytes keeping the good rows and a :class:`Problem` for each bad line (the fast
    parser first; line by line when it finds a problem). ``first_line`` and ``width`` are for a
    part of a file: its first line's number, and the file's number of label columns; ``ragged``
    keeps rows of any label count (detection lists)."""
    from .parse_arrow import parse_arrow

    table = parse_arrow(data, name)
    if table is None or (width is not None and len(table) and table.label_width != width):
        return parse_lst_tolerant(data, name, first_line, width, ragged=ragged)
    if first_line != 1:
        table.lines = table.lines + (first_line - 1)
    return table, []


def validate_lst(
    path: PathLike,
    root: str | None = None,
    *,
    multi_label: bool | None = None,
    num_classes: int | None = None,
    detection: bool | None = None,
    check_files: bool = True,
    check_images: bool = False,
    image_shape: str | Sequence[int] | None = None,
    resize: int = 0,
    num_workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> LstValidation:
    """Check a ``.lst`` file and return every problem found.

    ``multi_label``: None decides from the file (more than one label column means multi-hot).
    ``detection``: None decides from the file's first line (header width >= 2, object width >= 5:
    see :mod:`.detection`); a detection list's lines may hold different numbers of labels.
    ``root``: the image folder or ``s3://`` prefix (objects checked by parallel HEADs, on
    ``num_workers`` threads, default 16); without it, files are not looked at. ``check_images`` judges every
    image (in ``num_workers`` processes, default all cores); ``image_shape`` (``C,H,W``) and
    ``resize`` (shorter side, as SageMaker's ``resize``) add the size check. ``progress`` is called
    with the number of images checked since the last call, ``on_start`` once with the number of
    images to check (a progress bar's total).
    """
    name = os.fspath(path)
    shape = parse_image_shape(image_shape)
    data = read_text(path, LST_KIND)
    table, problems = read_lst_tolerant(data, name, ragged=True)
    if detection is None:
        detection = not multi_label and looks_like_detection(table)
    if not detection and table.ragged:
        table, problems = read_lst_tolerant(data, name)  # label counts must then agree line by line
    if multi_label is None or detection:
        multi_label = table.label_width > 1 and not detection
    result = LstValidation(name, problems, rows=len(table), label_width=table.label_width, multi_label=multi_label)
    if len(table) == 0 and not problems:
        problems.append(error(name, "empty", EMPTY_LST))
    if detection:
        detection_problems, summary = check_detection(table, num_classes)
        problems += check_indices(table) + detection_problems
        result.detection, result.classes = summary.to_dict(), summary.classes
    else:
        problems += _label_problems(table, result, num_classes)
    safe, path_problems = check_paths(table)
    problems += path_problems
    if root is not None and check_files:
        if is_s3(root):
            file_problems, present = check_objects_exist(table, root, np.flatnonzero(safe).tolist(), num_workers)
        elif is_uri(root):
            raise UsageError(f"--root {root}: files can be checked in a local folder or under an s3:// prefix", name)
        else:
            file_problems, present = check_files_exist(table, root, safe)
        problems += file_problems
        result.files_checked = int(safe.sum())
        if check_images:
            if on_start is not None:
                on_start(int(present.sum()))
            problems += check_image_files(table, root, present, shape, resize, num_workers, progress)
            result.images_checked = int(present.sum())
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return result


def _label_problems(table: LstTable, result: LstValidation, num_classes: int | None) -> list[Problem]:
    problems = check_indices(table)
    if result.multi_label:
        result.classes = table.label_width
        return problems + check_multi_hot(table, num_classes)
    label_problems, result.classes = check_class_labels(table, num_classes)
    return problems + label_problems
