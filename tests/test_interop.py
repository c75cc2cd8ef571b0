""".rec -> WebDataset / Parquet -> .rec: byte-identical round trips (plain, multi-label, InsightFace,
odd headers), sharding, s3:// on both sides (moto server), bad input and the CLI. The real readers
(webdataset, datasets) check the outputs in test_interop_readers.py."""
from __future__ import annotations

import glob
import json
import os
import tarfile

import boto3
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icformat.cli import main
from icformat.errors import FormatError, InputNotFound, RecordIOError
from icformat.interop.parquet import parquet_to_rec, rec_to_parquet
from icformat.interop.wds import rec_to_wds, wds_to_rec
from icformat.recordio.writer import RecordWriter
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from .interop_data import CLASSES, KINDS, idx_of, photo_images, same_files, write_set

FORMATS = {"wds": (rec_to_wds, wds_to_rec, ".tar"), "parquet": (rec_to_parquet, parquet_to_rec, ".parquet")}


@pytest.fixture(scope="module")
def images():
    return photo_images()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_is_byte_identical(tmp_path, images, kind, fmt):
    there, back, ext = FORMATS[fmt]
    rec = str(tmp_path / "train.rec")
    write_set(rec, kind, images)
    out = there(rec, str(tmp_path / "out" / "train"), max_records=3, classes=CLASSES)
    assert out.records == len(out.shards) * 3 - (-out.records % 3) and len(out.shards) > 1
    assert all(p.endswith(ext) for p in out.shards) and out.shards[0].endswith("train-000000" + ext)
    assert not out.skipped and not out.notes
    stats = back(str(tmp_path / "out" / "train"), str(tmp_path / "back.rec"))
    assert stats.records == out.records
    assert same_files(rec, str(tmp_path / "back.rec"))
    assert same_files(idx_of(rec), str(tmp_path / "back.idx"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_shard_sets_in_and_shards_by_bytes(tmp_path, images, fmt):
    there, back, _ = FORMATS[fmt]
    for i, kind in enumerate(("plain", "plain")):
        write_set(str(tmp_path / f"set-0000{i}.rec"), kind, images)
    out = there(str(tmp_path / "set"), str(tmp_path / "o") + "/", max_bytes=15_000)
    assert out.records == 2 * len(images) and len(out.shards) > 2
    assert os.path.basename(out.shards[0]).startswith("000000.")
    stats = back(str(tmp_path / "o") + "/", str(tmp_path / "back.rec"), index=False)
    assert stats.records == 2 * len(images) and not os.path.exists(tmp_path / "back.idx")
    with open(tmp_path / "back.rec", "rb") as f:
        assert f.read() == b"".join(open(tmp_path / f"set-0000{i}.rec", "rb").read() for i in range(2))


def test_wds_members_and_classes(tmp_path, images):
    rec = str(tmp_path / "t.rec")
    payloads = write_set(rec, "plain", images)
    out = rec_to_wds(rec, str(tmp_path / "w"), classes=CLASSES)
    assert out.classes_path == str(tmp_path / "w.classes")
    assert open(out.classes_path).read().split() == CLASSES
    with tarfile.open(out.shards[0]) as tar:
        names = tar.getnames()
        assert names[:4] == ["10.jpg", "10.cls", "11.jpg", "11.cls"] and "13.png" in names
        assert tar.extractfile("10.jpg").read() == payloads[0][24:]
        assert tar.extractfile("12.cls").read() == b"2"


def test_idx_out_of_file_order_is_noted(tmp_path, images):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "plain", images)
    lines = open(idx_of(rec)).read().splitlines()
    with open(idx_of(rec), "w") as f:
        f.write("\n".join([lines[1], lines[0]] + lines[2:]) + "\n")
    out = rec_to_wds(rec, str(tmp_path / "w"))
    assert len(out.notes) == 1 and "entry 1 gives offset" in out.notes[0]


def test_bad_record_is_skipped_or_stops_leaving_nothing(tmp_path, images):
    rec = str(tmp_path / "t.rec")
    with RecordWriter(rec) as writer:
        writer.write(b"\0" * 24 + images[0])
        writer.write(b"short")  # no image header
        writer.write(b"\0" * 24 + images[1])
    for fmt, (there, _, _) in FORMATS.items():
        with pytest.raises(RecordIOError, match="truncated image header"):
            there(rec, str(tmp_path / fmt / "x"), max_records=1)
        assert not os.path.exists(tmp_path / fmt)  # the first shard, finished, was removed too
        out = there(rec, str(tmp_path / fmt / "x"), on_error="skip")
        assert out.records == 2 and len(out.skipped) == 1 and out.skipped[0].code == "bad-header"


def test_truncated_rec_leaves_no_shard(tmp_path, images):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "plain", images)
    data = open(rec, "rb").read()
    with open(rec, "wb") as f:
        f.write(data[: len(data) - 100])
    with pytest.raises(RecordIOError):
        rec_to_parquet(rec, str(tmp_path / "p" / "x"), max_records=2)
    assert not os.path.exists(tmp_path / "p")


def test_bad_samples_and_rows(tmp_path, images):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "plain", images)
    out = rec_to_wds(rec, str(tmp_path / "w"))
    with tarfile.open(out.shards[0]) as tar, tarfile.open(tmp_path / "bad.tar", "w") as bad:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            if member.name == "11.cls":
                data = b"not a number"
            if member.name == "12.cls":
                continue
            if member.name == "13.cls":
                extra = tarfile.TarInfo("13.txt")
                extra.size = 2
                bad.addfile(extra, __import__("io").BytesIO(b"hi"))
            member.size = len(data)
            bad.addfile(member, __import__("io").BytesIO(data))
    with pytest.raises(FormatError, match="sample '11'"):
        wds_to_rec(str(tmp_path / "bad.tar"), str(tmp_path / "b.rec"))
    assert not os.path.exists(tmp_path / "b.rec")
    stats = wds_to_rec(str(tmp_path / "bad.tar"), str(tmp_path / "b.rec"), on_error="skip")
    assert stats.records == len(images) - 2 and [p.code for p in stats.skipped] == ["bad-sample"] * 2
    assert "no .cls or .json label" in stats.skipped[1].message
    assert stats.notes == ["1 sample(s) hold .txt members, which a record cannot carry; left out"]
    with pytest.raises(FormatError, match="not a readable tar"):
        wds_to_rec(rec, str(tmp_path / "c.rec"))
    with pytest.raises(FormatError, match="not a readable Parquet"):
        parquet_to_rec(rec, str(tmp_path / "c.rec"))
    with pytest.raises(InputNotFound):
        rec_to_wds(str(tmp_path / "absent.rec"), str(tmp_path / "z"))
    assert not os.path.exists(tmp_path / "c.rec") and not glob.glob(str(tmp_path / "z*"))


def test_foreign_parquet_with_image_and_label(tmp_path, images):
    import pyarrow as pa

    table = pa.table({"image": [{"bytes": b, "path": None} for b in images[:3]], "label": [2, 0, 1], "text": ["a", "b", "c"]})
    pq.write_table(table, tmp_path / "hf.parquet")
    stats = parquet_to_rec(str(tmp_path / "hf.parquet"), str(tmp_path / "r.rec"))
    from icformat.recordio.header import split_record
    from icformat.recordio.reader import RecordReader

    got = [split_record(r) for r in RecordReader(str(tmp_path / "r.rec"))]
    assert stats.records == 3 and [int(g.labels[0]) for g in got] == [2, 0, 1] and [g.id for g in got] == [0, 1, 2]
    assert len(stats.notes) == 1 and "columns text are not carried" in stats.notes[0]
    assert [bytes(g.image) for g in got] == images[:3]


def test_s3_both_sides(s3_bucket, tmp_path, images):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "insightface", images)
    s3 = boto3.session.Session().client("s3")
    s3.upload_file(rec, s3_bucket, "in/t.rec")
    s3.upload_file(idx_of(rec), s3_bucket, "in/t.idx")
    for fmt, (there, back, _) in FORMATS.items():
        out = there(f"s3://{s3_bucket}/in/t.rec", f"s3://{s3_bucket}/{fmt}/t", max_records=4)
        assert out.shards[0] == f"s3://{s3_bucket}/{fmt}/t-000000" + FORMATS[fmt][2]
        back(f"s3://{s3_bucket}/{fmt}/t", f"s3://{s3_bucket}/back-{fmt}/t.rec")
        s3.download_file(s3_bucket, f"back-{fmt}/t.rec", str(tmp_path / "b.rec"))
        s3.download_file(s3_bucket, f"back-{fmt}/t.idx", str(tmp_path / "b.idx"))
        assert same_files(rec, str(tmp_path / "b.rec")) and same_files(idx_of(rec), str(tmp_path / "b.idx"))


def test_s3_failure_removes_finished_shards(s3_bucket, tmp_path, images):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "plain", images)
    data = open(rec, "rb").read()
    with open(rec, "wb") as f:
        f.write(data[:-50])
    with pytest.raises(RecordIOError):
        rec_to_wds(rec, f"s3://{s3_bucket}/w/t", max_records=1)
    assert "Contents" not in boto3.session.Session().client("s3").list_objects_v2(Bucket=s3_bucket)


def test_cli_round_trip_and_errors(tmp_path, images, capsys):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "multilabel", images)
    classes = tmp_path / "c.classes"
    classes.write_text("\n".join(CLASSES) + "\n")
    assert main(["rec2wds", rec, "-o", str(tmp_path / "w"), "--shard-bytes", "30kB", "--classes", str(classes), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == len(images) and len(report["shards"]) > 1 and report["classes"].endswith("w.classes")
    assert main(["wds2rec", str(tmp_path / "w"), "-o", str(tmp_path / "b.rec")]) == 0
    assert same_files(rec, str(tmp_path / "b.rec"))
    assert main(["rec2parquet", rec, "-o", str(tmp_path / "p"), "--row-group-records", "3"]) == 0
    assert "8 records in 1 shard(s)" in capsys.readouterr().out
    assert pq.ParquetFile(tmp_path / "p-000000.parquet").metadata.num_row_groups == 3
    assert main(["parquet2rec", str(tmp_path / "p-000000.parquet"), "-o", str(tmp_path / "c.rec")]) == 0
    assert same_files(rec, str(tmp_path / "c.rec"))
    capsys.readouterr()
    assert main(["rec2wds", str(tmp_path / "absent.rec"), "-o", str(tmp_path / "z")]) == 1
    assert main(["rec2wds", rec, "-o", str(tmp_path / "z"), "--shard-bytes", "lots"]) == 2
    assert main(["wds2rec", rec, "-o", str(tmp_path / "z.rec")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("icformat: ") for line in err) and "not a size" in err[1]
    assert not glob.glob(str(tmp_path / "z*"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_a_set_mxnet_wrote(tmp_path, images, mx, fmt):
    """MXNet's own writer (MXIndexedRecordIO + recordio.pack) makes the set; the way back gives its bytes."""
    there, back, _ = FORMATS[fmt]
    rec, idx = str(tmp_path / "mx.rec"), str(tmp_path / "mx.idx")
    writer = mx.recordio.MXIndexedRecordIO(idx, rec, "w")
    writer.write_idx(0, mx.recordio.pack(mx.recordio.IRHeader(2, [len(images) + 1.0, len(images) + 2.0], 0, 0), b""))
    for i, image in enumerate(images):
        label = [1.0, 0.0, float(i % 2)] if i % 3 == 0 else float(i % 3)
        writer.write_idx(i + 1, mx.recordio.pack(mx.recordio.IRHeader(0, label, i + 1, 0), image))
    writer.close()
    there(rec, str(tmp_path / "o"), max_records=4)
    back(str(tmp_path / "o"), str(tmp_path / "back.rec"))
    assert same_files(rec, str(tmp_path / "back.rec")) and same_files(idx, str(tmp_path / "back.idx"))


def test_memory_stays_flat(tmp_path, images):
    """Python memory at its peak does not grow with the set: 30 MB of records take no more than 10 MB do."""
    import tracemalloc

    from icformat.recordio.header import header_bytes

    big = images[0] * (10_000 // len(images[0]) + 1)
    for count in (1000, 3000):
        rec = str(tmp_path / f"big{count}.rec")
        with RecordWriter(rec, index=True) as writer:
            for i in range(count):
                writer.write(header_bytes(float(i % 3), i) + big, key=i)
    for fmt, (there, back, _) in FORMATS.items():
        peaks = []
        for count in (1000, 3000):
            rec, out = str(tmp_path / f"big{count}.rec"), str(tmp_path / f"{fmt}{count}" / "x")
            tracemalloc.start()
            there(rec, out)
            back(out, out + ".rec")
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            assert same_files(rec, out + ".rec")
        assert peaks[1] < 1.3 * peaks[0] + (1 << 20), (fmt, peaks)


_RAW_HEADERS = st.lists(st.tuples(
    st.integers(0, 3),  # flag
    st.integers(0, (1 << 32) - 1),  # the label field's bits
    st.lists(st.integers(0, (1 << 32) - 1), min_size=3, max_size=3),  # bits of the labels after it
    st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1), st.booleans(),
), min_size=1, max_size=40)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_RAW_HEADERS)
def test_any_header_survives_both_ways(tmp_path_factory, headers):
    """Any 24-byte header (any flag, any float bits: NaNs, infinities, -0.0), with or without an image."""
    import numpy as np

    from icformat.recordio.header import HEADER

    work = tmp_path_factory.mktemp("any")
    rec = str(work / "a.rec")
    with RecordWriter(rec, index=True) as writer:
        for i, (flag, label_bits, bits, id_, id2, image) in enumerate(headers):
            head = HEADER.pack(flag, 0.0, id_, id2)
            head = head[:4] + np.array([label_bits], "<u4").tobytes() + head[8:] + np.array(bits[:flag], "<u4").tobytes()
            writer.write(head + (b"\xff\xd8\xff" + bytes([i % 256]) * 50 if image else b""), key=i)
    for fmt, (there, back, _) in FORMATS.items():
        there(rec, str(work / fmt / "x"))
        back(str(work / fmt / "x"), str(work / fmt / "b.rec"))
        assert same_files(rec, str(work / fmt / "b.rec")) and same_files(idx_of(rec), str(work / fmt / "b.idx")), fmt
