"""``manifest2rec`` on Spark: one task per shard, each running the local conversion on its slice of
the manifest's rows (the work is many parallel S3 GETs, spread over every executor).

Each task runs the local ``manifest_to_rec(..., num_shards=N, shard_index=i)`` (the one sharding
implementation: it counts the rows and parses only its slice), so shard ``i`` of ``N`` is what a
local run writes; ``DEST-summary.json`` goes beside.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..io.streams import open_input
from ..convert.manifest_to_rec import manifest_to_rec as convert_locally
from ..convert.manifest_to_rec import shard_path
from ..errors import IcformatError, UsageError
from ..manifest.parse import check_image_classification_names, count_rows, parse_attribute_names
from . import outputs
from .session import executor_path, resolve, run_shard_tasks, task_attempt


@dataclass(frozen=True)
class _ConvertJob:
    manifest: str
    dest: str
    num_shards: int
    rows: int
    options: dict


def _convert_shard(job: _ConvertJob, shard: int) -> tuple[int, Any, str | None]:
    """Run in a Spark task: convert one shard; ``(shard, stats or None, error or None)``."""
    attempt, _ = task_attempt()
    try:
        stats = convert_locally(job.manifest, job.dest, num_shards=job.num_shards, shard_index=shard, **job.options)
    except IcformatError as exc:
        return shard, None, str(exc)
    stats.sha256, stats.bytes_written = _sha256(stats.rec_path)
    stats.attempt = attempt
    return shard, stats, None


def _sha256(path: str) -> tuple[str, int]:
    """The sha256 and size of a written shard, read back (local: from the page cache)."""
    digest, size = hashlib.sha256(), 0
    with open_input(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def manifest_to_rec(spark: Any, manifest: str, dest: str, num_shards: int = 1, **options: Any) -> list:
    """Pack the images a manifest references into ``num_shards`` shards named after ``dest``
    (``out.rec`` -> ``out-00000-of-00004.rec`` + ``.idx``), one Spark task each; ``options`` as
    :func:`icformat.convert.manifest_to_rec` (``attribute_names`` is required). Returns the
    per-shard stats (``records``, ``image_bytes``, ``rec_path``, ``sha256``) in shard order."""
    if num_shards < 1:
        raise UsageError(f"--num-shards must be at least 1, not {num_shards}")
    check_image_classification_names(parse_attribute_names(options.get("attribute_names", "")))
    options.setdefault("index", True)
    manifest, dest = executor_path(os.fspath(manifest)), executor_path(os.fspath(dest))
    job = _ConvertJob(manifest, dest, num_shards, count_rows(manifest), options)
    paths = [shard_path(dest, num_shards, i) if num_shards > 1 else os.fspath(dest) for i in range(num_shards)]
    files = outputs.shard_files([p[:-4] if p.endswith(".rec") else p for p in paths], with_index=bool(options["index"]))
    spark = resolve(spark)
    began = time.perf_counter()
    sc = spark.sparkContext
    results = run_shard_tasks(spark, "manifest2rec", f"icformat manifest2rec {os.path.basename(manifest)}: {num_shards:,} shards",
                              partial(_convert_shard, job), num_shards, files,
                              shard_of=lambda r: r[0], error_of=lambda r: r[2])
    stats = [s for _, s, _ in results]
    base = os.path.splitext(os.fspath(dest))[0]
    outputs.write_summary(outputs.summary_path(base), {
        "manifest": manifest, "engine": "spark", "master": sc.master, "num_shards": num_shards, "rows": job.rows,
        "records": sum(s.records for s in stats), "bytes": sum(s.bytes_written for s in stats), "skipped": sum(len(s.skipped) for s in stats),
        "seconds": round(time.perf_counter() - began, 3),
        "shards": [{"shard": i, "rec": s.rec_path, "records": s.records, "bytes": s.bytes_written, "sha256": s.sha256,
                    "attempt": s.attempt} for i, s in enumerate(stats)],
    })
    return stats
