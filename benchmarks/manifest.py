#!/usr/bin/env python3
"""Augmented manifests: manifest -> .rec and pipe-stream throughput, local and from a local S3 server,
and validation of a 1,000,000-line Ground Truth-style manifest (target: under 10 s).

Each figure sits beside its anchor from the same run:
- manifest -> .rec: a plain sequential loop (json.loads, read the image, mxnet.recordio.pack +
  MXIndexedRecordIO.write_idx, so a .idx too; icformat's pack/RecordWriter where mxnet is absent).
  Both write into the same folder; ours and the anchor run alternately (best of each), and before
  every run (untimed) both outputs are removed, so that each writes a new file. The "overwriting"
  rows keep the last run's output instead: the anchor then truncates it in place, while we write a
  temporary file and rename it over the old one (atomic), which ext4 (auto_da_alloc) answers by
  starting the writeback of the new file inside rename() (about 25 ms for the 44 MB .rec here,
  against about 10 ms for the anchor's truncation): a file-system cost, not the converter's, and
  one that varies with the writeback still pending from earlier runs;
- pipe stream (images/s): the same plain loop writing the stream with mxnet.recordio.MXRecordIO
  (image record, label record); both streams go to /dev/null through a file (ours: open(os.devnull));
  (MB/s): reading the images' bytes one after another, nothing written (the ceiling);
- validation: json.loads over every line (parsing alone, no checks).
The S3 figures use moto's server on 127.0.0.1 in its own process (icformat/benchmarks/s3server.py), so they
measure the client side and that (slow, Python) server, not a network.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from icformat.benchmarks._report import Report, best_of, emit, work_dir  # noqa: E402

from icformat import samples  # noqa: E402
from icformat.convert import manifest_to_rec  # noqa: E402
from icformat.manifest import validate_manifest, write_manifest  # noqa: E402
from icformat.pipe import write_pipe_stream  # noqa: E402
from icformat.recordio import IRHeader, RecordWriter, pack  # noqa: E402

NAMES = "source-ref,class"


def has_mxnet() -> bool:
    try:
        import mxnet  # noqa: F401
    except Exception:
        return False
    return True


# corpora ------------------------------------------------------------------------------------------
def image_corpus(work: str, count: int) -> tuple[str, list[str], int]:
    root = os.path.join(work, "images")
    paths = samples.imagenet_like_corpus(root, count, classes=10, seed=0)
    size = sum(os.path.getsize(os.path.join(root, p)) for p in paths)
    return root, paths, size


def local_manifest(work: str, root: str, paths: list[str]) -> str:
    path = os.path.join(work, f"local-{len(paths)}.manifest")
    write_manifest(path, ({"source-ref": os.path.join(root, p), "class": p.split("/")[0].split("_")[1]} for p in paths))
    return path


def s3_manifest(work: str, root: str, paths: list[str]) -> str:
    """Upload the corpus to a bucket of the local S3 server; returns the manifest's s3:// URI."""
    from icformat.benchmarks.s3server import make_bucket, start_server_process, use_server

    use_server(start_server_process()[0])
    bucket = make_bucket()
    import boto3

    client = boto3.session.Session().client("s3")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: client.upload_file(os.path.join(root, p), bucket, f"train/{p}"), paths))
    uri = f"s3://{bucket}/train.manifest"
    write_manifest(uri, ({"source-ref": f"s3://{bucket}/train/{p}", "class": p.split("/")[0].split("_")[1]} for p in paths))
    return uri


def big_manifest(work: str, lines: int) -> str:
    """A Ground Truth-style single-label manifest with metadata, ``lines`` long (cached)."""
    path = os.path.join(work, f"gt-{lines}.manifest")
    if os.path.exists(path):
        return path
    rng = random.Random(0)
    tail = ', "class-metadata": {"class-name": "c%d", "job-name": "labeling-job/bench", "confidence": 0.%02d, "type": "groundtruth/image-classification", "human-annotated": "yes", "creation-date": "2020-01-01T00:00:00.000000"}}\n'
    with open(path + ".tmp", "w") as f:
        for i in range(lines):
            c = rng.randrange(10)
            f.write(f'{{"source-ref": "s3://my-bucket/train/class_{c}/img_{i:07d}.jpg", "class": "{c}"' + tail % (c, rng.randrange(100)))
    os.replace(path + ".tmp", path)
    return path


# anchors ------------------------------------------------------------------------------------------
def naive_manifest_to_rec(manifest: str, dest: str, read) -> int:
    """What a user would write by hand: sequential, one image after another."""
    from icformat.io.streams import open_input

    if has_mxnet():
        import mxnet as mx

        writer = mx.recordio.MXIndexedRecordIO(dest[:-4] + ".idx", dest, "w")
        pack_ = mx.recordio.pack
        header = mx.recordio.IRHeader
        write = writer.write_idx
    else:
        writer = RecordWriter(dest, index=True)
        pack_, header = pack, IRHeader

        def write(key, payload):
            writer.write(payload, key)

    count = 0
    with open_input(manifest, "rb") as f:
        for i, line in enumerate(f):
            record = json.loads(line)
            write(i, pack_(header(0, float(record["class"]), i, 0), read(record["source-ref"])))
            count += 1
    writer.close()
    return count


def naive_pipe_stream(manifest: str, read) -> int:
    """The stream written by hand: sequential, one record per attribute, to /dev/null."""
    from icformat.io.streams import open_input

    if has_mxnet():
        import mxnet as mx

        writer = mx.recordio.MXRecordIO(os.devnull, "w")
        write = writer.write
        sink = None
    else:
        sink = open(os.devnull, "wb")
        writer = RecordWriter(sink)
        write = writer.write
    count = 0
    with open_input(manifest, "rb") as f:
        for line in f:
            record = json.loads(line)
            write(read(record["source-ref"]))
            write(str(record["class"]).encode())
            count += 1
    writer.close()
    if sink is not None:
        sink.close()
    return count


def our_pipe_stream(manifest: str, workers) -> int:
    """icformat's pipe-mode stream of ``manifest`` to /dev/null."""
    with open(os.devnull, "wb") as sink:
        return write_pipe_stream(sink, manifest, NAMES, workers=workers).rows


def read_local(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def s3_reader():
    import boto3

    client = boto3.session.Session().client("s3")

    def read(uri: str) -> bytes:
        bucket, _, key = uri[len("s3://"):].partition("/")
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    return read


def read_all(manifest: str, read) -> int:
    from icformat.io.streams import open_input

    total = 0
    with open_input(manifest, "rb") as f:
        for line in f:
            total += len(read(json.loads(line)["source-ref"]))
    return total


def json_loads_all(path: str) -> int:
    count = 0
    loads = json.loads
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            count += 1
    return count


# runs ---------------------------------------------------------------------------------------------
def best_alternating(ours, anchor, repeat: int, warmup: int = 1, before=None) -> tuple[float, float]:
    """Best seconds of ``ours`` and of ``anchor``, run one after the other ``repeat`` times (after
    ``warmup`` untimed rounds), so that both meet the same machine; ``before()`` runs untimed
    before every run."""
    best = [float("inf"), float("inf")]
    for round_ in range(warmup + repeat):
        for i, fn in enumerate((ours, anchor)):
            if before is not None:
                before()
            start = time.perf_counter()
            fn()
            if round_ >= warmup:
                best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


def remover(*recs: str):
    """Removes the .rec files and their .idx (so that the next run writes new files)."""

    def remove() -> None:
        for rec in recs:
            for path in (rec, rec[:-4] + ".idx"):
                if os.path.exists(path):
                    os.unlink(path)

    return remove


def bench_sources(report: Report, work: str, manifest: str, where: str, count: int, size: int, read, repeat: int, workers, warmup: int = 1) -> None:
    mb = size / 1e6
    rec, naive_rec = os.path.join(work, f"out-{where}.rec"), os.path.join(work, f"naive-{where}.rec")
    anchor = "mxnet loop" if has_mxnet() else "plain loop"

    def ours() -> None:
        manifest_to_rec(manifest, rec, attribute_names=NAMES, workers=workers)

    def theirs() -> None:
        naive_manifest_to_rec(manifest, naive_rec, read)

    t_ours, t_naive = best_alternating(ours, theirs, repeat, warmup, before=remover(rec, naive_rec))
    report.add(f"manifest->rec, {where} (images/s)", count / t_ours, "img/s", f"{anchor} img/s", count / t_naive, target=">= 1.0x")
    report.add(f"manifest->rec, {where} (MB/s)", mb / t_ours, "MB/s", f"{anchor} MB/s", mb / t_naive)
    if not where.startswith("local S3"):  # the file-system cost of replacing an output (see the docstring)
        t_ours, t_naive = best_alternating(ours, theirs, repeat, warmup)
        report.add(f"manifest->rec, {where}, overwriting (img/s)", count / t_ours, "img/s", f"{anchor} img/s", count / t_naive)
    t_pipe, t_naive_pipe = best_alternating(lambda: our_pipe_stream(manifest, workers), lambda: naive_pipe_stream(manifest, read), repeat, warmup)
    timed = dict(repeat=repeat, warmup=warmup)
    t_read, _ = best_of(lambda: read_all(manifest, read), **timed)
    report.add(f"pipe stream, {where} (images/s)", count / t_pipe, "img/s", f"{anchor} img/s", count / t_naive_pipe, target=">= 1.0x")
    report.add(f"pipe stream, {where} (MB/s)", mb / t_pipe, "MB/s", "read only, no stream MB/s", mb / t_read)


def bench_validation(report: Report, work: str, lines: int) -> None:
    path = big_manifest(work, lines)
    t_validate, problems = best_of(lambda: validate_manifest(path, NAMES, num_classes=10), repeat=1, warmup=0)
    if problems:
        raise SystemExit(f"unexpected problems: {problems[:3]}")
    t_json, _ = best_of(lambda: json_loads_all(path), repeat=1, warmup=0)
    target = "< 10 s" if lines >= 1_000_000 else None
    report.add(f"validate {lines:,} lines (s)", t_validate, "s", "json.loads only s", t_json, higher_is_better=False, target=target)
    report.add(f"validate {lines:,} lines (lines/s)", lines / t_validate, "l/s", "json.loads only l/s", lines / t_json)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 images (30 on S3), 30,000 lines, 2 runs of each local figure")
    parser.add_argument("--count", type=int, default=1000, help="images in the corpus (default 1000)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the manifest to validate")
    parser.add_argument("--workers", type=int, default=None, help="parallel fetches (default: icformat's choice, 16 for s3://, 1 for local files)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per local figure (ours and the anchor alternately); the best is kept")
    parser.add_argument("--s3-count", type=int, default=300, help="images served by the local S3 server (default 300; one warm-up and one timed run each)")
    parser.add_argument("--no-s3", action="store_true", help="skip the local S3 server figures")
    parser.add_argument("--work", default=work_dir("manifest"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.count, args.s3_count, args.lines, args.repeat = 60, 30, 30_000, 2
    os.makedirs(args.work, exist_ok=True)
    root, paths, size = image_corpus(args.work, args.count)
    report = Report(f"manifest -> rec and pipe stream: {len(paths)} ImageNet-size JPEGs ({size / 1e6:.0f} MB), fetch threads: {args.workers or 'auto'}")
    bench_sources(report, args.work, local_manifest(args.work, root, paths), "local", len(paths), size, read_local, args.repeat, args.workers)
    if not args.no_s3:
        subset = paths[: args.s3_count]
        subset_size = sum(os.path.getsize(os.path.join(root, p)) for p in subset)
        started = time.perf_counter()
        uri = s3_manifest(args.work, root, subset)
        print(f"(uploaded {len(subset)} images to the local S3 server in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
        bench_sources(report, args.work, uri, f"local S3 server, {len(subset)} img", len(subset), subset_size, s3_reader(), 1, args.workers)
    validation = Report("manifest validation (Ground Truth-style lines with metadata)")
    bench_validation(validation, args.work, args.lines)
    emit([report, validation], args.json)


if __name__ == "__main__":
    main()
