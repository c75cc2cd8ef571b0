"""Hyperparameters through the trainer's own validation (``icformat.train.hyperparameters``: the one
table of names, defaults and ranges), every problem at once with the source of its value; a tuning
job's ranges checked at both ends; and the few values the data checks need when the set is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..train.hyperparameters import (ERROR as HP_ERROR, Hyperparameters, HyperparameterProblem,
                                     validate_hyperparameters)
from .findings import ERROR, HYPERPARAMETER_REJECTED, POS_CLS_WEIGHTS, WARNING, Finding
from .job import Job

__all__ = ["Settings", "check_hyperparameters"]


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


def check_hyperparameters(job: Job) -> tuple[Settings, list[Finding]]:
    """Validate the job's hyperparameters (strings, as SageMaker sends them) for a GPU training job:
    every problem, each naming where its value came from; for a tuning job also every trial extreme."""
    review = validate_hyperparameters(job.hyperparameters, device="gpu", sources=job.sources,
                                      source=job.hyperparameters_source)
    findings = [_finding(p) for p in review.problems]
    seen = {(p.name, p.message) for p in review.problems}
    for tuned in job.tuning:
        for value in tuned.values:
            trial = {**job.hyperparameters, tuned.name: value}
            where = f"{job.source} (tuning range {tuned.name}: {tuned.kind} value {value})"
            for problem in validate_hyperparameters(trial, device="gpu", source=where).problems:
                if (problem.name, problem.message) in seen or problem.severity != HP_ERROR:
                    continue
                seen.add((problem.name, problem.message))
                findings.append(_finding(HyperparameterProblem(
                    problem.name, f"a tuning trial with {tuned.name}={value} fails: {problem.message}", HP_ERROR, where)))
    hp = review.hp
    if hp is not None:
        return Settings(hp, hp.num_classes, hp.multi_label, hp.image_shape, hp.num_layers, hp.resize), findings
    return _lenient(job.hyperparameters), findings


def _finding(problem: HyperparameterProblem) -> Finding:
    if problem.severity != HP_ERROR:
        return Finding(WARNING, "hyperparameters", problem.message, "", "", path=problem.source)
    prevents = POS_CLS_WEIGHTS if problem.name == "use_weighted_loss" else HYPERPARAMETER_REJECTED
    fix = f"correct {problem.name} in {problem.source}" if problem.source else f"set {problem.name}"
    return Finding(ERROR, "hyperparameters", problem.message, fix, prevents, path=problem.source)


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
