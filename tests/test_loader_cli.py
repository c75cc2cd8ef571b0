"""``icformat loader run`` and ``icformat bench`` through the CLI."""
from __future__ import annotations

import json
import os

from click.testing import CliRunner

import icformat.cli
from icformat.cli.bench import find_runner

from .test_loader import make_jpegs, write_rec


def test_loader_run_reports_images_and_skips(tmp_path):
    images = make_jpegs(9, seed=4)
    images[5] = b"garbage"
    rec = write_rec(str(tmp_path / "d.rec"), images, [0.0] * 9)
    runner = CliRunner()
    result = runner.invoke(
        icformat.cli.cli,
        ["loader", "run", rec, "--batch-size", "4", "--data-shape", "3,32,32", "--resize", "40", "--num-workers", "0", "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["images"] == 8 and report["skipped"] == 1 and report["batches"] == 3
    assert "d.rec@" in report["errors"][0]
    assert icformat.cli.main(["loader", "run", rec, "--data-shape", "3,32,32", "--resize", "40", "--num-workers", "0"]) == 1
    args = ["loader", "run", rec, "--data-shape", "3,32,32", "--resize", "40", "--strict", "--num-workers", "0"]
    assert icformat.cli.main(args) == 1


def test_loader_run_text(tmp_path):
    rec = write_rec(str(tmp_path / "d.rec"), make_jpegs(6, seed=4), [1.0] * 6)
    result = CliRunner().invoke(
        icformat.cli.cli,
        ["loader", "run", rec, "--batch-size", "4", "--data-shape", "3,32,32", "--resize", "40",
         "--augmentation-type", "crop_color", "--epochs", "2", "--num-workers", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "12 images in 4 batches over 2 epoch(s)" in result.output and "skipped records: 0" in result.output


def test_bench_lists_the_benchmarks():
    assert os.path.exists(find_runner())
    result = CliRunner().invoke(icformat.cli.cli, ["bench", "--list"])
    assert result.exit_code == 0  # the listing itself goes from the child process to the terminal


def test_run_all_discovers_and_survives_failures(tmp_path, monkeypatch):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("run_all", find_runner())
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    names = run_all.discover()
    assert "loader" in names and "gpu_loader" in names and "run_all" not in names
    assert run_all.target_met(4.2, ">= 4x") == "met" and run_all.target_met(0.6, ">= 0.70x") == "MISSED"
    assert run_all.target_met(1.0, None) == ""
    assert run_all.target_met(12.0, ">=10x mxnet rec/s") == "met"
    assert run_all.target_met(0.2, "< 5 s", 0.6, "s") == "met" and run_all.target_met(0.2, "< 5 s", 7.0, "s") == "MISSED"
    assert run_all.target_met(1.0, "<0.5 s per GB", 0.1, "s") == "?"
    bad = tmp_path / "broken.py"
    bad.write_text("import sys\nsys.exit('boom')\n")
    monkeypatch.setattr(run_all, "HERE", str(tmp_path))
    entry = run_all.run_one("broken", True, 30)
    assert entry["status"].startswith("failed (exit 1)") and "boom" in entry["status"]
    lines = run_all.table([entry])
    assert any("broken" in line and "failed" in line for line in lines)
    good = tmp_path / "fine.py"
    good.write_text(
        "import json\nprint(json.dumps([{'title': 't', 'rows': [{'name': 'x', 'value': 8.0, 'unit': 'img/s', "
        "'anchor': 'a', 'anchor_value': 2.0, 'ratio': 4.0, 'target': '>= 4x'}]}]))\n"
    )
    entry = run_all.run_one("fine", False, 30)
    assert entry["status"] == "ok"
    assert any("4.00x" in line and "met" in line for line in run_all.table([entry]))
    assert sys.executable
