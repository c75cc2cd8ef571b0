"""Issue 22, item 12: ``im2rec --engine spark`` on a real standalone cluster (a master and a worker
started from pyspark's ``spark-class`` on 127.0.0.1), with relative paths: executors run in their own
working folders, so local paths reach them absolute, and the shards are byte-identical to a local run."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from icformat import samples
from icformat.im2rec.pack import PackOptions
from icformat.im2rec.run import pack_lst
from icformat.lst.make import make_lst
from icformat.spark.session import cluster_hint, executor_path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_local_paths_reach_executors_absolute_and_uris_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert executor_path("s.lst") == str(tmp_path / "s.lst")
    assert executor_path("out/shard") == str(tmp_path / "out" / "shard")
    assert executor_path("out/") == str(tmp_path / "out") + "/"  # still a folder
    assert executor_path("s3://bucket/photos") == "s3://bucket/photos" and executor_path(None) is None


def test_a_cluster_that_cannot_see_a_local_path_gets_a_hint():
    message = "/home/me/s.lst: no such file (and 2 more shards failed)"
    hinted = cluster_hint("spark://10.0.0.5:7077", message)
    assert hinted.startswith(message) and "every machine mounts at the same path, or on s3://" in hinted
    assert cluster_hint("local[4]", message) == message  # one machine: the path is what it says
    assert cluster_hint("yarn", "spark job failed: out of memory") == "spark job failed: out of memory"


@pytest.mark.spark
@pytest.mark.slow
def test_im2rec_on_a_standalone_cluster_with_relative_paths(spark_cluster, tmp_path):
    samples.write_photo_tree(str(tmp_path / "photos"), classes=3, per_class=4, seed=5)
    make_lst(str(tmp_path / "s"), str(tmp_path / "photos"), recursive=True)
    done = subprocess.run([sys.executable, "-m", "icformat", "im2rec", "s.lst", "photos", "--num-shards", "3", "-o",
                           "out/shard", "--resize", "48", "--engine", "spark", "--spark-master", spark_cluster],
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    for shard in range(3):
        report = pack_lst(str(tmp_path / "s.lst"), str(tmp_path / "photos"), str(tmp_path / "local" / "shard"),
                          options=PackOptions(resize=48), num_shards=3, shard_index=shard)
        name = f"shard-{shard:05d}-of-00003"
        for ext in (".rec", ".idx"):
            assert (tmp_path / "out" / f"{name}{ext}").read_bytes() == (tmp_path / "local" / f"{name}{ext}").read_bytes()
        assert report.written == 4
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        [f"shard-{i:05d}-of-00003{ext}" for i in range(3) for ext in (".rec", ".idx")] + ["shard-summary.json"])
