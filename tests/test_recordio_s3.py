"""The RecordIO core and the ``rec`` commands on s3:// through a real local S3 server (moto)."""
from __future__ import annotations

import boto3
import pytest

from icformat.cli import main
from icformat.recordio import IndexedRecordFile, IRHeader, RecordReader, RecordWriter, pack, read_index
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from .test_recordio import PAYLOADS


def _objects(bucket: str) -> list[str]:
    listed = boto3.session.Session().client("s3").list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_write_read_index_on_s3(s3_bucket, tmp_path):
    uri = f"s3://{s3_bucket}/data/train.rec"
    with RecordWriter(uri, index=True) as writer:
        for i, p in enumerate(PAYLOADS):
            writer.write(p, key=100 + i)
    assert _objects(s3_bucket) == ["data/train.idx", "data/train.rec"]
    assert list(RecordReader(uri)) == PAYLOADS
    with RecordWriter(tmp_path / "local.rec", index=True) as writer:  # same bytes as a local write
        for i, p in enumerate(PAYLOADS):
            writer.write(p, key=100 + i)
    with RecordReader(uri) as reader:
        assert [o for o, _ in reader.iter_with_offsets()] == read_index(tmp_path / "local.idx")[1]
    with IndexedRecordFile(uri) as rec:  # ranged reads, index from s3
        assert rec.keys[:3] == [100, 101, 102]
        for key in (107, 100, 150, 103):
            assert rec[key] == PAYLOADS[key - 100]


def test_failed_s3_write_leaves_no_object(s3_bucket):
    with pytest.raises(RuntimeError):
        with RecordWriter(f"s3://{s3_bucket}/broken.rec", index=True) as writer:
            writer.write(b"abc")
            raise RuntimeError("interrupted")
    assert _objects(s3_bucket) == []


def test_rec_commands_on_s3(s3_bucket, capsys):
    uri = f"s3://{s3_bucket}/img.rec"
    with RecordWriter(uri) as writer:
        for i in range(5):
            writer.write(pack(IRHeader(0, float(i % 2), i, 0), b"\xff\xd8not really a jpeg"))
    assert main(["rec", "index", uri]) == 0
    assert _objects(s3_bucket) == ["img.idx", "img.rec"]
    assert main(["rec", "verify", uri]) == 0
    assert main(["rec", "info", uri, "--json"]) == 0
    out = capsys.readouterr().out
    assert '"records": 5' in out
    assert main(["rec", "info", f"s3://{s3_bucket}/missing.rec"]) == 1
    err = capsys.readouterr().err
    assert "missing.rec" in err and "Traceback" not in err and err.count("\n") == 1


def test_batches_on_s3_equal_the_iterator_and_fail_the_same_way(s3_bucket):
    from icformat.errors import RecordIOError

    uri = f"s3://{s3_bucket}/batches.rec"
    with RecordWriter(uri) as writer:
        for p in PAYLOADS:
            writer.write(p)
    with RecordReader(uri, chunk_bytes=4096) as reader:
        batches = list(reader.iter_batches(max_records=16))
    assert [r for b in batches for r in b.to_list()] == PAYLOADS
    assert all(len(b) == 16 for b in batches[:-1])
    data = boto3.session.Session().client("s3").get_object(Bucket=s3_bucket, Key="batches.rec")["Body"].read()
    cut = f"s3://{s3_bucket}/cut.rec"
    boto3.session.Session().client("s3").put_object(Bucket=s3_bucket, Key="cut.rec", Body=data[: len(data) // 2 + 3])
    errors, got = [], {}
    for kind in ("batches", "records"):
        got[kind] = []
        try:
            with RecordReader(cut, chunk_bytes=4096) as reader:
                if kind == "batches":
                    for b in reader.iter_batches(max_records=7):
                        got[kind] += b.to_list()
                else:
                    for r in reader:
                        got[kind].append(r)
        except RecordIOError as exc:
            errors.append((exc.reason, exc.offset, exc.path))
    assert len(errors) == 2 and errors[0] == errors[1] and errors[0][2] == cut
    assert got["batches"] == got["records"] == PAYLOADS[: len(got["records"])] and got["records"]
