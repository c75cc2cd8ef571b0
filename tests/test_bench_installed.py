"""Issue 22, item 3: ``icformat bench`` works from a pip install. The wheel is built, installed with
its ``bench`` extra into a fresh virtual environment (pip's cache reused), and every benchmark runs
``--quick --only NAME`` from a folder outside the checkout: it runs, or one line names what it
lacks; quick figures are indicative, never MISSED."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv

import pytest

from icformat.benchmarks import run_all

from .conftest import FULL_ENV, HAS_MXNET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = run_all.discover()


def test_every_benchmark_is_known_and_helpers_are_not_benchmarks():
    assert "s3server" not in BENCHMARKS and "run_all" not in BENCHMARKS
    assert set(run_all.REQUIRES) <= set(BENCHMARKS)
    assert {"im2rec", "manifest", "preflight", "recordio", "s3_random"} <= set(BENCHMARKS)


def test_quick_figures_are_indicative_not_judged():
    results = [{"name": "recordio", "status": "ok", "seconds": 1.0, "reports": [
        {"rows": [{"name": "read", "value": 1.0, "unit": "MB/s", "anchor": "mxnet", "anchor_value": 10.0, "ratio": 0.1,
                   "target": ">= 2x"}]}]}]
    assert "MISSED" in "\n".join(run_all.table(results))
    quick = "\n".join(run_all.table(results, quick=True))
    assert "MISSED" not in quick and ">= 2x (indicative)" in quick and "not judged" in quick


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> str:
    """The ``icformat`` command of a fresh venv holding the built wheel and its bench extra."""
    if not (FULL_ENV or HAS_MXNET):
        pytest.skip("the pip-install run of every benchmark belongs to the full environment's pass of make test")
    work = tmp_path_factory.mktemp("installed")
    env = _outside_env()  # nothing of the checkout on the path: pip would take it for an installed icformat
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-q",
                            "-w", str(work / "wheel")], capture_output=True, text=True, timeout=300, env=env)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = os.listdir(work / "wheel")
    venv.create(work / "venv", with_pip=True)
    python = str(work / "venv" / "bin" / "python")
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--no-compile", f"{work / 'wheel' / wheel}[bench]"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return str(work / "venv" / "bin" / "icformat")


def _outside_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("ICFORMAT_")}


@pytest.mark.slow
def test_bench_runs_from_a_pip_install_outside_the_checkout(installed, tmp_path):
    """(Minutes: built and installed once per CI run, in the full environment's pass.)"""
    env = dict(_outside_env(), ICFORMAT_BENCH_DIR=str(tmp_path / "bench"))
    for name in BENCHMARKS:
        done = subprocess.run([installed, "bench", "--quick", "--json", "--only", name], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=400)
        result = json.loads(done.stdout)
        assert result["quick"] and not result["judged"]
        (entry,) = result["scripts"]
        assert entry["status"] == "ok" or entry["status"].startswith("not run: needs "), (name, entry["status"], done.stderr[-2000:])
        assert done.returncode == 0, (name, entry["status"])
        if entry["status"] != "ok":  # one line: what it lacks and what installs it
            assert "\n" not in entry["status"] and "pip install" in entry["status"]
        else:
            assert any(report.get("rows") or report.get("note") for report in entry["reports"]), name
    assert sorted(os.listdir(tmp_path)) == ["bench"]  # nothing written into the folder it ran from
