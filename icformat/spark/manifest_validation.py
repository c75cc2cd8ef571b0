"""``manifest validate`` on Spark: line checks in tasks, duplicate and reachable references as a
Spark aggregation, the same problems in the same order as the local run.

Pass one counts each byte range's lines and finds its first valid label (the label every later one
must agree with). Pass two runs the local :class:`~icformat.manifest.validate.Validator` on each
range, starting from the file's first valid label, and shuffles the image references by value: each
bucket holds every occurrence of its references, finds the duplicates and (``check_refs``) checks
that each distinct reference can be read. The driver gathers the findings and sorts them.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from functools import partial
from typing import Any, Sequence

import numpy as np

from ..io.paths import PathLike
from ..io.sniff import check_text_file
from ..errors import ManifestError, UsageError
from ..manifest.labels import LabelInfo, check_label_format
from ..manifest.parse import _BLANK, _UTF8_BOM, MANIFEST_KIND, decode_line, parse_attribute_names, source_name
from ..manifest.refs import base_of
from ..manifest.validator import ManifestValidation, Validator
from .ranges import byte_ranges, file_size, read_owned_lines, shuffle_buckets
from .session import executor_path, resolve, run_job


@dataclass(frozen=True)
class _Job:
    path: str
    names: tuple[str, ...]
    num_classes: int | None
    label_format: str | None
    check_refs: bool
    base: str | None
    workers: int | None
    buckets: int
    name: str = ""  # the manifest as the user named it, in problems (``path`` is what executors read)

    def validator(self, reference: tuple[LabelInfo, int] | None = None) -> Validator:
        """A local validator for one range: no file-level findings, the file's first valid label."""
        validator = Validator(self.name or self.path, self.names, num_classes=self.num_classes, label_format=self.label_format)
        validator.found = []
        validator.label_reference = reference
        return validator


def _range_bytes(job: _Job, rid: int, start: int, end: int) -> bytes:
    data = read_owned_lines(job.path, start, end)
    return data[len(_UTF8_BOM):] if rid == 0 and data.startswith(_UTF8_BOM) else data


def _count_range(job: _Job, item: tuple[int, int, int]) -> tuple[int, int, tuple[LabelInfo, int] | None]:
    """Run in a task: the range's number of line ends and its first valid label (line local)."""
    rid, start, end = item
    data = _range_bytes(job, rid, start, end)
    validator = job.validator()
    reference = None
    for line, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip(_BLANK) or validator.label_attr is None:
            continue
        try:
            value = decode_line(raw, job.name or job.path, line).get(validator.label_attr)
        except ManifestError:
            continue
        verdict = validator.label_verdict(value) if value is not None else None
        if isinstance(verdict, LabelInfo):
            reference = (verdict, line)
            break
    return rid, data.count(b"\n"), reference


def _check_range(job: _Job, reference, item: tuple[int, int, int, int]):
    """Run in a task: the local checks of one range; yields its findings and bucketed references."""
    from ..manifest.validate_arrow import check_chunk_arrow

    rid, start, end, first_line = item
    data = _range_bytes(job, rid, start, end)
    validator = job.validator(reference)
    if data and not check_chunk_arrow(validator, data, first_line):
        validator.check_chunk_python(data, first_line)
    yield ("range", rid), (validator.rows, validator.found)
    if not validator.ref_arrays:
        return
    import pyarrow as pa

    refs = pa.concat_arrays([a.cast(pa.large_string()) for a in validator.ref_arrays]).to_pylist()
    lines = np.concatenate(validator.ref_lines)
    buckets = np.array([zlib.crc32(r.encode("utf-8", "surrogatepass")) % job.buckets for r in refs], dtype=np.int64)
    for bucket in np.unique(buckets).tolist():
        rows = np.flatnonzero(buckets == bucket)
        yield ("refs", bucket), ([refs[r] for r in rows.tolist()], lines[rows])


def _merge(job: _Job, key: tuple, pieces) -> tuple[tuple, Any]:
    """Reduce one key: a range's findings pass through; a bucket of references reports duplicates
    (and unreadable objects) with the local validator's own code."""
    pieces = list(pieces)
    if key[0] == "range":
        return key, pieces[0]
    import pyarrow as pa

    lines = np.concatenate([p[1] for p in pieces])
    order = np.argsort(lines, kind="stable")  # line order: the first occurrence is the original
    refs = [r for p in pieces for r in p[0]]
    validator = job.validator()
    validator.ref_arrays = [pa.array([refs[i] for i in order.tolist()], pa.string())]
    validator.ref_lines = [lines[order]]
    validator.check_duplicates_and_refs(job.check_refs, job.base, job.workers)
    return key, (0, validator.found)


def validate_manifest(
    spark: Any,
    src: PathLike,
    attribute_names: str | Sequence[str],
    *,
    num_classes: int | None = None,
    label_format: str | None = None,
    check_refs: bool = False,
    workers: int | None = None,
    parts: int | None = None,
) -> ManifestValidation:
    """:func:`icformat.manifest.validate_manifest` on Spark (same arguments, the same result: same
    problems in the same order), over ``parts`` byte ranges of the manifest (default: one per 64 MiB, at least the
    default parallelism). ``workers``: threads per task checking references."""
    if num_classes is not None and num_classes < 1:
        raise UsageError(f"num_classes must be at least 1, got {num_classes}")
    names = parse_attribute_names(attribute_names)
    label_format = check_label_format(label_format)
    path = source_name(src)
    check_text_file(path, MANIFEST_KIND)  # another kind of file: one line, before any task
    size = file_size(path)
    sc = resolve(spark).sparkContext
    ranges = byte_ranges(size, parts or max(sc.defaultParallelism, -(-size // (64 << 20))))
    base = executor_path(base_of(src) or os.getcwd()) if check_refs else None
    job = _Job(executor_path(path), names, num_classes, label_format, check_refs, base, workers,
               shuffle_buckets(size, len(ranges)), path)
    items = [(rid, start, end) for rid, (start, end) in enumerate(ranges)]
    sc.setJobDescription(f"icformat manifest validate {os.path.basename(path)}: counting lines")
    counted = sorted(run_job("manifest validate", sc.parallelize(items, len(items)).map(partial(_count_range, job)).collect))
    firsts, reference, line = [], None, 1
    for _, line_ends, found in counted:
        firsts.append(line)
        if reference is None and found is not None:
            reference = (found[0], found[1] + line - 1)
        line += line_ends
    work = [(rid, start, end, firsts[rid]) for rid, start, end in items]
    sc.setJobDescription(f"icformat manifest validate {os.path.basename(path)}: checking")
    merged = run_job("manifest validate", sc.parallelize(work, len(work)).flatMap(partial(_check_range, job, reference))
                     .groupByKey(job.buckets).map(lambda kv: _merge(job, kv[0], kv[1])).collect)
    validator = Validator(path, names, num_classes=num_classes, label_format=label_format)  # file-level findings
    for _, (rows, found) in merged:
        validator.rows += rows
        validator.found += found
    return validator.result()
