#!/usr/bin/env python3
"""icformat report on a .rec of distinct real JPEGs (shorter side 256, as `im2rec --resize 256`
writes them; target: a 100,000-image .rec in about a minute on 2 cores, a page of a few MB).

Anchor from the same run: ``rec verify --decode`` over the same file (every image judged, i.e. fully
decoded once). The report decodes every image too (at a reduced DCT scale), hashes it and samples
thumbnails, so a ratio near 1 means the report costs about one decoding pass. Peak memory (RSS of the
``icformat report`` process) is measured at two sizes: flat means it does not grow with the images.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from icformat.benchmarks._report import PACKAGE_ROOT, Report, emit, work_dir  # noqa: E402

from icformat import samples  # noqa: E402
from icformat.recordio.header import IRHeader, pack  # noqa: E402
from icformat.recordio.verify import verify_rec  # noqa: E402
from icformat.recordio.writer import RecordWriter  # noqa: E402

CLASSES = 10


def rec_corpus(work: str, records: int) -> str:
    """``records`` distinct JPEGs (crops of the real sample photos, 341x256, quality 90), cached."""
    import numpy as np
    import simplejpeg

    path = os.path.join(work, f"report-{records}.rec")
    if not os.path.exists(path):
        with RecordWriter(path + ".tmp.rec", index=True) as writer:
            for i, (_, array) in enumerate(samples.iter_variants(records, seed=7, size=(341, 256))):
                data = simplejpeg.encode_jpeg(np.ascontiguousarray(array), quality=90, colorspace="RGB")
                writer.write(pack(IRHeader(0, float(i % CLASSES), i, 0), data), key=i)
        os.replace(path + ".tmp.rec", path)
        os.replace(path + ".tmp.idx", os.path.splitext(path)[0] + ".idx")
    return path


# the report process reports its own peak RSS; started from a small shell, since a process forked from
# this one would count this one's memory at the fork in its peak
_SELF_PEAK = ("import resource, runpy, sys\nsys.argv = ['icformat'] + sys.argv[1:]\ntry:\n"
              "    runpy.run_module('icformat', run_name='__main__')\nfinally:\n"
              "    print('peak-rss-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")


def run_report(rec: str, out: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of `icformat report REC` in its own process."""
    start = time.perf_counter()
    child = subprocess.Popen(["/bin/sh", "-c", '"$0" "$@" & wait $!', sys.executable, "-c", _SELF_PEAK, "report", rec,
                              "-o", out], cwd=PACKAGE_ROOT, stderr=subprocess.PIPE, text=True)
    _, stderr = child.communicate()
    wall = time.perf_counter() - start
    if child.returncode:
        raise SystemExit(f"icformat report failed (exit {child.returncode}): {stderr.strip()}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # cumulative: the caller takes differences
    peak = next(int(line.split()[1]) for line in stderr.splitlines() if line.startswith("peak-rss-kb"))
    return wall, usage.ru_utime + usage.ru_stime, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 images (and 2,500 for the memory check)")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--work", default=work_dir("report"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.records = 5_000
    os.makedirs(args.work, exist_ok=True)
    report = Report("report: one HTML page about a .rec")
    small, big = rec_corpus(args.work, args.records // 2), rec_corpus(args.work, args.records)
    start, cpu = time.perf_counter(), time.process_time()
    verify_rec(big, decode=True)
    anchor = time.perf_counter() - start, time.process_time() - cpu
    out = os.path.join(args.work, "report.html")
    _, cpu_before, small_rss = run_report(small, out)
    wall, cpu_after, big_rss = run_report(big, out)
    cpu_s = cpu_after - cpu_before
    size_mb = os.path.getsize(out) / 1e6
    target = "about 60 s" if args.records >= 100_000 else None
    report.add(f"report, {args.records:,}-image .rec (s)", wall, "s", "rec verify --decode s", anchor[0],
               higher_is_better=False, target=target)
    report.add(f"report, {args.records:,}-image .rec (CPU s)", cpu_s, "s", "rec verify --decode CPU s", anchor[1],
               higher_is_better=False)
    report.add(f"peak RSS, {args.records:,} images (MB)", big_rss, "MB", f"at {args.records // 2:,} images MB", small_rss,
               higher_is_better=False)
    report.add("page size (MB)", size_mb, "MB", "n/a", 0, target="a few MB")
    emit([report], args.json)


if __name__ == "__main__":
    main()
