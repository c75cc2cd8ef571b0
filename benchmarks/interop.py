"""Leaving RecordIO: rec2wds, rec2parquet and the ways back on ImageNet-like JPEG records (about
500x375, quality 90), each beside two anchors measured in the same run:

- a plain copy of the same bytes (the .rec read and written in 8 MiB chunks: the work is I/O; aim
  >= 0.8 of it), in the same rounds (each job after an os.sync, best of the rounds);
- the script a user would otherwise write: every image decoded and re-encoded with Pillow
  (quality 95) into a tar (for WebDataset) or a Parquet file.

    python benchmarks/interop.py            # 3,000 records
    python benchmarks/interop.py --quick    # 600 records, one run each
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import tarfile
import tempfile
import time

from icformat.benchmarks._report import Report, best_of, emit, work_dir  # noqa: E402

from icformat.interop.parquet import parquet_to_rec, rec_to_parquet  # noqa: E402
from icformat.interop.wds import rec_to_wds, wds_to_rec  # noqa: E402
from icformat.recordio.header import header_bytes, split_record  # noqa: E402
from icformat.recordio.reader import RecordReader  # noqa: E402
from icformat.recordio.writer import RecordWriter  # noqa: E402
from icformat.samples import imagenet_like_corpus  # noqa: E402

CHUNK = 8 << 20


def make_rec(work: str, count: int) -> str:
    """A .rec + .idx of ``count`` ImageNet-like JPEGs (made once per size)."""
    rec = os.path.join(work, f"corpus-{count}.rec")
    if not os.path.exists(rec):
        root = os.path.join(work, "jpegs")
        paths = imagenet_like_corpus(root, count)
        with RecordWriter(rec + ".tmp", index=os.path.join(work, f"corpus-{count}.idx")) as writer:
            for i, rel in enumerate(paths[:count]):
                with open(os.path.join(root, rel), "rb") as f:
                    writer.write(header_bytes(float(i % 10), i) + f.read(), key=i)
        os.replace(rec + ".tmp", rec)
    return rec


def plain_copy(src: str, dest: str) -> None:
    """The anchor: the same bytes read and written in 8 MiB chunks."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        for chunk in iter(lambda: fin.read(CHUNK), b""):
            fout.write(chunk)


def reencode_to_tar(rec: str, dest: str) -> None:
    """The user's script: decode each record's image, re-encode it, add it to a tar with its label."""
    from PIL import Image

    with tarfile.open(dest, "w") as tar:
        for payload in RecordReader(rec):
            record = split_record(payload)
            out = io.BytesIO()
            Image.open(io.BytesIO(bytes(record.image))).convert("RGB").save(out, "JPEG", quality=95)
            for name, data in ((f"{record.id}.jpg", out.getvalue()), (f"{record.id}.cls", str(int(record.labels[0])).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def reencode_to_parquet(rec: str, dest: str) -> None:
    """The user's script for Parquet: decode, re-encode, one table written at the end."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    images, labels = [], []
    for payload in RecordReader(rec):
        record = split_record(payload)
        out = io.BytesIO()
        Image.open(io.BytesIO(bytes(record.image))).convert("RGB").save(out, "JPEG", quality=95)
        images.append({"bytes": out.getvalue(), "path": None})
        labels.append(int(record.labels[0]))
    pq.write_table(pa.table({"image": images, "label": labels}), dest)


def run(count: int, repeat: int, work: str) -> list[Report]:
    os.makedirs(work, exist_ok=True)
    rec = make_rec(work, count)
    megabytes = os.path.getsize(rec) / 1e6
    out = tempfile.mkdtemp(prefix="run-", dir=work)
    try:
        def fresh(name: str) -> str:
            path = os.path.join(out, name)
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)
            return path

        jobs = {
            "copy": lambda: plain_copy(rec, os.path.join(fresh("copy"), "c.rec")),
            "rec2wds": lambda: rec_to_wds(rec, os.path.join(fresh("wds"), "w")),
            "wds2rec": lambda: wds_to_rec(os.path.join(out, "wds", "w"), os.path.join(fresh("bw"), "b.rec")),
            "rec2parquet": lambda: rec_to_parquet(rec, os.path.join(fresh("pq"), "p")),
            "parquet2rec": lambda: parquet_to_rec(os.path.join(out, "pq", "p"), os.path.join(fresh("bp"), "b.rec")),
        }
        best = dict.fromkeys(jobs, float("inf"))
        for _ in range(repeat + 1):  # rounds of every job, interleaved; the first round warms up
            for name, job in jobs.items():
                os.sync()  # the last job's dirty pages are not this one's writeback
                began = time.perf_counter()
                job()
                best[name] = min(best[name], time.perf_counter() - began)
        copy_s, wds_s, back_wds_s, pq_s, back_pq_s = best.values()
        script_wds_s, _ = best_of(lambda: reencode_to_tar(rec, os.path.join(fresh("script"), "s.tar")), 1, warmup=0)
        script_pq_s, _ = best_of(lambda: reencode_to_parquet(rec, os.path.join(fresh("script"), "s.parquet")), 1, warmup=0)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    copy = megabytes / copy_s
    io_report = Report(f"rec2wds / rec2parquet and back, {count:,} ImageNet-like JPEG records, {megabytes:,.0f} MB (MB/s of .rec)")
    for name, seconds in (("rec2wds", wds_s), ("wds2rec", back_wds_s), ("rec2parquet", pq_s), ("parquet2rec", back_pq_s)):
        io_report.add(name, megabytes / seconds, "MB/s", "plain copy of the same bytes", copy, target=">= 0.8x")
    script = Report(f"against decoding and re-encoding every image (Pillow, quality 95), {count:,} records (img/s)")
    script.add("rec2wds", count / wds_s, "img/s", "re-encode script to a tar", count / script_wds_s, target="> 1x")
    script.add("rec2parquet", count / pq_s, "img/s", "re-encode script to Parquet", count / script_pq_s, target="> 1x")
    return [io_report, script]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="600 records, one run each")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", default=work_dir("interop"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    count, repeat = (600, 1) if args.quick else (args.count, args.repeat)
    emit(run(count, repeat, args.work), args.json)


if __name__ == "__main__":
    main()
