"""icformat on Spark vs the local engine on the same cores: Spark's overhead as a ratio.

1. Packing: images/s of ``icformat.spark.pack_lst`` on ``local[1]`` and ``local[2]`` (one task per
   shard, ``--shards-per-core`` shards per core) beside the local packer with as many workers, same
   ImageNet-size JPEGs, ``--resize 256``. The Spark session is started first (untimed: the JVM start
   is a fixed cost of a few seconds to a minute, paid once per job); each figure is the best of
   ``--repeat`` runs after one warm-up round (which starts the Python workers); runs alternate.
2. Validation: seconds to validate a ``.lst`` of ``--lines`` lines on ``local[2]`` beside the local
   ``validate_lst`` (structure checks only: no image root).

    python benchmarks/spark.py                  # 3,000 images, 1 M-line list: about 3 minutes on 2 cores
    python benchmarks/spark.py --lines 10000000 # the 10 M-line list of the issue
    python benchmarks/spark.py --quick          # 60 images on local[2], 50 k lines, no target: a smoke run
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from icformat.benchmarks._report import Report, emit, work_dir  # noqa: E402

from icformat import samples  # noqa: E402
from icformat.im2rec import PackOptions  # noqa: E402
from icformat.im2rec import pack_lst as pack_locally  # noqa: E402
from icformat.lst.make import make_lst  # noqa: E402
from icformat.lst.validate import validate_lst as validate_locally  # noqa: E402

OPTIONS = PackOptions(resize=256)


def session(cores: int):
    from icformat.spark import get_session

    return get_session(f"local[{cores}]", f"icformat-bench-{cores}", {"spark.ui.enabled": "false"})


def tree_cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds used by a process and all its descendants (the JVM and Spark's Python workers
    included; finished children count through their parents), from /proc."""
    pid = pid or os.getpid()
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        used[int(entry)] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += used.get(current, 0.0)
        todo += children.get(current, [])
    return total


def _timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of the whole process tree, result)."""
    cpu, wall = tree_cpu_seconds(), time.perf_counter()
    result = fn()
    return time.perf_counter() - wall, tree_cpu_seconds() - cpu, result


def pack_rates(lst: str, root: str, out: str, cores: int, shards: int, repeat: int) -> tuple:
    """((local img/s, local CPU s/img), (spark img/s, spark CPU s/img), images) with ``cores``
    cores for both: runs alternate (the machine's load changes), after one warm-up round (page
    cache, Spark's Python workers); the best of ``repeat`` is kept."""
    from icformat.spark import pack_lst

    spark = session(cores)
    local_runs, spark_runs = [], []
    try:
        for attempt in range(repeat + 1):
            local = _timed(lambda: pack_locally(lst, root, os.path.join(out, "local"), options=OPTIONS, num_workers=cores))
            ours = _timed(lambda: pack_lst(spark, lst, root, os.path.join(out, "spark"), shards, options=OPTIONS))
            if attempt:
                local_runs.append(local)
                spark_runs.append(ours)
    finally:
        spark.stop()
    images = local[2].written
    if sum(r.written for r in ours[2]) != images:
        raise SystemExit(f"spark wrote {sum(r.written for r in ours[2])} records, the local packer {images}")
    best = lambda runs: (images / min(r[0] for r in runs), min(r[1] for r in runs) / images)  # noqa: E731
    return best(local_runs), best(spark_runs), images


def write_big_lst(path: str, lines: int) -> None:
    """A clean single-label list of ``lines`` rows, written in blocks."""
    block = 1_000_000
    with open(path, "w") as f:
        for start in range(0, lines, block):
            stop = min(lines, start + block)
            f.write("".join(f"{i}\t{i % 1000}\tclass_{i % 1000:04d}/img_{i:09d}.jpg\n" for i in range(start, stop)))


def validate_seconds(path: str, cores: int) -> tuple[float, float]:
    """(local seconds, spark seconds) to validate ``path``; both find no problem."""
    from icformat.spark import validate_lst

    began = time.perf_counter()
    local = validate_locally(path)
    local_s = time.perf_counter() - began
    spark = session(cores)
    try:
        with open(path, "rb") as f, open(path + ".head", "wb") as head:
            head.writelines(line for _, line in zip(range(100_000), f))
        validate_lst(spark, path + ".head")  # warm-up: Python workers started
        began = time.perf_counter()
        ours = validate_lst(spark, path)
        spark_s = time.perf_counter() - began
    finally:
        spark.stop()
    if ours.to_dict() != local.to_dict():
        raise SystemExit("spark and local validation reports differ")
    return local_s, spark_s


def run(count: int, lines: int, repeat: int, shards_per_core: int, work: str, only: str | None = None, quick: bool = False) -> list[Report]:
    scratch = tempfile.mkdtemp(prefix="run-", dir=work)
    try:
        reports = [] if only == "validate" else pack_reports(count, repeat, shards_per_core, work, scratch, quick)
        return reports + ([] if only == "pack" else [validate_report(lines, scratch)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def pack_reports(count: int, repeat: int, shards_per_core: int, work: str, scratch: str, quick: bool = False) -> list[Report]:
    root = os.path.join(work, f"corpus-{count}")
    samples.imagenet_like_corpus(root, count)
    lst = next(iter(make_lst(os.path.join(scratch, "data"), root, recursive=True, write_classes=False).files))
    pack = Report(f"spark im2rec images/s: {count} ImageNet-size JPEGs, --resize 256, same cores as the local packer")
    cost = Report("spark im2rec CPU per image, every process (JVM and Python workers included; ms, lower is better)")
    for cores in (2,) if quick else (1, 2):
        (local_rate, local_cpu), (spark_rate, spark_cpu), images = pack_rates(lst, root, scratch, cores, shards_per_core * cores, repeat)
        name = f"local[{cores}], {shards_per_core * cores} shards"
        # a smoke run is too short for the target: Spark's fixed cost per job (about a second) dominates
        pack.add(name, spark_rate, "img/s", f"local packer, {cores} workers", local_rate, target=None if quick else ">= 0.8x")
        cost.add(name, 1000 * spark_cpu, "ms", f"local packer, {cores} workers", 1000 * local_cpu, higher_is_better=False)
    return [pack, cost]


def validate_report(lines: int, scratch: str) -> Report:
    big = os.path.join(scratch, "big.lst")
    write_big_lst(big, lines)
    local_s, spark_s = validate_seconds(big, 2)
    check = Report(f"spark lst validate: {lines:,}-line .lst ({os.path.getsize(big) / 1e6:,.0f} MB), structure checks (s; lower is better)")
    check.add("local[2]", spark_s, "s", "local validate_lst, 1 core", local_s, higher_is_better=False)
    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 images on local[2] only, 50,000 lines, one run each")
    parser.add_argument("--count", type=int, default=3000, help="images in the corpus (default 3000)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the list to validate (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per figure; the best is kept")
    parser.add_argument("--shards-per-core", type=int, default=2, help="shards (tasks) per core (default 2)")
    parser.add_argument("--work", default=work_dir("spark"))
    parser.add_argument("--only", choices=["pack", "validate"], help="run one of the two parts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    count, lines, repeat = (60, 50_000, 1) if args.quick else (args.count, args.lines, args.repeat)
    os.makedirs(args.work, exist_ok=True)
    emit(run(count, lines, repeat, args.shards_per_core, args.work, args.only, args.quick), args.json)


if __name__ == "__main__":
    main()
