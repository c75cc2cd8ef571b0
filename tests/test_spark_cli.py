"""``--engine spark`` on the command line: same outputs and reports as the local engine, usage errors."""
from __future__ import annotations

import json
import os

import pytest

from icformat.cli import main
from icformat.lst.make import make_lst

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def test_im2rec_lst_and_manifest_commands_on_spark(spark, photo_tree, tmp_path, capsys):
    lst = next(iter(make_lst(str(tmp_path / "train"), photo_tree, recursive=True).files))
    assert main(["im2rec", lst, photo_tree, "-o", str(tmp_path / "local"), "--num-shards", "2", "--shard-index", "1", "--pass-through"]) == 0
    capsys.readouterr()
    assert main(["im2rec", lst, photo_tree, "-o", str(tmp_path / "out"), "--num-shards", "2", "--pass-through", "--engine", "spark", "--json"]) == 0
    shards = json.loads(capsys.readouterr().out)
    assert [os.path.basename(s["rec"]) for s in shards] == ["out-00000-of-00002.rec", "out-00001-of-00002.rec"]
    with open(tmp_path / "out-00001-of-00002.rec", "rb") as a, open(tmp_path / "local-00001-of-00002.rec", "rb") as b:
        assert a.read() == b.read()
    assert json.loads((tmp_path / "out-summary.json").read_text())["records"] == 12

    with open(lst, "a") as f:
        f.write("3\t9\tclass_0/nope.jpg\n")
    outputs = []
    for engine in ("local", "spark"):
        assert main(["lst", "validate", lst, "--root", photo_tree, "--engine", engine]) == 1
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and "duplicate index 3" in outputs[0] and "nope.jpg" in outputs[0]

    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":0}\n{"source-ref":"a.jpg"}\n')
    outputs = []
    for engine in ("local", "spark"):
        assert main(["manifest", "validate", str(manifest), "--attribute-names", "source-ref,class", "--engine", engine, "--json"]) == 1
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and "same image as line 1" in outputs[0]


@pytest.mark.parametrize("args, message", [
    (["im2rec", "x.lst", ".", "--spark-master", "local[2]"], "--spark-master needs --engine spark"),
    (["im2rec", "x.lst", ".", "--engine", "spark", "--num-shards", "2", "--shard-index", "1"], "--shard-index applies to --engine local"),
    (["lst", "validate", "x.lst", "--engine", "spark", "--num-workers", "2"], "--num-workers applies to --engine local"),
    (["manifest2rec", "m", "-o", "o.rec", "--attribute-names", "source-ref,class", "--engine", "spark", "--num-shards", "2",
      "--shard-index", "1"], "--shard-index applies to --engine local"),
    (["im2rec", "x.lst", ".", "--engine", "flink"], "'flink' is not one of 'local', 'spark'"),
])
def test_engine_usage_errors(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.lst").write_text("0\t0\ta.jpg\n")
    assert main(args) == 2
    assert message in capsys.readouterr().err
