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
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ..io.streams import open_input
from ..errors import IcformatError, UsageError
from ..im2rec import run as local
from ..im2rec.pack import PackOptions
from ..im2rec.plan import check_indices_for_packing, check_paths_for_packing, output_prefix, shard_bounds
from ..lst.table import LstTable
from ..lst.parse import parse_lst_bytes, read_lst, require_rows
from . import outputs
from .session import executor_path, resolve, run_shard_tasks, task_attempt


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
    slices: tuple = ()  # per shard: where its rows are in the list (see _shard_slices), or () to read it all


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
    kwargs = dict(options=job.options, num_workers=job.num_workers or cpus, strict=job.strict, progress=progress,
                  executor=job.executor, checksum=True)
    try:
        table = _read_slice(job, shard)
        if table is not None:  # only this shard's lines were read
            report = local.pack_rows(table, job.root, output_prefix(job.lst, job.out_prefix, job.num_shards, shard), **kwargs)
        else:
            report = local.pack_lst(job.lst, job.root, job.out_prefix, num_shards=job.num_shards, shard_index=shard, **kwargs)
    except IcformatError as exc:  # deterministic: a retry would fail the same way, so report it
        return _ShardOutcome(shard, error=str(exc), attempt=attempt)
    return _ShardOutcome(shard, report=report, attempt=attempt)


def _shard_slices(lst: str, table: LstTable, num_shards: int) -> tuple:
    """Per shard ``(first byte, end byte, first line, rows, first index, last index)`` of its rows in
    the list, so that a task reads and parses only those; ``()`` where line numbers could not be
    told from line ends alone (then each task reads the whole list, as the local packer does)."""
    with open_input(lst, "rb") as f:
        data = f.read()
    if data.count(b"\r") != data.count(b"\r\n") or any(mark in data for mark in _OTHER_LINE_BREAKS):
        return ()
    line_starts = np.concatenate(([0], np.flatnonzero(np.frombuffer(data, np.uint8) == 0x0A) + 1))
    slices = []
    for shard in range(num_shards):
        start, stop = shard_bounds(len(table), num_shards, shard)
        if start == stop:
            slices.append((0, 0, 1, 0, None, None))
            continue
        first, last = int(table.lines[start]), int(table.lines[stop - 1])
        end = int(line_starts[last]) if last < len(line_starts) else len(data)
        slices.append((int(line_starts[first - 1]), end, first, stop - start, int(table.indices[start]), int(table.indices[stop - 1])))
    return tuple(slices)


_OTHER_LINE_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def _read_slice(job: _PackJob, shard: int) -> LstTable | None:
    """The rows of this shard, read from its byte range of the list; None when that is not known
    or does not give the rows the driver saw (the caller then reads the whole list)."""
    if not job.slices:
        return None
    begin, end, first_line, rows, first_index, last_index = job.slices[shard]
    data = b""
    if end > begin:
        with open_input(job.lst, "rb") as f:
            f.seek(begin)
            data = f.read(end - begin)
    table = parse_lst_bytes(data, name=job.lst, strict=True, ragged=True)
    if len(table) != rows or (rows and (int(table.indices[0]), int(table.indices[-1])) != (first_index, last_index)):
        return None
    table.lines = table.lines + (first_line - 1)
    return table


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
        raise UsageError(f"--num-shards must be at least 1, not {num_shards}")
    options = options or PackOptions(**im2rec_options)
    lst, root, out_prefix = executor_path(lst), executor_path(root), executor_path(out_prefix)
    table = _check_inputs(lst, root, options)
    job = _PackJob(lst, root, out_prefix, num_shards, options, strict, num_workers, executor, tuple(_fail_first_attempt),
                   _shard_slices(lst, table, num_shards))
    prefixes = [output_prefix(job.lst, out_prefix, num_shards, i) for i in range(num_shards)]
    files = outputs.shard_files(prefixes)
    spark = resolve(spark)
    began = time.perf_counter()
    sc = spark.sparkContext
    results = run_shard_tasks(spark, "im2rec", f"icformat im2rec {os.path.basename(lst)}: {num_shards:,} shards",
                              partial(_pack_shard, job), num_shards, files,
                              shard_of=lambda r: r.shard, error_of=lambda r: r.error)
    reports = [r.report for r in results]
    if summary:
        base = output_prefix(job.lst, out_prefix)
        attempts = [r.attempt for r in results]
        outputs.write_summary(outputs.summary_path(base), pack_summary(job, reports, attempts, time.perf_counter() - began, sc.master))
    return reports


def _check_inputs(lst: str, root: str, options: PackOptions) -> LstTable:
    """Refuse, before any task starts, what every task would refuse (as the local packer does);
    returns the parsed list."""
    local._check_root(root)
    table = require_rows(read_lst(lst, ragged=True))  # as the local packer: detection lists vary per line
    check_indices_for_packing(table)
    check_paths_for_packing(table, options.allow_absolute)
    return table


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
