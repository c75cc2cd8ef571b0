"""``rec2wds``, ``rec2parquet``, ``wds2rec`` and ``parquet2rec`` on Spark: one task per input file,
each running the local conversion on it (the one implementation), for sets bigger than one machine.

Input file ``i`` of ``N`` becomes ``PREFIX-0000i-000000.tar`` ... (its own numbered shards) on the
way out, and ``DEST-0000i-of-0000N.rec`` on the way back (one input: ``DEST`` itself), so the
output of each task is what a local run on that file writes. ``PREFIX-summary.json`` goes beside.
When a task fails, every output of the job is removed.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Sequence

from ..convert.manifest_to_rec import shard_path
from ..errors import IcformatError, InputNotFound
from ..interop.classes import ClassNames
from ..interop.parquet import parquet_to_rec, rec_to_parquet
from ..interop.results import Exported
from ..interop.source import list_sources
from ..interop.wds import rec_to_wds, wds_to_rec
from ..io.paths import PathLike, is_uri, local_path
from ..io.s3 import delete
from ..recordio.shards import list_shard_files
from . import outputs
from .session import resolve, run_shard_tasks

# command -> (local converter, input extension, output extension; None: one .rec per input)
CONVERTERS = {
    "rec2wds": (rec_to_wds, ".rec", ".tar"),
    "rec2parquet": (rec_to_parquet, ".rec", ".parquet"),
    "wds2rec": (wds_to_rec, ".tar", None),
    "parquet2rec": (parquet_to_rec, ".parquet", None),
}


@dataclass(frozen=True)
class _Job:
    command: str
    inputs: tuple[str, ...]
    dest: str
    options: dict


def task_output(dest: str, num_inputs: int, i: int, forward: bool) -> str:
    """Where input ``i`` goes: a shard prefix (forward) or a ``.rec`` (the way back)."""
    if forward:
        return f"{dest}{i:05d}" if dest.endswith(("/", os.sep)) else f"{dest}-{i:05d}"
    return shard_path(dest, num_inputs, i) if num_inputs > 1 else dest


def _convert(job: _Job, i: int) -> tuple[int, Any, str | None]:
    """Run in a Spark task: convert input ``i``; ``(i, result or None, error or None)``."""
    convert, _, out_ext = CONVERTERS[job.command]
    try:
        result = convert(job.inputs[i], task_output(job.dest, len(job.inputs), i, out_ext is not None), **job.options)
    except IcformatError as exc:
        return i, None, f"{job.inputs[i]}: {exc}"
    return i, result, None


def run_interop(spark: Any, command: str, sources: PathLike | Sequence[PathLike], dest: PathLike, **options: Any) -> list:
    """Run ``command`` over every input file of ``sources``, one Spark task each; the per-input
    results (:class:`~icformat.interop.results.Exported` or ``Rebuilt``) in input order."""
    _, in_ext, out_ext = CONVERTERS[command]
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    inputs = list_sources(sources) if in_ext == ".rec" else [p for s in sources for p in list_shard_files(s, in_ext)]
    dest = os.fspath(dest)
    names = None
    if out_ext is not None:
        names = ClassNames.load(options.pop("classes", None)).names
        options["classes"] = names
        options["write_classes"] = False
    job = _Job(command, tuple(inputs), dest, options)
    files = [] if out_ext is not None else [task_output(dest, len(inputs), i, False) for i in range(len(inputs))]
    files += [f[:-4] + ".idx" for f in files if options.get("index", True)]
    spark = resolve(spark)
    began = time.perf_counter()
    try:
        results = run_shard_tasks(spark, command, f"icformat {command}: {len(inputs)} input file(s)", partial(_convert, job),
                                  len(inputs), files, shard_of=lambda r: r[0], error_of=lambda r: r[2])
    except BaseException:
        if out_ext is not None:
            _remove_forward_outputs(dest, len(inputs), out_ext)
        raise
    results = [r for _, r, _ in results]
    summary = {"command": command, "engine": "spark", "master": spark.sparkContext.master, "inputs": inputs,
               "records": sum(r.records for r in results), "image_bytes": sum(r.image_bytes for r in results),
               "skipped": sum(len(r.skipped) for r in results), "seconds": round(time.perf_counter() - began, 3)}
    if out_ext is not None:
        summary["shards"] = [path for r in results for path in r.shards]
        if names is not None:
            summary["classes"] = ClassNames(names).write(dest)
            for r in results:
                r.classes_path = summary["classes"]
    else:
        summary["outputs"] = [r.rec_path for r in results]
    base = dest.rstrip("/" + os.sep) if out_ext is not None else os.path.splitext(dest)[0]
    outputs.write_summary(outputs.summary_path(base), summary)
    return results


def _remove_forward_outputs(dest: str, num_inputs: int, ext: str) -> None:
    """Remove the shards finished tasks of a failed job wrote."""
    for i in range(num_inputs):
        try:
            paths = list_shard_files(task_output(dest, num_inputs, i, True), ext)
        except InputNotFound:
            continue
        for path in paths:
            if is_uri(path):
                delete(path)
            elif os.path.exists(local_path(path)):
                os.remove(local_path(path))


def merged(results: list[Exported]) -> Exported:
    """One :class:`Exported` for the results of every task."""
    total = Exported()
    for r in results:
        total.records += r.records
        total.image_bytes += r.image_bytes
        total.shards += r.shards
        total.skipped += r.skipped
        total.notes += r.notes
        total.classes_path = total.classes_path or r.classes_path
    return total
