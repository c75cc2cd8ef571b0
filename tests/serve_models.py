"""Small models in SageMaker's layout for the inference tests, built with plain MXNet, and the
oracle that computes their probabilities on MXNet's unfused path (a module bound for training).

The network is a 2-unit pre-activation ResNet with SageMaker's names (``id`` -> ``bn_data`` with
fix_gamma -> ``conv0`` -> ``stage1_unit*`` -> ``bn1`` -> ``relu1`` -> ``pool1`` -> ``flatten0`` ->
``fc`` -> ``softmax``), so it has the ``conv -> (+ shortcut) -> BatchNorm`` pattern MXNet's fused CPU
path gets wrong. Its BatchNorm statistics and gammas are random and far from the defaults (the stored
``bn_data_gamma`` is 0.5 although fix_gamma makes MXNet use 1).
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile

import numpy as np

IMAGE_SHAPE = (3, 32, 32)
NUM_CLASSES = 4


def _unit(mx, x, name: str, filters: int, stride: int, project: bool):
    bn1 = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_bn1")
    act1 = mx.sym.Activation(bn1, act_type="relu", name=f"{name}_relu1")
    conv1 = mx.sym.Convolution(act1, num_filter=filters, kernel=(3, 3), stride=(stride, stride), pad=(1, 1),
                               no_bias=True, name=f"{name}_conv1")
    bn2 = mx.sym.BatchNorm(conv1, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_bn2")
    act2 = mx.sym.Activation(bn2, act_type="relu", name=f"{name}_relu2")
    conv2 = mx.sym.Convolution(act2, num_filter=filters, kernel=(3, 3), pad=(1, 1), no_bias=True, name=f"{name}_conv2")
    shortcut = x
    if project:
        shortcut = mx.sym.Convolution(act1, num_filter=filters, kernel=(1, 1), stride=(stride, stride), no_bias=True,
                                      name=f"{name}_sc")
    return conv2 + shortcut


def sagemaker_symbol(mx, num_classes: int = NUM_CLASSES, multi_label: bool = False):
    """The symbol, ending in SageMaker's ``SoftmaxOutput`` (``LogisticRegressionOutput`` if multi-label).
    Built under a fresh name manager, so automatic names (``_plus0``) do not depend on earlier symbols."""
    with mx.name.NameManager():
        return _build(mx, num_classes, multi_label)


def _build(mx, num_classes: int, multi_label: bool):
    x = mx.sym.identity(mx.sym.Variable("data"), name="id")
    x = mx.sym.BatchNorm(x, fix_gamma=True, eps=2e-5, momentum=0.9, name="bn_data")
    x = mx.sym.Convolution(x, num_filter=8, kernel=(3, 3), pad=(1, 1), no_bias=True, name="conv0")
    x = _unit(mx, x, "stage1_unit1", 16, 2, True)
    x = _unit(mx, x, "stage1_unit2", 16, 1, False)
    x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name="bn1")
    x = mx.sym.Activation(x, act_type="relu", name="relu1")
    x = mx.sym.Pooling(x, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
    x = mx.sym.Flatten(x, name="flatten0")
    fc = mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc")
    if multi_label:
        return mx.sym.LogisticRegressionOutput(fc, name="softmax")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def random_params(mx, symbol, seed: int = 0) -> tuple[dict, dict]:
    """Xavier weights and non-trivial BatchNorm parameters and statistics."""
    rng = np.random.default_rng(seed)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1,) + IMAGE_SHAPE)
    args, aux = {}, {}
    for name, shape in zip(symbol.list_arguments(), arg_shapes):
        if name in ("data", "softmax_label"):
            continue
        if name.endswith("_gamma"):
            value = rng.uniform(0.5, 1.5, shape) if name != "bn_data_gamma" else np.full(shape, 0.5)
        elif name.endswith("_beta") or name.endswith("_bias"):
            value = rng.normal(0, 0.2, shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            value = rng.normal(0, np.sqrt(2.0 / fan_in), shape)
        args[name] = mx.nd.array(value.astype(np.float32))
    for name, shape in zip(symbol.list_auxiliary_states(), aux_shapes):
        if name.startswith("bn_data"):
            value = rng.uniform(100, 140, shape) if "mean" in name else rng.uniform(2500, 4000, shape)
        else:
            value = rng.normal(0, 0.3, shape) if "mean" in name else rng.uniform(0.5, 2.0, shape)
        aux[name] = mx.nd.array(value.astype(np.float32))
    return args, aux


def write_model(mx, dest: str, *, multi_label: bool = False, seed: int = 0, epoch: int = 3) -> str:
    """Write ``dest`` (a ``model.tar.gz``) as SageMaker's algorithm does; returns ``dest``."""
    from icformat.train.artifacts import MODEL_PREFIX, write_model_tarball

    symbol = sagemaker_symbol(mx, multi_label=multi_label)
    args, aux = random_params(mx, symbol, seed)
    folder = tempfile.mkdtemp(prefix="icformat-ckpt-")
    try:
        mx.model.save_checkpoint(os.path.join(folder, MODEL_PREFIX), epoch, symbol, args, aux)
        write_model_tarball(dest, folder, [epoch], (8,) + IMAGE_SHAPE)
    finally:
        shutil.rmtree(folder)
    return dest


_ROOT = tempfile.mkdtemp(prefix="icformat-serve-models-")
atexit.register(shutil.rmtree, _ROOT, True)


@functools.cache
def cached_model(multi_label: bool = False) -> str:
    """One model.tar.gz per kind per test process."""
    from icformat.mxnet_runtime import import_mxnet

    mx = import_mxnet()
    return write_model(mx, os.path.join(_ROOT, f"model-{'ml' if multi_label else 'mc'}.tar.gz"), multi_label=multi_label)


def oracle_probabilities(mx, model_tarball: str, batch: np.ndarray) -> np.ndarray:
    """Probabilities from plain ``mx.model.load_checkpoint`` on a module bound for training (MXNet's
    unfused path), evaluated in inference mode (running BatchNorm statistics)."""
    from icformat.train.artifacts import extract_model_tarball

    with tempfile.TemporaryDirectory() as tmp:
        files = extract_model_tarball(model_tarball, tmp)
        symbol, args, aux = mx.model.load_checkpoint(files.prefix, files.epoch)
    label = symbol.list_arguments()[-1]
    out_shape = symbol.infer_shape(data=batch.shape)[1][0]
    label_shape = (batch.shape[0],) if label == "softmax_label" and "SoftmaxOutput" in symbol.tojson() else out_shape
    module = mx.mod.Module(symbol, data_names=("data",), label_names=(label,), context=mx.cpu())
    module.bind(data_shapes=[("data", batch.shape)], label_shapes=[(label, label_shape)], for_training=True)
    module.set_params(args, aux)
    module.forward(mx.io.DataBatch([mx.nd.array(batch)], [mx.nd.zeros(label_shape)]), is_train=False)
    return module.get_outputs()[0].asnumpy()
