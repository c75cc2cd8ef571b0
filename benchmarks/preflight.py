#!/usr/bin/env python3
"""icformat preflight: a whole job checked, without --check-images, with a 1,000,000-record .rec
training channel, and with a 1,000,000-line augmented manifest (target: under 30 s each on 2 cores).

Each figure sits beside its anchor from the same run:
- .rec channel: ``rec verify`` over the same file (framing and image headers only, nothing gathered);
- manifest channel: json.loads over every line (parsing alone, no checks).
Each is given in wall seconds (the target) and in CPU seconds (on a shared machine the wall time
measures the neighbours too). Preflight does more than either anchor (labels, image sizes from the image headers, digests for
duplicates, the trainer's hyperparameter and dataset checks), so a ratio below 1 is expected.
"""
from __future__ import annotations

import argparse
import os
import random
import time

from icformat.benchmarks._report import Report, emit, work_dir  # noqa: E402
from icformat.benchmarks.manifest import json_loads_all  # noqa: E402  (the same json.loads anchor as benchmarks/manifest.py)

from icformat import samples  # noqa: E402
from icformat.preflight import job_from_channels, preflight  # noqa: E402
from icformat.recordio import IRHeader, RecordWriter, pack  # noqa: E402
from icformat.recordio.verify import verify_rec  # noqa: E402

CLASSES = 10
DISTINCT = 500  # distinct real JPEGs cycled through the corpus


def small_jpegs(count: int, seed: int) -> list[bytes]:
    import numpy as np
    import simplejpeg

    return [simplejpeg.encode_jpeg(np.ascontiguousarray(a), quality=85, colorspace="RGB")
            for _, a in samples.iter_variants(count, seed=seed, size=(40, 36))]


def rec_corpus(work: str, name: str, records: int, seed: int) -> str:
    """``records`` image records (real 40x36 JPEGs, labels 0..9), cached in ``work``."""
    path = os.path.join(work, f"{name}-{records}.rec")
    if os.path.exists(path):
        return path
    images = small_jpegs(DISTINCT, seed)
    with RecordWriter(path + ".tmp.rec", index=False) as writer:
        for i in range(records):
            writer.write(pack(IRHeader(0, float(i % CLASSES), i, 0), images[i % len(images)]))
    os.replace(path + ".tmp.rec", path)
    return path


def manifest_corpus(work: str, name: str, lines: int) -> str:
    """A Ground Truth-style single-label manifest with metadata, ``lines`` long (cached)."""
    path = os.path.join(work, f"{name}-{lines}.manifest")
    if os.path.exists(path):
        return path
    rng = random.Random(lines)
    tail = ', "class-metadata": {"class-name": "c%d", "job-name": "labeling-job/bench", "confidence": 0.%02d, "type": "groundtruth/image-classification", "human-annotated": "yes"}}\n'
    with open(path + ".tmp", "w") as f:
        for i in range(lines):
            c = i % CLASSES
            f.write(f'{{"source-ref": "s3://my-bucket/{name}/class_{c}/img_{i:07d}.jpg", "class": "{c}"' + tail % (c, rng.randrange(100)))
    os.replace(path + ".tmp", path)
    return path


def hyperparameters(train_count: int) -> dict:
    return {"num_classes": str(CLASSES), "num_training_samples": str(train_count), "mini_batch_size": "32",
            "image_shape": "3,32,32", "num_layers": "18", "epochs": "1"}


def check(report) -> None:
    if report.exit_code != 0:
        raise SystemExit("unexpected preflight problems:\n" + "\n".join(str(f) for f in report.findings[:5]))


def timed(fn) -> tuple[float, float, object]:
    """Wall and CPU seconds of one call (this process; preflight without --check-images uses no other),
    after one untimed warm-up run (page cache)."""
    fn()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def add(report: Report, what: str, anchor: str, ours: tuple, theirs: tuple, big: bool) -> None:
    """Wall seconds (the target), and CPU seconds: on a shared machine the wall time measures the
    neighbours too, the CPU time what a quiet machine would take."""
    report.add(f"{what} (s)", ours[0], "s", f"{anchor} s", theirs[0], higher_is_better=False, target="< 30 s" if big else None)
    report.add(f"{what} (CPU s)", ours[1], "s", f"{anchor} CPU s", theirs[1], higher_is_better=False)


def bench_rec(report: Report, work: str, records: int) -> None:
    train = rec_corpus(work, "train", records, seed=1)
    validation = rec_corpus(work, "validation", max(1000, records // 20), seed=2)
    job = job_from_channels(hyperparameters(records), [f"train={train}", f"validation={validation}"])
    anchor = timed(lambda: verify_rec(train, index=False))
    ours = timed(lambda: preflight(job))
    check(ours[2])
    add(report, f"preflight, {records:,}-record .rec job", "rec verify, same .rec", ours, anchor, records >= 1_000_000)


def bench_manifest(report: Report, work: str, lines: int) -> None:
    train = manifest_corpus(work, "train", lines)
    validation = manifest_corpus(work, "validation", max(1000, lines // 20))
    job = job_from_channels(hyperparameters(lines), [f"train={train}", f"validation={validation}"],
                            input_mode="Pipe", attribute_names=["source-ref", "class"])
    anchor = timed(lambda: json_loads_all(train))
    ours = timed(lambda: preflight(job))
    check(ours[2])
    add(report, f"preflight, {lines:,}-line manifest job", "json.loads only", ours, anchor, lines >= 1_000_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 records and lines")
    parser.add_argument("--records", type=int, default=1_000_000, help="records of the training .rec")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the training manifest")
    parser.add_argument("--work", default=work_dir("preflight"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.records = args.lines = 20_000
    os.makedirs(args.work, exist_ok=True)
    report = Report("preflight: a whole job, no image decode")
    bench_rec(report, args.work, args.records)
    bench_manifest(report, args.work, args.lines)
    emit([report], args.json)


if __name__ == "__main__":
    main()
