#!/usr/bin/env python3
"""RecordIO throughput: icformat vs mxnet.recordio vs the page-cache copy limit, in one run.

Figures: sequential read of image-sized and of 100-byte records (MB/s, records/s), of mixed
50-150-byte records per record and in batches (``RecordReader.iter_batches``: one buffer and
offset arrays per batch, no object per record), write, random indexed read, and index rebuild of
a 1 GB file. Each beside its anchor from the same run.
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile

import numpy as np

from icformat.benchmarks._report import Report, best_of, emit  # noqa: E402

from icformat import samples  # noqa: E402
from icformat.recordio import IndexedRecordFile, IRHeader, RecordReader, RecordWriter, pack, scan_offsets  # noqa: E402


def _jpeg_payloads(count: int) -> list[bytes]:
    import simplejpeg

    out = []
    for i, (_, image) in enumerate(samples.iter_variants(count, seed=3, size=(500, 375))):
        jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=90, colorspace="RGB")
        out.append(pack(IRHeader(0, float(i % 10), i, 0), jpeg))
    return out


def _write_file(path: str, payloads: list[bytes], total_bytes: int) -> int:
    count = 0
    written = 0
    with RecordWriter(path, index=True) as writer:
        while written < total_bytes:
            p = payloads[count % len(payloads)]
            writer.write(p)
            written += len(p) + 8
            count += 1
    return count


def _limit_seconds(path: str) -> float:
    """One readinto of the whole file into a pre-faulted buffer: the page-cache copy bandwidth."""
    size = os.path.getsize(path)
    buf = bytearray(size)
    np.frombuffer(buf, np.uint8)[::4096] = 1  # fault the pages in before timing

    def run():
        with open(path, "rb", buffering=0) as f:
            f.readinto(buf)

    return best_of(run, repeat=3)[0]


def _read_ours(path: str) -> int:
    n = 0
    for _ in RecordReader(path):
        n += 1
    return n


def _read_batches(path: str) -> int:
    n = 0
    with RecordReader(path) as reader:
        for batch in reader.iter_batches():
            n += len(batch)
    return n


def _read_batch_headers(path: str) -> int:
    """Batches with every record's image header decoded (ids summed so the work is used)."""
    n = total = 0
    with RecordReader(path) as reader:
        for batch in reader.iter_batches():
            columns = batch.headers(check=False)
            total += int(columns.id.sum())
            n += len(batch)
    return n


def _read_mxnet(path: str) -> int:
    import mxnet as mx

    reader = mx.recordio.MXRecordIO(path, "r")
    n = 0
    while reader.read() is not None:
        n += 1
    reader.close()
    return n


def bench_sequential(report: Report, path: str, label: str, has_mx: bool, repeat: int) -> float | None:
    """Returns mxnet's read-loop time (None without mxnet)."""
    size_mb = os.path.getsize(path) / 1e6
    t_ours, count = best_of(lambda: _read_ours(path), repeat=repeat)
    t_limit = _limit_seconds(path)
    report.add(f"read {label}: icformat", size_mb / t_ours, "MB/s", "readinto limit", size_mb / t_limit, target=">=0.9x limit" if "image" in label else None)
    if has_mx:
        t_mx, _ = best_of(lambda: _read_mxnet(path), repeat=max(1, repeat - 1))
        target = ">=10x mxnet rec/s" if "100-byte" in label else None
        report.add(f"read {label}: icformat", count / t_ours, "rec/s", "mxnet.recordio", count / t_mx, target=target)
        return t_mx
    return None


def bench_batches(report: Report, path: str, label: str, t_mx: float | None, repeat: int) -> None:
    """The batch API beside mxnet.recordio's read loop (timed in the same run, same file)."""
    if t_mx is None:
        return
    t_batch, count = best_of(lambda: _read_batches(path), repeat=repeat)
    report.add(f"read {label}: iter_batches", count / t_batch, "rec/s", "mxnet.recordio", count / t_mx, target=">=10x mxnet rec/s")
    t_headers, _ = best_of(lambda: _read_batch_headers(path), repeat=repeat)
    report.add(f"read {label}: batches+headers", count / t_headers, "rec/s", "mxnet.recordio", count / t_mx)


def bench_write(report: Report, tmp: str, payloads: list[bytes], label: str, total: int, has_mx: bool) -> None:
    size_mb = total / 1e6
    path = os.path.join(tmp, "w.rec")

    def ours():
        _write_file(path, payloads, total)

    t_ours, _ = best_of(ours, repeat=2)
    if has_mx:
        import mxnet as mx

        def theirs():
            w = mx.recordio.MXIndexedRecordIO(path + ".idx", path, "w")
            written = i = 0
            while written < total:
                p = payloads[i % len(payloads)]
                w.write_idx(i, p)
                written += len(p) + 8
                i += 1
            w.close()

        t_mx, _ = best_of(theirs, repeat=2)
        report.add(f"write {label} (+.idx): icformat", size_mb / t_ours, "MB/s", "mxnet.recordio", size_mb / t_mx)
    os.remove(path)


def bench_random(report: Report, path: str, reads: int, has_mx: bool) -> None:
    with IndexedRecordFile(path) as f:
        order = list(range(len(f)))
        random.Random(0).shuffle(order)
        order = order[:reads]
        keys = [f.keys[i] for i in order]

        def ours():
            for k in keys:
                f[k]

        t_ours, _ = best_of(ours, repeat=3)
    if has_mx:
        import mxnet as mx

        r = mx.recordio.MXIndexedRecordIO(os.path.splitext(path)[0] + ".idx", path, "r")

        def theirs():
            for k in keys:
                r.read_idx(k)

        t_mx, _ = best_of(theirs, repeat=3)
        r.close()
        report.add("random indexed read: icformat", len(keys) / t_ours, "rec/s", "mxnet.recordio", len(keys) / t_mx)


def bench_index(report: Report, path: str) -> None:
    size_gb = os.path.getsize(path) / 1e9
    t_ours, (keys, _) = best_of(lambda: scan_offsets(path, key="position"), repeat=3)
    report.add(
        f"index rebuild, {size_gb:.2f} GB file in page cache",
        t_ours / size_gb,
        "s/GB",
        "target",
        0.5,
        higher_is_better=False,
        target="< 0.5 s/GB",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small files: a smoke run of a few seconds")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    try:
        import mxnet  # noqa: F401

        has_mx = True
    except ImportError:
        has_mx = False
    big_bytes = (32 << 20) if args.quick else (1 << 30)
    small_count = 40_000 if args.quick else 1_000_000
    repeat = 2 if args.quick else 3
    report = Report("RecordIO (icformat vs mxnet.recordio vs page-cache limit)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        images = _jpeg_payloads(50 if args.quick else 200)
        big = os.path.join(tmp, "images.rec")
        _write_file(big, images, big_bytes)
        bench_sequential(report, big, f"image records ~{np.mean([len(p) for p in images]) / 1e3:.0f} KB", has_mx, repeat)
        bench_index(report, big)
        bench_random(report, big, 1000 if args.quick else 20000, has_mx)
        small = os.path.join(tmp, "small.rec")
        rng = np.random.default_rng(0)
        small_payloads = [rng.bytes(100) for _ in range(1000)]
        _write_file(small, small_payloads, small_count * 108)
        bench_sequential(report, small, "100-byte records", has_mx, repeat)
        mixed = os.path.join(tmp, "mixed.rec")
        mixed_payloads = [rng.bytes(int(n)) for n in rng.integers(50, 151, 1000)]
        _write_file(mixed, [pack(IRHeader(0, float(i % 10), i, 0), p[24:]) for i, p in enumerate(mixed_payloads)], small_count * 108)
        t_mx = bench_sequential(report, mixed, "50-150-byte records", has_mx, repeat)
        bench_batches(report, mixed, "50-150-byte records", t_mx, repeat)
        bench_write(report, tmp, images, "image records", (16 << 20) if args.quick else (256 << 20), has_mx)
        bench_write(report, tmp, small_payloads, "100-byte records", small_count * 108 // 4, has_mx)
    emit([report], args.json)


if __name__ == "__main__":
    main()
