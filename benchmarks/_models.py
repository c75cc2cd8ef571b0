"""Models and images for the inference benchmarks: the trainer's own ResNet (``icformat.train.network``)
with random weights and non-trivial BatchNorm statistics, saved in SageMaker's layout."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from icformat.benchmarks._report import PACKAGE_ROOT as REPO  # noqa: E402  (the folder holding icformat)


def write_resnet(dest: str, num_layers: int, image_shape: tuple[int, int, int], num_classes: int = 10,
                 seed: int = 0) -> str:
    """``dest``: a model.tar.gz of a random ResNet-``num_layers`` (written once, then reused)."""
    if os.path.exists(dest):
        return dest
    from icformat.train.artifacts import MODEL_PREFIX, write_model_tarball
    from icformat.train.network import build_symbol
    from icformat.mxnet_runtime import import_mxnet

    mx = import_mxnet()
    symbol = build_symbol(num_classes, num_layers)
    rng = np.random.default_rng(seed)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1,) + image_shape)
    args = {}
    for name, shape in zip(symbol.list_arguments(), arg_shapes):
        if name in ("data", "softmax_label"):
            continue
        if name.endswith("_gamma"):
            value = rng.uniform(0.8, 1.2, shape)
        elif name.endswith(("_beta", "_bias")):
            value = rng.normal(0, 0.05, shape)
        else:
            value = rng.normal(0, np.sqrt(2.0 / max(1, int(np.prod(shape[1:])))), shape)
        args[name] = mx.nd.array(value.astype(np.float32))
    aux = {}
    for name, shape in zip(symbol.list_auxiliary_states(), aux_shapes):
        if name.startswith("bn_data"):
            value = np.full(shape, 120.0) if "mean" in name else np.full(shape, 3600.0)
        else:
            value = rng.normal(0, 0.1, shape) if "mean" in name else rng.uniform(0.8, 1.5, shape)
        aux[name] = mx.nd.array(value.astype(np.float32))
    folder = tempfile.mkdtemp()
    try:
        mx.model.save_checkpoint(os.path.join(folder, MODEL_PREFIX), 1, symbol, args, aux)
        write_model_tarball(dest + ".tmp", folder, [1], (1,) + image_shape)
        os.replace(dest + ".tmp", dest)
    finally:
        shutil.rmtree(folder)
    return dest


def images(root: str, count: int) -> list[str]:
    """``count`` real-photo JPEGs of ImageNet-like size; absolute paths."""
    from icformat import samples

    return [os.path.join(root, p) for p in samples.imagenet_like_corpus(root, count, classes=4)]


def core_python() -> str | None:
    """The core environment's interpreter (numpy 2 + onnxruntime)."""
    candidates = [os.environ.get("ICFORMAT_CORE_PYTHON"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(sys.executable))), ".venv-core",
                               "bin", "python"),
                  os.path.join(REPO, ".venv-core", "bin", "python")]
    return next((c for c in candidates if c and os.path.exists(c)), None)


def mxnet_module(model: str, batch_size: int = 1):
    """Plain MXNet: ``mx.model.load_checkpoint`` + ``Module`` bound for inference (the fused path off
    through ``import_mxnet``), the way a user would serve the checkpoint."""
    from icformat.train.artifacts import extract_model_tarball
    from icformat.mxnet_runtime import import_mxnet

    mx = import_mxnet()
    with tempfile.TemporaryDirectory() as tmp:
        files = extract_model_tarball(model, tmp)
        symbol, args, aux = mx.model.load_checkpoint(files.prefix, files.epoch)
    module = mx.mod.Module(symbol, label_names=None, context=mx.cpu())
    module.bind(data_shapes=[("data", (batch_size,) + tuple(files.image_shape))], for_training=False)
    module.set_params(args, aux, allow_missing=True)
    return mx, module, tuple(files.image_shape)


def mxnet_one_at_a_time(model: str, paths: list[str]) -> float:
    """Images/s of the plain MXNet loop: read, ``mx.image.imdecode``, ``imresize`` (no aspect kept),
    forward one image at a time."""
    import time

    mx, module, (c, h, w) = mxnet_module(model)
    began = time.perf_counter()
    for path in paths:
        with open(path, "rb") as f:
            image = mx.image.imresize(mx.image.imdecode(f.read()), w, h)
        data = mx.nd.transpose(image.astype("float32"), axes=(2, 0, 1)).expand_dims(0)
        module.forward(mx.io.DataBatch([data]), is_train=False)
        module.get_outputs()[0].asnumpy()
    return len(paths) / (time.perf_counter() - began)


# the predict path (library), timed after a warm-up; prints images/s and saves the probabilities
_PREDICT = r"""
import json, os, sys, time
import numpy as np
from icformat.serve import open_predictor
from icformat.serve.batches import iter_predictions
from icformat.serve.sources import ImageSource
model, listing, out = sys.argv[1:4]
paths = open(listing).read().split()
sources = [ImageSource(p, os.path.basename(p)) for p in paths]
predictor = open_predictor(model)
list(iter_predictions(predictor, sources[:16], batch_size=16))
began = time.perf_counter()
probs = [p.probabilities for p in iter_predictions(predictor, sources, batch_size=16)]
rate = len(paths) / (time.perf_counter() - began)
np.save(out, np.stack(probs))
print(json.dumps({"images_per_s": rate}))
"""


def run_predict(python: str, model: str, listing: str, out: str) -> tuple[float, np.ndarray]:
    """Images/s of icformat's batched predict in a fresh ``python`` process, and its probabilities."""
    env = {**os.environ, "PYTHONPATH": REPO}
    done = subprocess.run([python, "-c", _PREDICT, model, listing, out], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"predict failed ({model}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["images_per_s"], np.load(out)
