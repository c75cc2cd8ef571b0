"""Issue 22, items 4 and 8: no noise a CLI user cannot act on, and training output a reader can follow.

``loader run`` and ``train`` print no ``StartMethodWarning`` (the CLI lets the loader choose; a library
caller still gets it), and no command prints MXNet's ``MXNET_SUBGRAPH_BACKEND=NONE is detected`` while
the setting stays in force. Off a terminal, training logs ``Epoch[0] Batch [20]\\tSpeed: ...`` lines as
SageMaker's algorithm does, and ``--json`` numbers stored epochs as its history does.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from icformat import samples

from .train_fixtures import N_TRAIN, REPO, SIZE, digits_data

__all__ = ["digits_data"]

NOTICE = "MXNET_SUBGRAPH_BACKEND=NONE is detected"

# the CLI run with one extra Python thread, which makes the loader leave 'fork' (and warn, unasked)
WITH_A_THREAD = ("import sys, threading, time; threading.Thread(target=time.sleep, args=(120,), daemon=True).start(); "
                 "from icformat.cli import main; sys.exit(main(sys.argv[1:]))")


def _cli_with_a_thread(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITH_A_THREAD, *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=REPO), timeout=300)


@pytest.fixture(scope="module")
def small_rec(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("quiet") / "d.rec")
    samples.write_digits_rec(path, list(range(40)), size=SIZE)
    return path


def test_loader_run_says_nothing_about_start_methods(small_rec):
    done = _cli_with_a_thread("loader", "run", small_rec, "--data-shape", f"3,{SIZE},{SIZE}", "--batch-size", "8",
                              "--num-workers", "1")
    assert done.returncode == 0, done.stderr
    assert "StartMethodWarning" not in done.stderr and "start_method" not in done.stderr
    assert "40 images" in done.stdout


def test_library_callers_keep_the_start_method_warning(small_rec):
    code = ("import threading, time, warnings; threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
            "from icformat.loader.loader import ImageLoader\n"
            f"with ImageLoader({small_rec!r}, 8, (3, {SIZE}, {SIZE}), num_workers=1) as data:\n"
            "    next(iter(data))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr
    assert "StartMethodWarning" in done.stderr and "pass start_method= to choose" in done.stderr


def test_quiet_bind_drops_only_the_notice_and_keeps_the_setting(mx):
    code = ("import os, sys\n"
            "from icformat.mxnet_runtime import import_mxnet, quiet_bind\n"
            "mx = import_mxnet()\n"
            "net = mx.sym.FullyConnected(mx.sym.Variable('data'), num_hidden=2, name='fc')\n"
            "with quiet_bind():\n"
            "    os.write(2, b'a line of its own\\n')\n"
            "    mx.mod.Module(net, label_names=None).bind([('data', (1, 3))], for_training=False)\n"
            "print(os.environ['MXNET_SUBGRAPH_BACKEND'])\n"
            "mx.mod.Module(net, label_names=None).bind([('data', (1, 3))], for_training=False)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "NONE"  # still in force: an unquieted bind says so once
    assert done.stderr.count(NOTICE) == 1 and "a line of its own" in done.stderr


def test_train_off_a_terminal_logs_batches_and_numbers_epochs_once(digits_data, tmp_path):
    hp = {"num_classes": 10, "num_training_samples": N_TRAIN, "num_layers": 20, "image_shape": f"3,{SIZE},{SIZE}",
          "mini_batch_size": 8, "epochs": 2, "learning_rate": 0.05}
    args = [arg for k, v in hp.items() for arg in ("--hp", f"{k}={v}")]
    done = _cli_with_a_thread("train", "--train", digits_data["train"], "--validation", digits_data["val"], *args,
                              "--output-dir", str(tmp_path / "out"), "--json", "-j", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert NOTICE not in done.stderr and "StartMethodWarning" not in done.stderr
    batches = re.findall(r"Epoch\[(\d+)\] Batch \[(\d+)\]\tSpeed: [0-9.]+ samples/sec\taccuracy=[0-9.]+$", done.stderr,
                         re.MULTILINE)
    assert ("0", "20") in batches and ("1", "20") in batches
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    history = {h["epoch"]: h for h in summary["history"]}
    assert sorted(history) == [0, 1]
    best = max(history, key=lambda e: (history[e]["validation_accuracy"], -e))
    assert summary["stored_epochs"] == [best] and summary["stored_checkpoints"] == [best + 1]
    assert [e for e in history if history[e]["stored"]] == [best]
    assert "best validation accuracy" in summary["stored_because"]
    assert f"Epoch[{best}]" in done.stderr.split("Wrote ")[-1]
