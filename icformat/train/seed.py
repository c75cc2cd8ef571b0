"""Weights that seed a training run: an earlier ``model.tar.gz`` (incremental training, SageMaker's
``model`` channel) or a pretrained MXNet checkpoint (transfer learning, ``use_pretrained_model=1``).

Both are checked against the hyperparameters before any training: an incremental model must have
the same ``num_layers``, ``image_shape`` and ``num_classes``; a pretrained one the same depth (its
``fc`` layer is dropped and re-initialised).
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from ..io.paths import is_uri
from ..io.streams import open_input
from ..errors import InputNotFound, ModelMismatchError
from .artifacts import ModelFiles, extract_model_tarball
from .hyperparameters import Hyperparameters
from .network import depth_of
from ..mxnet_runtime import import_mxnet

_UNIT_RE = re.compile(r"^stage(\d+)_unit(\d+)_")


@dataclass
class SeedWeights:
    """Parameters to start from, and what was read from them."""

    arg_params: dict
    aux_params: dict
    source: str
    num_layers: int | None
    num_classes: int | None
    image_shape: tuple[int, ...] | None


def load_params(path: str) -> tuple[dict, dict]:
    """``(arg_params, aux_params)`` of an MXNet ``.params`` file."""
    mx = import_mxnet()
    try:
        saved = mx.nd.load(path)
    except Exception as exc:  # MXNetError: not an NDArray file
        raise ModelMismatchError(f"{path}: not an MXNet .params file ({str(exc).splitlines()[0]})") from None
    arg = {k[4:]: v for k, v in saved.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in saved.items() if k.startswith("aux:")}
    return arg, aux


def infer_depth(arg_params: dict) -> int | None:
    """The ResNet ``num_layers`` of a parameter set, from its unit names and stem."""
    units: dict[int, int] = {}
    for name in arg_params:
        match = _UNIT_RE.match(name)
        if match:
            stage, unit = int(match.group(1)), int(match.group(2))
            units[stage] = max(units.get(stage, 0), unit)
    if not units or "conv0_weight" not in arg_params:
        return None
    bottleneck = any(name.endswith("_conv3_weight") for name in arg_params)
    cifar = arg_params["conv0_weight"].shape[-1] == 3
    return depth_of(tuple(units[s] for s in sorted(units)), bottleneck, cifar)


def load_incremental(model: str, hp: Hyperparameters, workdir: str) -> SeedWeights:
    """The weights of an earlier run's ``model.tar.gz`` (or extracted folder), refused with one line
    when its ``num_layers``, ``image_shape`` or ``num_classes`` differ from ``hp``."""
    files: ModelFiles = extract_model_tarball(model, os.path.join(workdir, "seed-model"))
    arg, aux = load_params(files.params_path)
    seed = SeedWeights(arg, aux, model, infer_depth(arg), _classes(arg), files.image_shape)
    mismatches = []
    if seed.num_layers != hp.num_layers:
        mismatches.append(f"num_layers {seed.num_layers or 'unknown'} (hyperparameters: {hp.num_layers})")
    if seed.image_shape is not None and tuple(seed.image_shape) != tuple(hp.image_shape):
        mismatches.append(f"image_shape {_shape(seed.image_shape)} (hyperparameters: {_shape(hp.image_shape)})")
    if seed.num_classes != hp.num_classes:
        mismatches.append(f"num_classes {seed.num_classes} (hyperparameters: {hp.num_classes})")
    if mismatches:
        raise ModelMismatchError(f"{model}: the model to train incrementally has {'; '.join(mismatches)}; "
                                 "num_layers, image_shape and num_classes must equal the model's")
    return seed


def load_pretrained(pretrained: str | None, hp: Hyperparameters, workdir: str) -> SeedWeights:
    """Weights for transfer learning: every layer but ``fc``, from a ``.params`` file, a checkpoint
    prefix (its last epoch), a ``model.tar.gz`` (local or ``s3://``) or an extracted folder."""
    if not pretrained:
        raise ModelMismatchError(
            "use_pretrained_model=1 needs pretrained weights: give --pretrained PREFIX_OR_TGZ (an MXNet checkpoint "
            f"prefix, .params file or model.tar.gz of a ResNet-{hp.num_layers}); training hosts are often offline, "
            "so nothing is downloaded")
    arg, aux = load_params(_params_path(pretrained, workdir))
    depth = infer_depth(arg)
    if depth != hp.num_layers:
        raise ModelMismatchError(f"{pretrained}: the pretrained model is a ResNet-{depth or '?'}, but num_layers="
                                 f"{hp.num_layers}; give weights of the same depth")
    keep = {k: v for k, v in arg.items() if not k.startswith("fc")}
    return SeedWeights(keep, aux, pretrained, depth, None, None)


def _params_path(pretrained: str, workdir: str) -> str:
    name = os.fspath(pretrained)
    if name.endswith(".params") and (is_uri(name) or os.path.isfile(name)):
        if is_uri(name):
            local = os.path.join(workdir, "pretrained.params")
            with open_input(name, "rb") as src, open(local, "wb") as out:
                out.write(src.read())
            return local
        return name
    if is_uri(name) or name.endswith((".tar.gz", ".tgz")) or os.path.isdir(name):
        return extract_model_tarball(name, os.path.join(workdir, "pretrained")).params_path
    epochs = sorted(glob.glob(glob.escape(name) + "-[0-9][0-9][0-9][0-9].params"))
    if not epochs:
        raise InputNotFound(f"{name}: no checkpoint there (no {os.path.basename(name)}-NNNN.params, .params file, "
                            ".tar.gz or folder)", path=name)
    return epochs[-1]


def check_against(seed: SeedWeights, shapes: dict[str, tuple], skip_prefix: str | None = None) -> None:
    """Refuse seed weights whose shapes differ from the network's (e.g. other image channels)."""
    for name, shape in shapes.items():
        if skip_prefix and name.startswith(skip_prefix):
            continue
        have = seed.arg_params.get(name, seed.aux_params.get(name))
        if have is None:
            raise ModelMismatchError(f"{seed.source}: no parameter {name}; the model is not this network")
        if tuple(have.shape) != tuple(shape):
            raise ModelMismatchError(f"{seed.source}: parameter {name} has shape {tuple(have.shape)}, the network "
                                     f"needs {tuple(shape)}")


def _classes(arg: dict) -> int | None:
    weight = arg.get("fc_weight")
    return int(weight.shape[0]) if weight is not None else None


def _shape(shape) -> str:
    return ",".join(str(v) for v in shape)
