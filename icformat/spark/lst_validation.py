"""``lst validate`` on Spark: row checks in tasks, whole-file checks as Spark aggregations.

Two passes over byte ranges of the list (see :mod:`.ranges`). The first counts each range's lines
and finds its first good row's number of labels (to number lines and fix the file's width); the
second runs the row checks of :mod:`icformat.lst` on each range (:mod:`~icformat.lst.parse`,
:mod:`~icformat.lst.checks`, :mod:`~icformat.lst.paths`, :mod:`~icformat.lst.images`) and sends
indices and paths, bucketed by value, through a shuffle in which each bucket runs the whole-file
duplicate checks. The driver adds the checks of the label set and sorts: the report is the one the
local :func:`~icformat.lst.validate_lst` gives (the same Problem objects, in line order).
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from functools import partial
from typing import Any, Sequence

import numpy as np

from ..io.paths import PathLike, is_uri
from ..io.sniff import check_text_file
from ..errors import LstError, UsageError
from ..io.paths import is_s3
from ..lst import checks, paths
from ..lst.images import check_image_files
from ..lst.parse import EMPTY_LST, LST_KIND, count_lines, first_row_width
from ..lst.table import LstTable
from ..lst.remote import check_objects_exist
from ..lst.validate import LstValidation, parse_image_shape, read_lst_tolerant
from ..problems import error
from .ranges import byte_ranges, file_size, read_owned_lines, shuffle_buckets
from .session import executor_path, resolve, run_job

# Within one line, problems come in the order the local run finds them.
R_PARSE, R_NEGATIVE, R_DUPLICATE, R_LABEL_COLUMNS, R_LABEL, R_UNSAFE, R_SAME_PATH, R_FILE, R_IMAGE = range(9)


@dataclass(frozen=True)
class _Job:
    path: str
    name: str
    root: str | None
    multi_label: bool | None
    num_classes: int | None
    check_files: bool
    check_images: bool
    image_shape: tuple[int, int, int] | None
    resize: int
    buckets: int


@dataclass
class _RangeResult:
    rows: int
    first_row_line: int | None
    problems: list  # (rank, Problem)
    present: np.ndarray | None  # distinct valid class labels (single-label)
    ever_one: np.ndarray | None  # columns that are 1 on some row (multi-label)
    files_checked: int
    images_checked: int


def _count_range(job: _Job, item: tuple[int, int, int]) -> tuple[int, int, int | None]:
    """Run in a task: the range's number of lines and its first good row's number of labels."""
    rid, start, end = item
    data = read_owned_lines(job.path, start, end)
    return rid, count_lines(data), first_row_width(data)


def _check_range(job: _Job, width: int | None, multi_label: bool, item: tuple[int, int, int, int]):
    """Run in a task: the row checks of one range; yields its result and its bucketed keys."""
    rid, start, end, first_line = item
    table, parse_problems = read_lst_tolerant(read_owned_lines(job.path, start, end), job.name, first_line, width)
    found = [(R_PARSE, p) for p in parse_problems]
    found += [(R_NEGATIVE, p) for p in checks.check_negative_indices(table)]
    present = ever_one = None
    if len(table) and table.label_width:
        if multi_label:
            row_problems, ever_one = checks.check_multi_hot_rows(table)
        else:
            row_problems, present = checks.check_class_label_rows(table, job.num_classes)
        found += [(R_LABEL, p) for p in row_problems]
    safe, unsafe = paths.check_unsafe_paths(table)
    found += [(R_UNSAFE, p) for p in unsafe]
    files_checked = images_checked = 0
    if job.root is not None and job.check_files:
        if is_s3(job.root):
            file_problems, existing = check_objects_exist(table, job.root, np.flatnonzero(safe).tolist(), None)
        else:
            file_problems, existing = paths.check_files_exist(table, job.root, safe)
        found += [(R_FILE, p) for p in file_problems]
        files_checked = int(safe.sum())
        if job.check_images:
            images = check_image_files(table, job.root, existing, job.image_shape, job.resize, 1, None)
            found += [(R_IMAGE, p) for p in images]
            images_checked = int(existing.sum())
    first = int(table.lines[0]) if len(table) else None
    yield ("range", rid), _RangeResult(len(table), first, found, present, ever_one, files_checked, images_checked)
    yield from _bucketed(table, job.buckets)


def _bucketed(table: LstTable, buckets: int):
    """``(("index"|"path", bucket), (values, lines))`` pieces: equal values share a bucket."""
    by_index = np.mod(table.indices, buckets)
    for bucket in np.unique(by_index).tolist():
        rows = np.flatnonzero(by_index == bucket)
        yield ("index", bucket), (table.indices[rows], table.lines[rows])
    by_path = np.array([zlib.crc32(p.encode("utf-8", "surrogatepass")) % buckets for p in table.paths], dtype=np.int64)
    for bucket in np.unique(by_path).tolist():
        rows = np.flatnonzero(by_path == bucket)
        yield ("path", bucket), ([table.paths[r] for r in rows.tolist()], table.lines[rows])


def _merge(name: str | None, key: tuple, pieces) -> tuple[tuple, Any]:
    """Reduce one key: a range's result passes through; a bucket reports its duplicates."""
    pieces = list(pieces)
    if key[0] == "range":
        return key, pieces[0]
    lines = np.concatenate([p[1] for p in pieces])
    order = np.argsort(lines, kind="stable")  # rows in line order: the first one is the original
    if key[0] == "index":
        indices = np.concatenate([p[0] for p in pieces])[order]
        return key, [(R_DUPLICATE, p) for p in checks.check_duplicate_indices(indices, lines[order], name)]
    values = [path for p in pieces for path in p[0]]
    return key, [(R_SAME_PATH, p) for p in paths.check_duplicate_paths([values[i] for i in order.tolist()], lines[order], name)]


def validate_lst(
    spark: Any,
    path: PathLike,
    root: str | None = None,
    *,
    multi_label: bool | None = None,
    num_classes: int | None = None,
    check_files: bool = True,
    check_images: bool = False,
    image_shape: str | Sequence[int] | None = None,
    resize: int = 0,
    parts: int | None = None,
) -> LstValidation:
    """:func:`icformat.lst.validate.validate_lst` on Spark (same arguments, same report), over
    ``parts`` byte ranges of the list (default: one per 64 MiB, at least the default parallelism).
    ``root`` must be a folder every executor sees (a shared file system) when files are checked."""
    name = os.fspath(path)
    if root is not None and check_files:
        if is_uri(root) and not is_s3(root):
            raise UsageError(f"--root {root}: files can be checked in a local folder or under an s3:// prefix", name)
        if not is_s3(root) and not os.path.isdir(root):
            raise LstError(f"image root {root} is not a folder", name)
    check_text_file(name, LST_KIND)  # another kind of file: one line, before any task
    size = file_size(name)
    sc = resolve(spark).sparkContext
    parts = parts or max(sc.defaultParallelism, -(-size // (64 << 20)))
    ranges = byte_ranges(size, parts)
    job = _Job(executor_path(name), name, executor_path(root), multi_label, num_classes, check_files, check_images,
               parse_image_shape(image_shape), int(resize or 0), shuffle_buckets(size, len(ranges)))
    sc.setJobDescription(f"icformat lst validate {os.path.basename(name)}: counting lines")
    items = [(rid, start, end) for rid, (start, end) in enumerate(ranges)]
    counted = run_job("lst validate", sc.parallelize(items, len(items)).map(partial(_count_range, job)).collect)
    counted.sort()
    firsts, line = [], 1
    for _, lines, _ in counted:
        firsts.append(line)
        line += lines
    width = next((w for _, _, w in counted if w is not None), None)
    multi = (width or 0) > 1 if multi_label is None else multi_label
    sc.setJobDescription(f"icformat lst validate {os.path.basename(name)}: checking")
    work = [(rid, start, end, firsts[rid]) for rid, start, end in items]
    merged = run_job("lst validate", sc.parallelize(work, len(work)).flatMap(partial(_check_range, job, width, multi))
                     .groupByKey(job.buckets).map(lambda kv: _merge(name, kv[0], kv[1])).collect)
    return _assemble(job, width, multi, merged)


def _assemble(job: _Job, width: int | None, multi: bool, merged: list) -> LstValidation:
    """The driver's part: totals, whole-file label checks, every problem in the local order."""
    ranges = [result for key, result in sorted(merged, key=lambda kv: kv[0]) if key[0] == "range"]
    found = [item for key, result in merged if key[0] != "range" for item in result]
    found += [item for r in ranges for item in r.problems]
    rows = sum(r.rows for r in ranges)
    result = LstValidation(job.name, [], rows=rows, label_width=width or 0, multi_label=multi)
    result.files_checked = sum(r.files_checked for r in ranges)
    result.images_checked = sum(r.images_checked for r in ranges)
    whole = [error(job.name, "empty", EMPTY_LST)] if rows == 0 and not found else []
    if multi:
        whole += checks.multi_hot_width_problems(job.name, result.label_width, rows, job.num_classes)
        if rows and result.label_width:
            ever_one = np.logical_or.reduce([r.ever_one for r in ranges if r.ever_one is not None])
            whole += checks.multi_hot_unused_problems(job.name, ever_one)
        result.classes = result.label_width
    elif rows and result.label_width:
        first_line = min(r.first_row_line for r in ranges if r.first_row_line is not None)
        found += [(R_LABEL_COLUMNS, p) for p in checks.extra_label_columns_warning(job.name, result.label_width, first_line)]
        present = np.unique(np.concatenate([r.present for r in ranges if r.present is not None]))
        whole += checks.label_set_problems(job.name, present, job.num_classes)
        result.classes = checks.class_count(present, job.num_classes)
    found.sort(key=lambda item: (item[1].line or 0, item[0]))
    result.problems = [p for _, p in found] + whole
    return result
