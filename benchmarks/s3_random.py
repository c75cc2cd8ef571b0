#!/usr/bin/env python3
"""Random access to a ``.rec`` on S3: ``IndexedRecordFile`` (one sized ranged GET per record, safe to
share between threads) beside the same reads done by seeking one smart_open stream, in one run.

Figures: records/s with one thread (anchor: seek + read on one stream, the way a file object does
it), and with 8 threads sharing one ``IndexedRecordFile`` (anchor: the one-thread figure; every
record read is checked). The server is moto on 127.0.0.1 in its own process (icformat/benchmarks/s3server.py):
the figures measure the client side and that slow Python server, not a network.
"""
from __future__ import annotations

import argparse
import random
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from icformat.benchmarks._report import Report, emit  # noqa: E402

from icformat.recordio import IndexedRecordFile, IRHeader, RecordWriter, pack  # noqa: E402


def _payload(i: int) -> bytes:
    return pack(IRHeader(0, float(i % 10), i, 0), random.Random(i).randbytes(20_000))


def _upload(count: int) -> str:
    from icformat.benchmarks.s3server import make_bucket, start_server_process, use_server

    use_server(start_server_process()[0])
    uri = f"s3://{make_bucket()}/random.rec"
    with RecordWriter(uri, index=True) as writer:
        for i in range(count):
            writer.write(_payload(i), key=i)
    return uri


def _stream_reads(uri: str, offsets: list[int]) -> float:
    """Seek and read each record on one smart_open stream; records/s."""
    from icformat.io.streams import open_input

    with open_input(uri) as stream:
        start = time.perf_counter()
        for offset in offsets:
            stream.seek(offset)
            _, lrec = struct.unpack("<II", stream.read(8))
            stream.read(lrec & ((1 << 29) - 1))
        return len(offsets) / (time.perf_counter() - start)


def _ranged_reads(rec: IndexedRecordFile, keys: list[int], threads: int) -> float:
    """Read each key through ``rec`` on ``threads`` threads, checking every record; records/s."""
    def read(key: int) -> bool:
        return rec[key] == _payload(key)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        right = sum(pool.map(read, keys))
    seconds = time.perf_counter() - start
    if right != len(keys):
        raise SystemExit(f"{len(keys) - right} of {len(keys)} reads returned the wrong record")
    return len(keys) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="150 reads of 300 records instead of 600 of 1000: a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    count, reads = (300, 150) if args.quick else (1000, 600)
    uri = _upload(count)
    keys = [random.Random(0).randrange(count) for _ in range(reads)]
    report = Report("Random access to a .rec on S3 (local moto server)")
    with IndexedRecordFile(uri) as rec:
        stream = _stream_reads(uri, [rec.offsets[k] for k in keys])
        one = _ranged_reads(rec, keys, 1)
        eight = _ranged_reads(rec, keys, 8)
    report.add("random read, 1 thread: IndexedRecordFile", one, "rec/s", "seek+read one stream", stream)
    report.add("random read, 8 threads share one file", eight, "rec/s", "1 thread", one)
    emit([report], args.json)


if __name__ == "__main__":
    main()
