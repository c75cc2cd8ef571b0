"""Benchmark reporting: every figure beside its anchor measured in the same run, as a ratio."""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import icformat

#: the folder holding the icformat package (a checkout's root, or site-packages): what a child
#: interpreter needs on PYTHONPATH to import this icformat
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(icformat.__file__)))


def work_dir(name: str) -> str:
    """Where a benchmark keeps its corpora between runs: ``$ICFORMAT_BENCH_DIR/NAME``; else
    ``.bench/NAME`` in a checkout, or ``icformat-bench/NAME`` in the temp folder for an installed
    package (never inside site-packages)."""
    base = os.environ.get("ICFORMAT_BENCH_DIR")
    if not base:
        in_checkout = os.path.exists(os.path.join(PACKAGE_ROOT, "pyproject.toml"))
        base = os.path.join(PACKAGE_ROOT, ".bench") if in_checkout else os.path.join(tempfile.gettempdir(), "icformat-bench")
    return os.path.join(base, name)


@dataclass
class Row:
    name: str
    value: float
    unit: str
    anchor: str
    anchor_value: float
    higher_is_better: bool = True
    target: str | None = None
    ratio: float = field(init=False)

    def __post_init__(self) -> None:
        if self.anchor_value and self.value:
            self.ratio = self.value / self.anchor_value if self.higher_is_better else self.anchor_value / self.value
        else:
            self.ratio = float("nan")


class Report:
    """Collects rows and prints them as one table (or JSON)."""

    def __init__(self, title: str):
        self.title = title
        self.rows: list[Row] = []

    def add(self, name, value, unit, anchor, anchor_value, higher_is_better=True, target=None) -> Row:
        row = Row(name, float(value), unit, anchor, float(anchor_value), higher_is_better, target)
        self.rows.append(row)
        return row

    def print(self) -> None:
        print(f"\n== {self.title} ({machine()})")
        print(f"{'figure':<46} {'value':>12} {'anchor (same run)':>40} {'ratio':>8}  target")
        for r in self.rows:
            anchor = f"{r.anchor} {_num(r.anchor_value)}"
            print(f"{r.name:<46} {_num(r.value):>10} {r.unit:<5}{anchor:>35} {r.ratio:>7.2f}x  {r.target or ''}")

    def to_json(self) -> dict:
        return {"title": self.title, "machine": machine(), "rows": [asdict(r) for r in self.rows]}


def _num(value: float) -> str:
    """Readable at any magnitude: 1,234,567 / 123.4 / 0.123."""
    if value != value:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def best_of(fn: Callable[[], object], repeat: int = 3, warmup: int = 1) -> tuple[float, object]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times; return (best seconds, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def emit(reports: list[Report], as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        for r in reports:
            r.print()
