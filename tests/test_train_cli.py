"""The train and launch commands: usage and input errors, Ctrl-C, and a 2-worker + 1-server dist_sync run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from .train_fixtures import N_TRAIN, REPO, SIZE, digits_data, icformat, json_summary

__all__ = ["digits_data"]


def _hp_args(**extra) -> list[str]:
    values = {"num_classes": 10, "num_training_samples": N_TRAIN, "num_layers": 20, "image_shape": f"3,{SIZE},{SIZE}",
              "mini_batch_size": 16, "epochs": 1, "learning_rate": 0.05, **extra}
    return [arg for k, v in values.items() for arg in ("--hp", f"{k}={v}")]


@pytest.mark.parametrize("hp,text", [
    ({"num_layers": 19}, "hyperparameter num_layers: got '19'; valid: one of 18, 34, 50, 101, 152, 200"),
    ({"learning_rate": "abc", "epochs": 0}, "2 hyperparameter errors: hyperparameter epochs: got '0'; valid: a positive "
                                            "integer (from --hp) | hyperparameter learning_rate: got 'abc'"),
    ({"optimizer": "adagrad"}, "hyperparameter optimizer: got 'adagrad'; valid: one of sgd, adam, rmsprop, nag"),
    ({"use_weighted_loss": 1}, "hyperparameter use_weighted_loss: 1 needs multi_label=1"),
])
def test_invalid_hyperparameters_one_line(digits_data, tmp_path, hp, text):
    done = icformat("train", "--train", digits_data["train"], *_hp_args(**hp), "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"icformat: error: {text}")
    assert "Traceback" not in done.stderr and not os.path.exists(tmp_path / "out")


def test_usage_and_input_errors(digits_data, tmp_path):
    missing = icformat("train", *_hp_args())
    assert missing.returncode == 2 and "give the training data once" in missing.stderr
    both = icformat("train", "--train", digits_data["train"], "--pipe", str(tmp_path), *_hp_args())
    assert both.returncode == 2
    nothing = icformat("train", "--train", str(tmp_path / "none.rec"), *_hp_args())
    assert nothing.returncode == 1 and "none.rec: no .rec file there" in nothing.stderr
    bad_json = tmp_path / "hp.json"
    bad_json.write_text("{num_classes: 3")
    parsed = icformat("train", "--train", digits_data["train"], "--hyperparameters", str(bad_json))
    assert parsed.returncode == 2 and "hp.json: not valid JSON" in parsed.stderr  # as preflight: the one parser
    no_required = icformat("train", "--train", digits_data["train"], "--hp", "epochs=1")
    assert no_required.returncode == 1 and "hyperparameter num_classes: missing" in no_required.stderr
    for done in (nothing, parsed, no_required):
        assert "Traceback" not in done.stderr


def test_hp_option_wins_over_file_and_json_summary(digits_data, tmp_path):
    hp_file = tmp_path / "hp.json"
    hp_file.write_text('{"epochs": "5", "num_classes": "10"}')
    done = icformat("train", "--train", digits_data["train"], "--validation", digits_data["val"], "--hyperparameters",
                    str(hp_file), *_hp_args(epochs=1), "--output-dir", str(tmp_path / "out"), "--json", "-j", "1")
    assert done.returncode == 0, done.stderr
    summary = json_summary(done.stdout)
    assert summary["epochs"] == 1 and summary["artifact"] == str(tmp_path / "out" / "model.tar.gz")
    assert summary["images_per_second"] > 0 and 0 <= summary["best_validation_accuracy"] <= 1


def test_ctrl_c_keeps_the_previous_artifact(digits_data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    previous = out / "model.tar.gz"
    previous.write_bytes(b"the previous run's archive")
    process = subprocess.Popen(
        [sys.executable, "-m", "icformat", "train", "--train", digits_data["train"], *_hp_args(epochs=30),
         "--output-dir", str(out)], env=dict(os.environ, PYTHONPATH=REPO), stderr=subprocess.PIPE, text=True,
        # a shell that starts CI in the background hands SIGINT down ignored: give the child a real Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in process.stderr:
        if "Epoch[0] Train-accuracy" in line:
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 130 and "icformat: interrupted" in rest and "Traceback" not in rest, rest[-3000:]
    assert previous.read_bytes() == b"the previous run's archive"
    assert sorted(os.listdir(out)) == ["model.tar.gz"]


def test_a_ctrl_c_that_lands_in_a_finalizer_is_not_lost():
    """Python raises KeyboardInterrupt wherever the main thread is; inside a ``__del__`` (an MXNet
    array freed by the garbage collector) it is printed as ignored and training went on. During the
    epochs the key is noted there instead, and the loop raises it at its next check."""
    import io
    import time
    from contextlib import redirect_stderr

    from icformat.train.trainer import _CtrlC

    class Freed:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the handler runs here, inside the finalizer
            sum(range(1000))

    earlier = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own (a Spark session sets its own)
    try:
        said = io.StringIO()
        with redirect_stderr(said), _CtrlC() as ctrl_c:
            Freed()  # freed at once: its __del__ runs
            with pytest.raises(KeyboardInterrupt):
                ctrl_c.check()
        assert "KeyboardInterrupt" not in said.getvalue() and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with _CtrlC() as ctrl_c, pytest.raises(KeyboardInterrupt):  # anywhere else it is raised where it lands
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert ctrl_c.pressed and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, earlier)


def test_dist_sync_two_workers_one_server(digits_data, tmp_path):
    out = tmp_path / "out"
    done = icformat("launch", "-n", "2", "-s", "1", "--", "icformat", "train", "--train", digits_data["train"],
                    "--validation", digits_data["val"], *_hp_args(kv_store="dist_sync", epochs=1, mini_batch_size=32),
                    "--output-dir", str(out), "--json", "-j", "0", timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = {}
    for prefix in ("[worker 0] ", "[worker 1] "):
        text = "\n".join(line[len(prefix):] for line in done.stdout.splitlines() if line.startswith(prefix))
        summary = json_summary(text)
        summaries[summary["rank"]] = summary
    assert sorted(summaries) == [0, 1] and all(s["num_workers"] == 2 for s in summaries.values())
    assert summaries[0]["weights_sha256"] == summaries[1]["weights_sha256"]
    assert summaries[0]["artifact"] == str(out / "model.tar.gz") and summaries[1]["artifact"] is None
    assert os.listdir(out) == ["model.tar.gz"]
    assert "[scheduler]" in done.stderr or "[server 0]" in done.stderr or "[worker 0]" in done.stderr


def test_launch_stops_everything_when_one_fails(tmp_path):
    done = icformat("launch", "-n", "2", "--", sys.executable, "-c", "import sys; sys.exit(3)", timeout=120)
    assert done.returncode == 3
    assert "failed (exit status 3); stopping the others" in done.stderr
    usage = icformat("launch", "-n", "2", "--", "no-such-program-xyz")
    assert usage.returncode == 2 and "no such command" in usage.stderr
