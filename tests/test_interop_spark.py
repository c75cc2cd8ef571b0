"""``rec2wds``/``rec2parquet``/``wds2rec``/``parquet2rec --engine spark``: one task per input file,
each output what a local run on that file writes; the way back byte-identical per input."""
from __future__ import annotations

import glob
import json
import os

import pytest

from icformat.cli import main

from .interop_data import CLASSES, photo_images, same_files, write_set

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.mark.parametrize("fmt, ext", [("wds", ".tar"), ("parquet", ".parquet")])
def test_interop_on_spark(spark, tmp_path, capsys, fmt, ext):
    images = photo_images()
    for i, kind in enumerate(("plain", "insightface")):
        write_set(str(tmp_path / f"set-0000{i}.rec"), kind, images)
    classes = tmp_path / "c.classes"
    classes.write_text("\n".join(CLASSES) + "\n")
    assert main([f"rec2{fmt}", str(tmp_path / "set"), "-o", str(tmp_path / "out" / "x"), "--shard-records", "4",
                 "--classes", str(classes), "--engine", "spark", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == 2 * len(images) + 3 and report["classes"] == str(tmp_path / "out" / "x.classes")
    assert [os.path.basename(p) for p in report["shards"]][:3] == [f"x-00000-000000{ext}", f"x-00000-000001{ext}", f"x-00001-000000{ext}"]
    assert json.loads((tmp_path / "out" / "x-summary.json").read_text())["records"] == report["records"]
    # the task's output is the local run's on the same file
    assert main([f"rec2{fmt}", str(tmp_path / "set-00001.rec"), "-o", str(tmp_path / "local"), "--shard-records", "4",
                 "--classes", str(classes)]) == 0
    for mine, local in zip(sorted(glob.glob(str(tmp_path / "out" / f"x-00001-*{ext}"))), sorted(glob.glob(str(tmp_path / f"local-*{ext}")))):
        assert same_files(mine, local)
    capsys.readouterr()
    for i in range(2):  # the way back, one task per input file
        assert main([f"{fmt}2rec", *sorted(glob.glob(str(tmp_path / "out" / f"x-0000{i}-*{ext}"))), "-o",
                     str(tmp_path / f"back{i}" / "b.rec"), "--engine", "spark"]) == 0
    outputs = capsys.readouterr().out.splitlines()
    assert all("of-" in line for line in outputs)
    for i in range(2):
        parts = sorted(glob.glob(str(tmp_path / f"back{i}" / "b-*-of-*.rec")))
        with open(tmp_path / f"joined{i}.rec", "wb") as joined:
            for part in parts:
                joined.write(open(part, "rb").read())
        assert same_files(str(tmp_path / f"joined{i}.rec"), str(tmp_path / f"set-0000{i}.rec"))


def test_failed_task_leaves_nothing(spark, tmp_path):
    images = photo_images()
    write_set(str(tmp_path / "set-00000.rec"), "plain", images)
    write_set(str(tmp_path / "set-00001.rec"), "plain", images)
    data = open(tmp_path / "set-00001.rec", "rb").read()
    (tmp_path / "set-00001.rec").write_bytes(data[:-60])
    assert main(["rec2wds", str(tmp_path / "set"), "-o", str(tmp_path / "out" / "x"), "--engine", "spark"]) == 1
    assert not glob.glob(str(tmp_path / "out" / "*.tar"))
