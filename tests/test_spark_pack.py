"""``im2rec`` on a real local Spark session: shards byte-identical to the local packer's, retried
tasks leave exactly N whole shards, s3:// output through the local S3 server."""
from __future__ import annotations

import hashlib
import json
import os

import boto3
import pytest

from icformat.errors import IcformatError
from icformat.im2rec import pack_lst as pack_local
from icformat.lst import write_lst
from icformat.lst.make import make_lst
from icformat.recordio import RecordReader, list_rec_shards
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture(scope="module")
def photo_lst(photo_tree, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("lists")
    made = make_lst(str(folder / "train"), photo_tree, recursive=True)
    return next(iter(made.files))


def _files(folder) -> list[str]:
    return sorted(os.listdir(folder))


def _local_shards(lst, root, out, shards, **options):
    from icformat.im2rec import PackOptions

    return [pack_local(lst, root, out, options=PackOptions(**options), num_shards=shards, shard_index=i, num_workers=1)
            for i in range(shards)]


def test_shards_are_byte_identical_to_local_packing(spark, photo_lst, photo_tree, tmp_path):
    from icformat.spark import pack_lst

    (tmp_path / "local").mkdir()
    (tmp_path / "spark").mkdir()
    local = _local_shards(photo_lst, photo_tree, str(tmp_path / "local"), 3, resize=32)
    reports = pack_lst(spark, photo_lst, photo_tree, str(tmp_path / "spark"), 3, resize=32)
    assert [os.path.basename(r.rec_path) for r in reports] == [os.path.basename(r.rec_path) for r in local]
    for ours, theirs in zip(reports, local):
        for ext in (".rec", ".idx"):
            with open(ours.rec_path[:-4] + ext, "rb") as a, open(theirs.rec_path[:-4] + ext, "rb") as b:
                assert a.read() == b.read()
        with open(ours.rec_path, "rb") as f:
            assert ours.sha256 == hashlib.sha256(f.read()).hexdigest()
    summary = json.loads((tmp_path / "spark" / "train-summary.json").read_text())
    assert summary["num_shards"] == 3 and summary["records"] == 12 and summary["skipped"] == 0
    assert [s["sha256"] for s in summary["shards"]] == [r.sha256 for r in reports]
    assert summary["bytes"] == sum(os.path.getsize(r.rec_path) for r in reports)
    # the shard set reads as one dataset, in list order
    shards = list_rec_shards(str(tmp_path / "spark"))
    assert [os.path.basename(s) for s in shards] == [f"train-0000{i}-of-00003.rec" for i in range(3)]
    assert [rec for s in shards for rec in RecordReader(s)] == [rec for r in local for rec in RecordReader(r.rec_path)]


def test_a_task_killed_on_its_first_attempt_is_retried_and_leaves_no_leftovers(spark, photo_lst, photo_tree, tmp_path):
    from icformat.spark import pack_lst

    out = tmp_path / "out"
    out.mkdir()
    reports = pack_lst(spark, photo_lst, photo_tree, str(out / "train"), 4, pass_through=True, _fail_first_attempt=(1, 2))
    assert _files(out) == sorted([f"train-0000{i}-of-00004.{ext}" for i in range(4) for ext in ("rec", "idx")] + ["train-summary.json"])
    summary = json.loads((out / "train-summary.json").read_text())
    assert [s["attempt"] for s in summary["shards"]] == [0, 1, 1, 0]  # Spark did retry them
    local = _local_shards(photo_lst, photo_tree, str(tmp_path / "local"), 4, pass_through=True)
    for ours, theirs in zip(reports, local):
        with open(ours.rec_path, "rb") as a, open(theirs.rec_path, "rb") as b:
            assert a.read() == b.read()


def test_bad_list_or_strict_failure_leaves_nothing(spark, photo_lst, photo_tree, tmp_path):
    from icformat.spark import pack_lst

    dup = tmp_path / "dup.lst"
    write_lst(dup, [(0, 0.0, "class_0/img_00000.jpg"), (0, 1.0, "class_1/img_00000.jpg")])
    with pytest.raises(IcformatError, match="duplicate index 0"):
        pack_lst(spark, str(dup), photo_tree, str(tmp_path / "x"), 2)
    bad = tmp_path / "bad.lst"
    write_lst(bad, [(i, 0.0, f"class_0/img_0000{i}.jpg") for i in range(4)] + [(9, 0.0, "class_0/missing.jpg")])
    with pytest.raises(IcformatError, match="missing.jpg"):
        pack_lst(spark, str(bad), photo_tree, str(tmp_path / "y"), 2, strict=True)
    assert _files(tmp_path) == ["bad.lst", "dup.lst"]


def test_s3_output_through_the_local_server(spark, s3_bucket, photo_lst, photo_tree, tmp_path):
    from icformat.spark import pack_lst

    out = f"s3://{s3_bucket}/packed/train"
    reports = pack_lst(spark, photo_lst, photo_tree, out, 2, resize=24, _fail_first_attempt=(0,))
    client = boto3.session.Session().client("s3")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == sorted([f"packed/train-0000{i}-of-00002.{e}" for i in range(2) for e in ("rec", "idx")] + ["packed/train-summary.json"])
    assert not client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    local = _local_shards(photo_lst, photo_tree, str(tmp_path / "l"), 2, resize=24)
    assert list_rec_shards(out) == [r.rec_path for r in reports]
    for ours, theirs in zip(reports, local):
        assert b"".join(RecordReader(ours.rec_path)) == b"".join(RecordReader(theirs.rec_path))


def test_manifest_to_rec_shards_match_the_local_conversion(spark, photo_lst, photo_tree, tmp_path):
    from icformat.convert import lst_to_manifest
    from icformat.convert import manifest_to_rec as convert_locally
    from icformat.spark import manifest_to_rec

    manifest = tmp_path / "train.manifest"
    lst_to_manifest(photo_lst, str(manifest), prefix=photo_tree)
    ours = manifest_to_rec(spark, str(manifest), str(tmp_path / "spark" / "train.rec"), 3, attribute_names="source-ref,class")
    assert sorted(os.listdir(tmp_path / "spark")) == sorted([f"train-0000{i}-of-00003.{e}" for i in range(3) for e in ("rec", "idx")]
                                                             + ["train-summary.json"])
    whole = tmp_path / "whole.rec"
    convert_locally(str(manifest), str(whole), attribute_names="source-ref,class")
    assert [r for s in ours for r in RecordReader(s.rec_path)] == list(RecordReader(str(whole)))
    for i, stats in enumerate(ours):
        local = convert_locally(str(manifest), str(tmp_path / "local.rec"), attribute_names="source-ref,class", num_shards=3, shard_index=i)
        for ext in (".rec", ".idx"):
            with open(stats.rec_path[:-4] + ext, "rb") as a, open(local.rec_path[:-4] + ext, "rb") as b:
                assert a.read() == b.read()


def test_tasks_read_only_their_lines_and_report_skips_as_locally(spark, photo_lst, photo_tree, tmp_path):
    from icformat.spark import pack_lst
    from icformat.spark.pack import _shard_slices
    from icformat.lst import read_lst

    lines = open(photo_lst).read().splitlines()
    odd = tmp_path / "odd.lst"  # CRLF, blank lines, a missing image: line numbers must survive slicing
    odd.write_bytes(("\r\n".join(lines[:5] + ["", "77\t1\tclass_1/missing.jpg", ""] + lines[5:]) + "\r\n").encode())
    assert len(_shard_slices(str(odd), read_lst(str(odd)), 3)) == 3
    ours = pack_lst(spark, str(odd), photo_tree, str(tmp_path / "s"), 3, pass_through=True)
    local = _local_shards(str(odd), photo_tree, str(tmp_path / "l"), 3, pass_through=True)
    assert [r.to_dict()["skipped"] for r in ours] == [r.to_dict()["skipped"] for r in local]
    assert [s for r in ours for s in r.to_dict()["skipped"]][0]["line"] == 7
    for a, b in zip(ours, local):
        with open(a.rec_path, "rb") as x, open(b.rec_path, "rb") as y:
            assert x.read() == y.read()
