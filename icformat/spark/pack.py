"""``im2rec`` on Spark: one task per shard, each running the local packer on its slice of the list.

Shard ``i`` of ``N`` is exactly what ``icformat im2rec --num-shards N --shard-index i`` writes on one
machine (same rows, same bytes, same names). The driver checks the list once before any task
starts, collects one :class:`~icformat.im2rec.PackReport` per shard, removes what killed attempts
left behind and writes ``<out>-summary.json`` beside the shards. A shard whose packing fails with
our error (a bad list, ``strict`` and a bad image) fails the run: the shards already written are
removed, so a run leaves the whole dataset or nothing.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .. import streams
from ..errors import IcformatError
from ..im2rec import run as local
from ..im2rec.pack import PackOptions
from ..im2rec.plan import check_indices_for_packing, output_prefix
from ..lst.parse import read_lst
from . import outputs
from .session import run_job, task_attempt


@dataclass(frozen=True)
class _PackJob:
    """What every task needs (pickled once per task)."""

    lst: str
    root: str
    out_prefix: str | None
    num_shards: int
    options: PackOptions
    strict: bool
    num_workers: int | None
    executor: str
    fail_first_attempt: tuple[int, ...] = ()  # tests: these shards' first attempts die midway


@dataclass
class _ShardOutcome:
    shard: int
    report: local.PackReport | None = None
    error: str | None = None
    attempt: int = 0


def _die_midway(rows: int) -> None:
    os._exit(3)  # as a killed executor would: no clean-up, the temporary files stay


def _pack_shard(job: _PackJob, shard: int) -> _ShardOutcome:
    """Run in a Spark task: pack one shard with the local packer (workers = the task's cpus)."""
    attempt, cpus = task_attempt()
    progress = _die_midway if attempt == 0 and shard in job.fail_first_attempt else None
    try:
        report = local.pack_lst(
            job.lst, job.root, job.out_prefix, options=job.options, num_workers=job.num_workers or cpus,
            num_shards=job.num_shards, shard_index=shard, strict=job.strict, progress=progress,
            executor=job.executor, checksum=True,
        )
    except IcformatError as exc:  # deterministic: a retry would fail the same way, so report it
        return _ShardOutcome(shard, error=str(exc), attempt=attempt)
    return _ShardOutcome(shard, report=report, attempt=attempt)


def pack_lst(
    spark: Any,
    lst: str,
    root: str,
    out_prefix: str | None = None,
    num_shards: int = 1,
    *,
    options: PackOptions | None = None,
    strict: bool = False,
    num_workers: int | None = None,
    executor: str = "auto",
    summary: bool = True,
    _fail_first_attempt: tuple[int, ...] = (),
    **im2rec_options: Any,
) -> list[local.PackReport]:
    """Pack ``lst`` (images under ``root``, a folder every executor sees or an ``s3://`` prefix) into
    ``num_shards`` shards ``OUT-0000i-of-0000N.rec`` + ``.idx``, one Spark task each; returns one
    report per shard, in shard order (each with the ``sha256`` of its ``.rec``).

    ``im2rec_options`` are :class:`~icformat.im2rec.PackOptions` fields (``resize=256``,
    ``pass_through=True``...), or pass ``options``. ``num_workers``: threads per task (default: the
    task's ``spark.task.cpus``). ``summary`` writes ``OUT-summary.json`` beside the shards.
    """
    if num_shards < 1:
        raise IcformatError(f"--num-shards must be at least 1, not {num_shards}")
    options = options or PackOptions(**im2rec_options)
    _check_inputs(lst, root)
    job = _PackJob(streams.local_path(lst) if not streams.is_uri(lst) else lst, root, out_prefix, num_shards, options,
                   strict, num_workers, executor, tuple(_fail_first_attempt))
    prefixes = [output_prefix(job.lst, out_prefix, num_shards, i) for i in range(num_shards)]
    files = outputs.shard_files(prefixes)
    began = time.perf_counter()
    sc = spark.sparkContext
    sc.setJobDescription(f"icformat im2rec {os.path.basename(lst)}: {num_shards} shards")
    tasks = sc.parallelize(range(num_shards), num_shards).map(partial(_pack_shard, job))
    try:
        results = sorted(run_job("im2rec", tasks.collect), key=lambda r: r.shard)
        errors = [r.error for r in results if r.error]
        if errors:
            raise IcformatError(errors[0] + (f" (and {len(errors) - 1} more shards failed)" if len(errors) > 1 else ""))
    except BaseException:
        outputs.remove_outputs(files)
        outputs.remove_leftovers(files)
        raise
    outputs.remove_leftovers(files)
    reports = [r.report for r in results]
    if summary:
        base = output_prefix(job.lst, out_prefix)
        attempts = [r.attempt for r in results]
        outputs.write_summary(outputs.summary_path(base), pack_summary(job, reports, attempts, time.perf_counter() - began, sc.master))
    return reports


def _check_inputs(lst: str, root: str) -> None:
    """Refuse, before any task starts, what every task would refuse."""
    if not streams.is_uri(root) and not os.path.isdir(streams.local_path(root)):
        raise IcformatError(f"image root {root!r} is not a folder")
    check_indices_for_packing(read_lst(lst))


def pack_summary(job: _PackJob, reports: list[local.PackReport], attempts: list[int], seconds: float, master: str) -> dict:
    """The JSON summary: totals, then per shard its files, records, bytes, skipped images, sha256
    and the attempt that wrote it (0: the first)."""
    return {
        "lst": job.lst,
        "root": job.root,
        "engine": "spark",
        "master": master,
        "num_shards": job.num_shards,
        "rows": sum(r.rows for r in reports),
        "records": sum(r.written for r in reports),
        "bytes": sum(r.bytes_written for r in reports),
        "skipped": sum(len(r.skipped) for r in reports),
        "seconds": round(seconds, 3),
        "shards": [_shard_entry(i, r, a) for i, (r, a) in enumerate(zip(reports, attempts))],
    }


def _shard_entry(index: int, report: local.PackReport, attempt: int) -> dict:
    return {
        "shard": index,
        "rec": report.rec_path,
        "idx": report.idx_path,
        "rows": report.rows,
        "records": report.written,
        "bytes": report.bytes_written,
        "skipped": [{"line": s.line, "path": s.path, "reason": s.reason} for s in report.skipped],
        "sha256": report.sha256,
        "attempt": attempt,
    }
