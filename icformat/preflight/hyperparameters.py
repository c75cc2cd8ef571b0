"""Hyperparameters through the trainer's own validation (``icformat.train.hyperparameters``: the one
table of names, defaults and ranges), and the few values the data checks need when it refuses them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import HyperparameterError
from ..train.hyperparameters import Hyperparameters, check_dataset, parse_hyperparameters
from .findings import ERROR, HYPERPARAMETER_REJECTED, POS_CLS_WEIGHTS, Finding

__all__ = ["Settings", "check_dataset", "check_hyperparameters"]


@dataclass(frozen=True)
class Settings:
    """What the data checks use: the trainer's ``Hyperparameters`` when they are valid; otherwise
    whatever of num_classes, multi_label, image_shape... could still be read (None: unknown)."""

    hp: Hyperparameters | None
    num_classes: int | None
    multi_label: bool | None
    image_shape: tuple[int, int, int] | None
    num_layers: int | None
    resize: int | None


def check_hyperparameters(raw: Mapping[str, Any], source: str | None = None) -> tuple[Settings, list[Finding]]:
    """Validate ``raw`` (strings, as SageMaker sends them) for a GPU training job."""
    try:
        hp = parse_hyperparameters(raw, device="gpu")
    except HyperparameterError as exc:
        return _lenient(raw), [_finding(exc, source)]
    return Settings(hp, hp.num_classes, hp.multi_label, hp.image_shape, hp.num_layers, hp.resize), []


def _finding(exc: HyperparameterError, source: str | None) -> Finding:
    name = exc.name or "hyperparameters"
    prevents = POS_CLS_WEIGHTS if name == "use_weighted_loss" else HYPERPARAMETER_REJECTED
    return Finding(ERROR, "hyperparameters", str(exc), f"correct {name} in the hyperparameters", prevents,
                   path=source)


def _lenient(raw: Mapping[str, Any]) -> Settings:
    """Values the data checks can still use when the set as a whole is refused."""
    def read(name: str, parse):
        try:
            return parse(raw[name]) if name in raw else None
        except (ValueError, TypeError):
            return None

    shape = read("image_shape", lambda v: tuple(int(p) for p in str(v).split(",")))
    return Settings(
        hp=None,
        num_classes=read("num_classes", lambda v: int(str(v).strip()) if int(str(v).strip()) > 0 else None),
        multi_label=read("multi_label", lambda v: str(v).strip() in ("1", "1.0")),
        image_shape=shape if shape and len(shape) == 3 else None,
        num_layers=read("num_layers", lambda v: int(str(v).strip())),
        resize=read("resize", lambda v: int(str(v).strip())),
    )
