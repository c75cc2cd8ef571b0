"""SageMaker's image-classification network: a pre-activation (v2) ResNet as an MXNet symbol.

The graph follows the one SageMaker's artifacts hold: ``data`` -> ``id`` -> ``bn_data`` (the input
normalised inside the graph, so the model takes raw 0-255 RGB pixels) -> stem (``conv0``; ImageNet
depths add ``bn0``/``relu0``/``pooling0``) -> ``stage{i}_unit{k}_*`` residual units -> ``bn1`` ->
``relu1`` -> ``pool1`` -> ``flatten0`` -> ``fc`` -> ``softmax`` (``SoftmaxOutput``; a
``LogisticRegressionOutput`` of the same name for multi-label, so that every artifact takes the label
``softmax_label``).

MXNet's BatchNorm updates its running statistics in the backward pass: ``bn_data`` keeps a trainable
``beta`` so that backward runs through it and its statistics follow the data.
"""
from __future__ import annotations

from dataclasses import dataclass

from .hyperparameters import CIFAR_DEPTHS, IMAGENET_DEPTHS
from ..mxnet_runtime import import_mxnet

BN_MOMENTUM = 0.9
BN_EPS = 2e-5
_IMAGENET_UNITS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                   152: (3, 8, 36, 3), 200: (3, 24, 36, 3)}


@dataclass(frozen=True)
class Architecture:
    """Units per stage, filters (stem first) and whether units are bottlenecks, for a depth."""

    num_layers: int
    units: tuple[int, ...]
    filters: tuple[int, ...]
    bottleneck: bool
    cifar_stem: bool


def architecture(num_layers: int) -> Architecture:
    """The ResNet layout of ``num_layers`` (18..200 ImageNet-style, 20..110 CIFAR-style)."""
    if num_layers in CIFAR_DEPTHS:
        per_stage = (num_layers - 2) // 6
        return Architecture(num_layers, (per_stage,) * 3, (16, 16, 32, 64), False, True)
    if num_layers not in IMAGENET_DEPTHS:
        raise ValueError(f"num_layers must be one of {IMAGENET_DEPTHS + CIFAR_DEPTHS}, got {num_layers}")
    if num_layers >= 50:
        return Architecture(num_layers, _IMAGENET_UNITS[num_layers], (64, 256, 512, 1024, 2048), True, False)
    return Architecture(num_layers, _IMAGENET_UNITS[num_layers], (64, 64, 128, 256, 512), False, False)


def depth_of(units: tuple[int, ...], bottleneck: bool, cifar_stem: bool) -> int | None:
    """The ``num_layers`` a layout stands for (None when it is none of SageMaker's)."""
    for depth in IMAGENET_DEPTHS + CIFAR_DEPTHS:
        arch = architecture(depth)
        if (arch.units, arch.bottleneck, arch.cifar_stem) == (tuple(units), bottleneck, cifar_stem):
            return depth
    return None


def _bn(mx, data, name: str, fix_gamma: bool = False):
    return mx.sym.BatchNorm(data=data, fix_gamma=fix_gamma, eps=BN_EPS, momentum=BN_MOMENTUM, name=name)


def _conv(mx, data, filters: int, kernel: int, stride: int, name: str):
    return mx.sym.Convolution(data=data, num_filter=filters, kernel=(kernel, kernel), stride=(stride, stride),
                              pad=(kernel // 2, kernel // 2), no_bias=True, workspace=256, name=name)


def _relu(mx, data, name: str):
    return mx.sym.Activation(data=data, act_type="relu", name=name)


def residual_unit(mx, data, filters: int, stride: int, same_shape: bool, name: str, bottleneck: bool):
    """One pre-activation unit: BN-ReLU-conv twice (or three times, 1x1-3x3-1x1, as a bottleneck),
    plus the input, or a strided 1x1 projection ``_sc`` of the activated input when shapes change."""
    act = _relu(mx, _bn(mx, data, f"{name}_bn1"), f"{name}_relu1")
    if bottleneck:
        body = _conv(mx, act, filters // 4, 1, 1, f"{name}_conv1")
        body = _conv(mx, _relu(mx, _bn(mx, body, f"{name}_bn2"), f"{name}_relu2"), filters // 4, 3, stride,
                     f"{name}_conv2")
        body = _conv(mx, _relu(mx, _bn(mx, body, f"{name}_bn3"), f"{name}_relu3"), filters, 1, 1, f"{name}_conv3")
    else:
        body = _conv(mx, act, filters, 3, stride, f"{name}_conv1")
        body = _conv(mx, _relu(mx, _bn(mx, body, f"{name}_bn2"), f"{name}_relu2"), filters, 3, 1, f"{name}_conv2")
    shortcut = data if same_shape else _conv(mx, act, filters, 1, stride, f"{name}_sc")
    return body + shortcut


def features(mx, arch: Architecture, dtype: str = "float32"):
    """``data`` through the residual stages and the global average pool, flattened (``flatten0``)."""
    data = mx.sym.Variable("data")
    body = mx.sym.identity(data=data, name="id")
    body = _bn(mx, body, "bn_data", fix_gamma=True)
    if dtype == "float16":
        body = mx.sym.Cast(data=body, dtype="float16", name="cast_fp16")
    if arch.cifar_stem:
        body = _conv(mx, body, arch.filters[0], 3, 1, "conv0")
    else:
        body = mx.sym.Convolution(data=body, num_filter=arch.filters[0], kernel=(7, 7), stride=(2, 2), pad=(3, 3),
                                  no_bias=True, workspace=256, name="conv0")
        body = _relu(mx, _bn(mx, body, "bn0"), "relu0")
        body = mx.sym.Pooling(data=body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max", name="pooling0")
    for stage, count in enumerate(arch.units):
        for unit in range(count):
            stride = 2 if unit == 0 and stage > 0 else 1
            body = residual_unit(mx, body, arch.filters[stage + 1], stride, unit > 0,
                                 f"stage{stage + 1}_unit{unit + 1}", arch.bottleneck)
    body = _relu(mx, _bn(mx, body, "bn1"), "relu1")
    body = mx.sym.Pooling(data=body, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
    if dtype == "float16":
        body = mx.sym.Cast(data=body, dtype="float32", name="cast_fp32")
    return mx.sym.Flatten(data=body, name="flatten0")


def build_symbol(num_classes: int, num_layers: int, *, multi_label: bool = False, dtype: str = "float32"):
    """The network SageMaker's artifacts hold (inference and plain training share it)."""
    mx = import_mxnet()
    with mx.name.NameManager():
        fc = mx.sym.FullyConnected(data=features(mx, architecture(num_layers), dtype), num_hidden=num_classes, name="fc")
        if multi_label:
            return mx.sym.LogisticRegressionOutput(data=fc, name="softmax")
        return mx.sym.SoftmaxOutput(data=fc, name="softmax")


#: the fixed (never trained) input holding the positive-class weights of the weighted loss
POS_WEIGHT = "pos_cls_weights"


def build_weighted_training_symbol(num_classes: int, num_layers: int, *, dtype: str = "float32"):
    """Multi-label training with a class-weighted binary cross-entropy (``use_weighted_loss``).

    Outputs ``[loss, probabilities]``; ``pos_cls_weights`` (1 x classes) weighs the positive terms
    and is a parameter kept fixed. The artifact uses :func:`build_symbol`'s graph, whose parameters
    are the same."""
    mx = import_mxnet()
    with mx.name.NameManager():
        fc = mx.sym.FullyConnected(data=features(mx, architecture(num_layers), dtype), num_hidden=num_classes, name="fc")
        label = mx.sym.Variable("softmax_label")
        weights = mx.sym.Variable(POS_WEIGHT, shape=(1, num_classes))
        prob = mx.sym.sigmoid(fc, name="sigmoid")
        eps = 1e-7
        positive = mx.sym.broadcast_mul(weights, label * mx.sym.log(prob + eps))
        negative = (1 - label) * mx.sym.log(1 - prob + eps)
        loss = mx.sym.MakeLoss(-mx.sym.mean(positive + negative, axis=1), normalization="batch", name="weighted_loss")
        return mx.sym.Group([loss, mx.sym.BlockGrad(prob, name="softmax")])
