"""The ``model`` channel of incremental training: the seed model must have the job's ``num_layers``,
``image_shape`` and ``num_classes`` (together they define the network)."""
from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass

from ..errors import FormatError, IcformatError
from ..train.artifacts import extract_model_tarball
from ..train.network import depth_of
from .findings import ERROR, INCOMPATIBLE_MODEL, Finding
from .hyperparameters import Settings

_UNIT = re.compile(r"^stage(\d+)_unit(\d+)_")


@dataclass(frozen=True)
class Architecture:
    """What a model's symbol and shapes say: classes, ResNet depth, input (C, H, W)."""

    num_classes: int | None
    num_layers: int | None
    image_shape: tuple[int, ...] | None


def read_architecture(symbol_json: str, image_shape: tuple[int, ...] | None) -> Architecture:
    """Classes from the ``fc`` layer's ``num_hidden``; depth from the residual units per stage,
    whether they are bottlenecks (a ``conv3``) and the stem (a 3x3 ``conv0``: the small-image
    depths), as the trainer's network lays them out (``train.network.depth_of``)."""
    try:
        nodes = json.loads(symbol_json)["nodes"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"the model's symbol JSON cannot be read ({exc})") from exc
    classes = None
    units: dict[int, int] = {}
    bottleneck = cifar_stem = False
    for node in nodes:
        name = node.get("name", "")
        attrs = node.get("attrs") or node.get("param") or {}
        if node.get("op") == "FullyConnected" and name == "fc":
            classes = int(attrs.get("num_hidden", 0)) or None
        elif name == "conv0":
            cifar_stem = attrs.get("kernel", "").replace(" ", "") == "(3,3)"
        match = _UNIT.match(name)
        if match:
            stage, unit = int(match.group(1)), int(match.group(2))
            units[stage] = max(units.get(stage, 0), unit)
            bottleneck = bottleneck or name.endswith("_conv3")
    depth = depth_of(tuple(units[s] for s in sorted(units)), bottleneck, cifar_stem) if units else None
    return Architecture(classes, depth, tuple(image_shape) if image_shape else None)


def check_model_channel(uri: str, settings: Settings, channel: str = "model") -> list[Finding]:
    """Compare the seed model at ``uri`` (``model.tar.gz`` or its folder) with the hyperparameters."""
    with tempfile.TemporaryDirectory(prefix="icformat-preflight-") as tmp:
        try:
            files = extract_model_tarball(uri, tmp)
            with open(files.symbol_path, encoding="utf-8") as f:
                arch = read_architecture(f.read(), files.image_shape)
        except IcformatError as exc:
            return [Finding(ERROR, "model", str(exc), "give the model.tar.gz an image-classification job wrote",
                            INCOMPATIBLE_MODEL, channel, uri)]
    wanted = {"num_classes": settings.num_classes, "num_layers": settings.num_layers,
              "image_shape": settings.image_shape}
    found = {"num_classes": arch.num_classes, "num_layers": arch.num_layers, "image_shape": arch.image_shape}
    findings = []
    for name, value in wanted.items():
        have = found[name]
        if value is None or (have is None and name != "num_layers") or tuple(_seq(value)) == tuple(_seq(have)):
            continue
        shown = ",".join(map(str, have)) if name == "image_shape" else (have or "unknown (not a SageMaker ResNet)")
        asked = ",".join(map(str, value)) if name == "image_shape" else value
        findings.append(Finding(ERROR, "model", f"the seed model has {name}={shown} but the hyperparameters say {asked}",
                                f"set {name}={shown} (incremental training keeps the architecture)",
                                INCOMPATIBLE_MODEL, channel, uri))
    return findings


def _seq(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)
