"""The worked ETL example (examples/etl.py) runs end to end against the real local S3 server:
stratified split, manifest on S3, shards converted in a process pool, filter + relabel, read back."""
from __future__ import annotations

import os
from collections import Counter

from examples import etl
from icformat import samples
from icformat.io import s3
from icformat.lst import read_lst
from icformat.manifest import read_manifest
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)


def test_etl_example_end_to_end(s3_bucket, tmp_path):
    images = str(tmp_path / "images")
    samples.write_photo_tree(images, classes=3, per_class=10, seed=4, size=(40, 32))
    summary = etl.run(images, f"s3://{s3_bucket}/job", str(tmp_path / "work"), shards=3, drop_class="class_1")

    assert summary["uploaded"] == 30 and summary["split"]["classes"] == ["class_0", "class_1", "class_2"]
    val = Counter(int(e.labels[0]) for e in read_lst(str(tmp_path / "work" / "data_val.lst")))
    assert val == {0: 2, 1: 2, 2: 2}  # stratified: every class gives 20% to validation

    manifest_rows = list(read_manifest(summary["manifest"], etl.ATTRIBUTES))
    assert len(manifest_rows) == summary["manifest_lines"] == 24
    assert all(r.ref.startswith(f"s3://{s3_bucket}/job/images/") for r in manifest_rows)

    shards = summary["shards"]
    assert [os.path.basename(s["rec"]) for s in shards] == [f"train-0000{i}-of-00003.rec" for i in range(3)]
    assert [s["records"] for s in shards] == [8, 8, 8] and not any(s["skipped"] for s in shards)
    assert all(s3.head(s["rec"]) and s3.head(s["rec"][:-4] + ".idx") for s in shards)

    train_labels = [int(r.label_value) for r in manifest_rows]
    expected = [{0: 0, 2: 1}[label] for label in train_labels if label != 1]
    read_back = summary["read_back"]
    assert summary["relabel"] == {0: 0, 2: 1} and summary["written"] == len(expected) == 16
    assert read_back["ok"] and read_back["records"] == 16 and read_back["labels"] == [float(v) for v in expected]


def test_etl_example_command_line(s3_bucket, tmp_path, capsys):
    images = str(tmp_path / "images")
    samples.write_photo_tree(images, classes=2, per_class=5, seed=5, size=(40, 32))
    assert etl.main([images, f"s3://{s3_bucket}/cli", str(tmp_path / "work"), "--shards", "2"]) == 0
    assert '"ok": true' in capsys.readouterr().out
