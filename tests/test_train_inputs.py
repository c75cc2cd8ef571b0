"""icformat train fed by pipe mode (``icformat pipe serve``), SageMaker's folder layout, and each of
SageMaker's data errors caught before training."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from .train_fixtures import (
    N_TRAIN, REPO, SIZE, digits_data, icformat, json_summary, rec_channel, rec_job_channels, run_train, tar_names,
)

from icformat import samples
from icformat.errors import InputNotFound, TrainingDataError
from icformat.train.data import lst_channel, pipe_channel

__all__ = ["digits_data"]


def _serve(directory, channel, *sources, epochs=2, attribute_names=None) -> subprocess.Popen:
    args = [sys.executable, "-m", "icformat", "pipe", "serve", str(directory), *sources, "--channel", channel,
            "--epochs", str(epochs), "--timeout", "120"]
    if attribute_names:
        args += ["--attribute-names", attribute_names]
    return subprocess.Popen(args, env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _finish(*servers: subprocess.Popen) -> None:
    for server in servers:
        _, err = server.communicate(timeout=120)
        assert server.returncode == 0, err


def test_pipe_mode_recordio(digits_data, tmp_path):
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    servers = [_serve(pipes, "train", digits_data["train"]), _serve(pipes, "validation", digits_data["val"])]
    result = run_train(tmp_path, pipe_channel("train", str(pipes)), pipe_channel("validation", str(pipes)), epochs=2)
    _finish(*servers)
    assert result.epochs == 2 and result.validation_accuracy is not None
    assert tar_names(result.artifact)[-1] == "model-shapes.json"


def _manifest(digits_data, tmp_path, name: str) -> str:
    from icformat.lst import read_lst

    table = read_lst(digits_data[f"{name}_lst"])
    path = tmp_path / f"{name}.manifest"
    with open(path, "w") as f:
        for rel, labels in zip(table.paths, table.labels.tolist()):
            ref = os.path.join(digits_data[f"{name}_root"], rel)
            f.write(json.dumps({"source-ref": ref, "class": str(int(labels[0]))}) + "\n")
    return str(path)


def test_pipe_mode_augmented_manifest(digits_data, tmp_path):
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    names = "source-ref,class"
    servers = [_serve(pipes, "train", _manifest(digits_data, tmp_path, "train"), epochs=1, attribute_names=names),
               _serve(pipes, "validation", _manifest(digits_data, tmp_path, "val"), epochs=1, attribute_names=names)]
    result = run_train(tmp_path, pipe_channel("train", str(pipes), names), pipe_channel("validation", str(pipes), names),
                       epochs=1)
    _finish(*servers)
    assert result.history[0]["train_accuracy"] > 0


def _sagemaker_root(tmp_path, digits_data, mode: str) -> str:
    root = tmp_path / "opt-ml"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "data").mkdir()
    hp = {"num_classes": "10", "num_training_samples": str(N_TRAIN), "num_layers": "20", "image_shape": f"3,{SIZE},{SIZE}",
          "mini_batch_size": "16", "epochs": "1", "learning_rate": "0.05"}
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hp))
    config = {c: {"ContentType": "application/x-recordio", "TrainingInputMode": mode, "S3DistributionType": "FullyReplicated",
                  "RecordWrapperType": "None"} for c in ("train", "validation")}
    (root / "input" / "config" / "inputdataconfig.json").write_text(json.dumps(config))
    if mode == "File":
        for channel, key in (("train", "train"), ("validation", "val")):
            (root / "input" / "data" / channel).mkdir()
            os.link(digits_data[key], root / "input" / "data" / channel / f"{key}.rec")
    return str(root)


def test_sagemaker_root_file_mode_via_cli(digits_data, tmp_path):
    root = _sagemaker_root(tmp_path, digits_data, "File")
    done = icformat("train", "--sagemaker-root", root, "--json", "-j", "0")
    assert done.returncode == 0, done.stderr
    summary = json_summary(done.stdout)
    assert summary["artifact"] == os.path.join(root, "model", "model.tar.gz") and os.path.exists(summary["artifact"])
    assert "Epoch[0] Train-accuracy=" in done.stderr and "Epoch[0] Validation-accuracy=" in done.stderr
    assert "checkpoint_frequency not set, will store the best model" in done.stderr
    assert "Traceback" not in done.stderr


def test_sagemaker_root_pipe_mode(digits_data, tmp_path):
    from icformat.train.sagemaker import read_sagemaker_root

    root = _sagemaker_root(tmp_path, digits_data, "Pipe")
    data = os.path.join(root, "input", "data")
    job = read_sagemaker_root(root)
    assert job.train.kind == "pipe" and job.validation.kind == "pipe" and job.train.attribute_names is None
    servers = [_serve(data, "train", digits_data["train"], epochs=1), _serve(data, "validation", digits_data["val"], epochs=1)]
    result = run_train(tmp_path, job.train, job.validation, output=job.output, epochs=1)
    _finish(*servers)
    assert os.path.exists(os.path.join(root, "model", "model.tar.gz")) and result.artifact == job.output


def test_sagemaker_root_lst_and_model_channels(digits_data, tmp_path):
    from icformat.train.sagemaker import read_sagemaker_root

    root = tmp_path / "opt-ml"
    config, data = root / "input" / "config", root / "input" / "data"
    config.mkdir(parents=True)
    data.mkdir()
    (config / "hyperparameters.json").write_text('{"num_classes": "10"}')
    channels = {c: {"ContentType": "application/x-image", "TrainingInputMode": "File"}
                for c in ("train", "train_lst", "model")}
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    os.symlink(digits_data["train_root"], data / "train")
    (data / "train_lst").mkdir()
    (data / "train_lst" / "train.lst").write_bytes(open(digits_data["train_lst"], "rb").read())
    (data / "model").mkdir()
    (data / "model" / "model.tar.gz").write_bytes(b"")
    job = read_sagemaker_root(str(root))
    assert job.train.kind == "lst" and job.train.root == str(data / "train") and job.validation is None
    assert job.model == str(data / "model" / "model.tar.gz") and job.hyperparameters == {"num_classes": "10"}
    assert job.output == str(root / "model" / "model.tar.gz")
    (config / "inputdataconfig.json").write_text(json.dumps({"validation": {}}))
    with pytest.raises(TrainingDataError, match="no train channel"):
        read_sagemaker_root(str(root))


# ---- SageMaker's data errors, before any training ----

@pytest.mark.parametrize("hp,text", [
    ({"mini_batch_size": 300}, "256 images, fewer than mini_batch_size=300"),
    ({"num_classes": 5}, "label(s) 5, 6, 7, 8, 9 outside 0..4"),
    ({"image_shape": f"3,{SIZE + 8},{SIZE + 8}"}, f"smaller than image_shape {SIZE + 8}x{SIZE + 8}; set resize"),
    ({"multi_label": 1}, "multi-label records carry 1 labels but num_classes=10"),
])
def test_data_errors_before_training(digits_data, tmp_path, hp, text):
    train_ch, val_ch = rec_job_channels(digits_data)
    with pytest.raises(TrainingDataError, match=re.escape(text)) as info:
        run_train(tmp_path, train_ch, val_ch, **hp)
    assert "\n" not in str(info.value) and "train.rec" in str(info.value)
    assert not os.path.exists(tmp_path / "model")


def test_multi_label_width_and_empty_channel(digits_data, tmp_path):
    train_ch, val_ch = rec_job_channels(digits_data, multi=True)
    with pytest.raises(TrainingDataError, match="carry 3 labels but num_classes=4"):
        run_train(tmp_path, train_ch, val_ch, multi_label=1, num_classes=4)
    empty = tmp_path / "empty.rec"
    empty.write_bytes(b"")
    with pytest.raises(TrainingDataError, match="validation channel: it holds no images"):
        run_train(tmp_path, rec_channel("train", digits_data["train"]), rec_channel("validation", str(empty)))
    with pytest.raises(TrainingDataError, match="train channel: it holds no images"):
        run_train(tmp_path, rec_channel("train", str(empty)))
    assert not os.path.exists(tmp_path / "model")


def test_missing_inputs(digits_data, tmp_path):
    with pytest.raises(InputNotFound, match="no .rec file there"):
        rec_channel("train", str(tmp_path / "nothing"))
    with pytest.raises(InputNotFound, match="no such .lst file"):
        lst_channel("train", str(tmp_path / "x.lst"))
    lst = tmp_path / "broken.lst"
    lst.write_text("0\t1\tmissing.png\n")
    with pytest.raises(InputNotFound, match="broken.lst:1: image 'missing.png' not found"):
        run_train(tmp_path, lst_channel("train", str(lst), digits_data["train_root"]), num_training_samples=1,
                  mini_batch_size=1)


def test_pipe_errors_while_streaming(digits_data, tmp_path):
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    few = tmp_path / "few.rec"
    samples.write_digits_rec(str(few), np.arange(8), size=SIZE)
    server = _serve(pipes, "train", str(few), epochs=1)
    with pytest.raises(TrainingDataError, match="8 images, fewer than mini_batch_size=16"):
        run_train(tmp_path, pipe_channel("train", str(pipes)), epochs=1)
    _finish(server)
    server = _serve(pipes, "train", digits_data["train"], epochs=1)
    with pytest.raises(TrainingDataError, match=r"outside 0..2 \(num_classes=3\)"):
        run_train(tmp_path, pipe_channel("train", str(pipes)), epochs=1, num_classes=3)
    server.kill()
    server.communicate()
