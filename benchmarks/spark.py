"""icformat on Spark vs the local engine on the same cores: Spark's overhead as a ratio.

1. Packing: images/s of ``icformat.spark.pack_lst`` on ``local[1]`` and ``local[2]`` (one task per
   shard, ``--shards-per-core`` shards per core) beside the local packer with as many workers, same
   ImageNet-size JPEGs, ``--resize 256``. The Spark session is started first (untimed: the JVM start
   is a fixed cost of a few seconds to a minute, paid once per job); each figure is the best of
   ``--repeat`` runs after one warm-up run (which starts the Python workers).
2. Validation: seconds to validate a ``.lst`` of ``--lines`` lines on ``local[2]`` beside the local
   ``validate_lst`` (structure checks only: no image root).

    python benchmarks/spark.py                  # 400 images, 2 M-line list: a few minutes on 2 cores
    python benchmarks/spark.py --lines 10000000 # the 10 M-line list of the issue
    python benchmarks/spark.py --quick          # 60 images, 200 k lines: about a minute
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _report import Report, best_of, emit  # noqa: E402

from icformat import samples  # noqa: E402
from icformat.im2rec import PackOptions  # noqa: E402
from icformat.im2rec import pack_lst as pack_locally  # noqa: E402
from icformat.lst.make import make_lst  # noqa: E402
from icformat.lst.validate import validate_lst as validate_locally  # noqa: E402

OPTIONS = PackOptions(resize=256)


def session(cores: int):
    from icformat.spark import get_session

    return get_session(f"local[{cores}]", f"icformat-bench-{cores}", {"spark.ui.enabled": "false"})


def pack_rates(lst: str, root: str, out: str, cores: int, shards: int, repeat: int) -> tuple[float, float, int]:
    """(local images/s, spark images/s, images) with ``cores`` cores for both."""
    from icformat.spark import pack_lst

    local_s, report = best_of(lambda: pack_locally(lst, root, os.path.join(out, "local"), options=OPTIONS, num_workers=cores),
                              repeat=repeat)
    spark = session(cores)
    try:
        spark_s, reports = best_of(lambda: pack_lst(spark, lst, root, os.path.join(out, "spark"), shards, options=OPTIONS),
                                   repeat=repeat)
    finally:
        spark.stop()
    images = report.written
    if sum(r.written for r in reports) != images:
        raise SystemExit(f"spark wrote {sum(r.written for r in reports)} records, the local packer {images}")
    return images / local_s, images / spark_s, images


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
        validate_lst(spark, path)  # warm-up: Python workers started
        began = time.perf_counter()
        ours = validate_lst(spark, path)
        spark_s = time.perf_counter() - began
    finally:
        spark.stop()
    if ours.to_dict() != local.to_dict():
        raise SystemExit("spark and local validation reports differ")
    return local_s, spark_s


def run(count: int, lines: int, repeat: int, shards_per_core: int, work: str) -> list[Report]:
    root = os.path.join(work, f"corpus-{count}")
    samples.imagenet_like_corpus(root, count)
    scratch = tempfile.mkdtemp(prefix="run-", dir=work)
    try:
        lst = next(iter(make_lst(os.path.join(scratch, "data"), root, recursive=True, write_classes=False).files))
        pack = Report(f"spark im2rec images/s: {count} ImageNet-size JPEGs, --resize 256, same cores as the local packer")
        for cores in (1, 2):
            local_rate, spark_rate, images = pack_rates(lst, root, scratch, cores, shards_per_core * cores, repeat)
            pack.add(f"local[{cores}], {shards_per_core * cores} shards", spark_rate, "img/s", f"local packer, {cores} workers",
                     local_rate, target=">= 0.8x")
        big = os.path.join(scratch, "big.lst")
        write_big_lst(big, lines)
        local_s, spark_s = validate_seconds(big, 2)
        check = Report(f"spark lst validate: {lines:,}-line .lst ({os.path.getsize(big) / 1e6:,.0f} MB), structure checks (s; lower is better)")
        check.add("local[2]", spark_s, "s", "local validate_lst, 1 core", local_s, higher_is_better=False)
        return [pack, check]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 images, 200,000 lines, one run each")
    parser.add_argument("--count", type=int, default=400, help="images in the corpus (default 400)")
    parser.add_argument("--lines", type=int, default=2_000_000, help="lines of the list to validate (default 2,000,000)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per figure; the best is kept")
    parser.add_argument("--shards-per-core", type=int, default=2, help="shards (tasks) per core (default 2)")
    parser.add_argument("--work", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".bench", "spark"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    count, lines, repeat = (60, 200_000, 1) if args.quick else (args.count, args.lines, args.repeat)
    os.makedirs(args.work, exist_ok=True)
    emit(run(count, lines, repeat, args.shards_per_core, args.work), args.json)


if __name__ == "__main__":
    main()
