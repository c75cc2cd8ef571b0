"""Shared pieces of the trainer tests: real digits (scikit-learn) in every input format, small shapes.

Trainer tests need MXNet. In the core environment (numpy 2, where MXNet 1.9.1 cannot run) they
skip visibly; in the full environment a failed import of MXNet is an error, not a skip.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

if int(np.__version__.split(".")[0]) >= 2:
    pytest.skip("core environment (numpy 2, no mxnet): trainer tests skipped", allow_module_level=True)

import mxnet  # noqa: E402,F401  (in the full environment this must import)

from icformat import samples  # noqa: E402
from icformat.lst import write_lst  # noqa: E402
from icformat.train.data import FeedOptions, lst_channel, rec_channel  # noqa: E402
from icformat.train.hyperparameters import parse_hyperparameters  # noqa: E402
from icformat.train.trainer import TrainJob, train  # noqa: E402

SIZE = 16  # digits upscaled to 16x16: small enough for fast CPU runs
N_TRAIN, N_VAL = 256, 64
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def split_indices():
    order = np.random.RandomState(0).permutation(1797)
    return order[:N_TRAIN], order[N_TRAIN:N_TRAIN + N_VAL]


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory) -> dict:
    """``train.rec``/``val.rec``, two train shards, ``.lst`` + PNG images, multi-label .rec files."""
    root = tmp_path_factory.mktemp("digits")
    train_idx, val_idx = split_indices()
    paths = {"root": str(root)}
    paths["train"] = str(root / "train.rec")
    paths["val"] = str(root / "val.rec")
    samples.write_digits_rec(paths["train"], train_idx, size=SIZE)
    samples.write_digits_rec(paths["val"], val_idx, size=SIZE)
    shards = root / "shards"
    shards.mkdir()
    samples.write_digits_rec(str(shards / "part-00000-of-00002.rec"), train_idx[:128], size=SIZE)
    samples.write_digits_rec(str(shards / "part-00001-of-00002.rec"), train_idx[128:], size=SIZE)
    paths["shards"] = str(shards)
    paths.update(_write_lst(root, train_idx, val_idx))
    _, targets = samples.digit_images(SIZE)
    for name, idx in (("ml_train", train_idx), ("ml_val", val_idx)):
        paths[name] = str(root / f"{name}.rec")
        samples.write_digits_rec(paths[name], idx, size=SIZE, labels=multi_hot(targets[idx]))
    return paths


def multi_hot(targets: np.ndarray) -> np.ndarray:
    """Three labels per digit: even, at least 5, a zero."""
    return np.stack([targets % 2 == 0, targets >= 5, targets == 0], axis=1).astype(np.float32)


def _write_lst(root, train_idx, val_idx) -> dict:
    from PIL import Image

    images, targets = samples.digit_images(SIZE)
    out = {}
    for name, idx in (("train", train_idx), ("val", val_idx)):
        folder = root / f"images_{name}"
        folder.mkdir()
        entries = []
        for n, i in enumerate(idx):
            rel = f"d{targets[i]}/{n:04d}.png"
            os.makedirs(folder / f"d{targets[i]}", exist_ok=True)
            Image.fromarray(images[i]).save(folder / rel)
            entries.append((n, [float(targets[i])], rel))
        lst = root / f"{name}.lst"
        write_lst(str(lst), entries)
        out[f"{name}_lst"], out[f"{name}_root"] = str(lst), str(folder)
    return out


def hyperparameters(**extra) -> dict:
    base = {"num_classes": "10", "num_training_samples": str(N_TRAIN), "num_layers": "20",
            "image_shape": f"3,{SIZE},{SIZE}", "mini_batch_size": "16", "epochs": "2", "learning_rate": "0.05"}
    base.update({k: str(v) for k, v in extra.items()})
    return base


def run_train(tmp_path, train_channel, val_channel=None, *, output=None, model=None, pretrained=None, **hp):
    job = TrainJob(parse_hyperparameters(hyperparameters(**hp)), train_channel, val_channel,
                   output or str(tmp_path / "model" / "model.tar.gz"), model, pretrained, FeedOptions(num_workers=0))
    return train(job)


def rec_job_channels(digits_data, multi=False):
    prefix = "ml_" if multi else ""
    return (rec_channel("train", digits_data[f"{prefix}train"]),
            rec_channel("validation", digits_data[f"{prefix}val"]))


def tar_names(path: str) -> list[str]:
    with tarfile.open(path) as tar:
        return sorted(tar.getnames())


def icformat(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI of this checkout."""
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "icformat", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, **kwargs)


def json_summary(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{"):])


__all__ = ["digits_data", "hyperparameters", "run_train", "rec_job_channels", "tar_names", "icformat", "json_summary",
           "multi_hot", "split_indices", "lst_channel", "rec_channel", "SIZE", "N_TRAIN", "N_VAL", "REPO"]
