#!/usr/bin/env python3
"""Run every benchmark in benchmarks/ (installed as icformat.benchmarks) and print one table: each
figure beside its anchor measured in the same run, the ratio, and whether the target is met.

Each script runs as a child process (``python -m icformat.benchmarks.NAME --json``, and --quick with
--quick) under a time limit taken from one overall budget (default 570 s, to finish within 10
minutes on 2 cores); a script that fails or runs out of time is listed as such and the others still
run. A script whose packages are not installed is not started: one line names what it lacks and
the extra that brings it. --quick is a smoke run on small corpora: its figures are indicative and
are not judged against the targets. Exit status: 0 when every script that could run ran, 1
otherwise (2 with --strict when a target was missed, full runs only).
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time

from icformat.benchmarks._report import PACKAGE_ROOT, _num  # numbers readable at any magnitude

HERE = os.path.dirname(os.path.abspath(__file__))
#: modules of this folder that are not benchmarks
HELPERS = {"run_all", "s3server"}
#: what each benchmark cannot run without: (module, what installs it); the rest it finds or skips itself
_BENCH = "pip install 'icformat[bench]'"
_SAMPLES = ("skimage", _BENCH)  # real photos from scikit-image
REQUIRES = {
    "gpu_loader": [_SAMPLES, ("torch", "pip install torch")],
    "im2rec": [_SAMPLES],
    "loader": [_SAMPLES],
    "manifest": [_SAMPLES, ("moto", _BENCH)],
    "onnx_export": [("mxnet", "pip install 'icformat[train,export]'"), ("onnx", "pip install 'icformat[export]'")],
    "preflight": [_SAMPLES],
    "recordio": [_SAMPLES],
    "s3_random": [("moto", _BENCH)],
    "serve": [_SAMPLES, ("mxnet", "pip install 'icformat[train,serve]'"), ("gunicorn", "pip install 'icformat[serve]'")],
    "spark": [_SAMPLES, ("pyspark", "pip install 'icformat[spark]'")],
    "train": [("sklearn", _BENCH), ("mxnet", "pip install 'icformat[train]'")],
    "interop": [_SAMPLES],
    "report": [_SAMPLES, ("matplotlib", "pip install 'icformat[report]'"), ("imagehash", "pip install 'icformat[report]'")],
    "torch_datasets": [_SAMPLES, ("torch", "pip install 'icformat[torch]'", "core environment")],
}


def _elsewhere(where: str) -> bool:
    """Whether a benchmark can run what this interpreter lacks ``where`` else: in the core
    environment (numpy 2; ``ICFORMAT_CORE_PYTHON`` or a checkout's ``.venv-core``)."""
    from icformat.benchmarks._models import core_python

    return where == "core environment" and core_python() is not None

_TARGET = re.compile(r"^\s*(>=|<=|>|<)\s*([0-9.]+)\s*(x?)\s*(.*?)\s*$")


def discover(only: list[str] | None = None, skip: list[str] | None = None) -> list[str]:
    """``benchmarks/[a-z]*.py`` except this runner, in name order."""
    names = []
    for path in sorted(glob.glob(os.path.join(HERE, "[a-z]*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if name in HELPERS:
            continue
        if only and name not in only:
            continue
        if skip and name in skip:
            continue
        names.append(name)
    return names


def parse_reports(stdout: str) -> list[dict]:
    """The JSON list of reports a script printed (tolerating lines before it)."""
    text = stdout.strip()
    start = text.find("[")
    while start != -1:
        try:
            data = json.loads(text[start:])
        except json.JSONDecodeError:
            start = text.find("\n[", start + 1)
            start = start + 1 if start != -1 else -1
            continue
        if isinstance(data, dict):
            data = [data]
        return data
    raise ValueError("no JSON report on stdout")


def missing(name: str) -> str | None:
    """What benchmark ``name`` lacks to run here, in words (None: nothing)."""
    lacking = [(module, how) for module, how, *where in REQUIRES.get(name, ())
               if importlib.util.find_spec(module) is None and not (where and _elsewhere(where[0]))]
    if not lacking:
        return None
    hows = list(dict.fromkeys(how for _, how in lacking))
    return f"needs {', '.join(module for module, _ in lacking)}: {'; '.join(hows)}"


_RUN_PATH = "import runpy, sys; sys.argv.pop(0); runpy.run_path(sys.argv[0], run_name='__main__')"


def run_one(name: str, quick: bool, timeout: float) -> dict:
    entry: dict = {"name": name, "seconds": 0.0, "reports": []}
    lacking = missing(name)
    if lacking:
        entry["status"] = f"not run: {lacking}"
        return entry
    # the script found by discover(), run as __main__ by its path; it imports its helpers as
    # icformat.benchmarks.* (PACKAGE_ROOT on the path), so a checkout and a pip install run alike
    path = os.path.join(HERE, f"{name}.py")
    cmd = [sys.executable, "-c", _RUN_PATH, path, "--json"] + (["--quick"] if quick else [])
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=max(timeout, 1), cwd=PACKAGE_ROOT, env=env)
    except subprocess.TimeoutExpired:
        entry.update(status=f"timed out after {timeout:.0f} s")
        entry["seconds"] = time.perf_counter() - start
        return entry
    entry["seconds"] = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no error output)"])[-1]
        entry.update(status=f"failed (exit {done.returncode}): {last[:200]}")
        return entry
    try:
        entry["reports"] = parse_reports(done.stdout)
    except ValueError as exc:
        entry.update(status=f"failed: {exc}")
        return entry
    entry["status"] = "ok"
    return entry



def target_met(ratio: float, target: str | None, value: float | None = None, unit: str = "") -> str:
    """``met``/``MISSED`` for targets such as ``>= 4x`` (on the ratio; words after the ``x`` are
    a comment) or ``< 5 s`` (on the value, in the row's unit); ``?`` when it cannot tell."""
    if not target:
        return ""
    match = _TARGET.match(target)
    if not match:
        return "?"
    op, bound, times, rest = match.group(1), float(match.group(2)), match.group(3), match.group(4)
    if times:
        measured = ratio
    elif value is not None and rest == unit.strip():
        measured = value
    else:
        return "?"
    if measured is None or measured != measured:  # NaN
        return "?"
    ok = {">=": measured >= bound, "<=": measured <= bound, ">": measured > bound, "<": measured < bound}[op]
    return "met" if ok else "MISSED"


def table(results: list[dict], quick: bool = False) -> list[str]:
    lines = [
        f"icformat benchmarks: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    ]
    if quick:
        lines.append("--quick: a smoke run on small corpora; its figures are indicative, not judged against the targets")
    lines += [
        "",
        f"{'benchmark':<12} {'figure':<46} {'value':>14}  {'anchor (same run)':<42} {'anchor':>14} {'ratio':>8}  target",
    ]
    for entry in results:
        if entry["status"] != "ok":
            lines.append(f"{entry['name']:<12} {entry['status']}")
            continue
        rows = [(report, row) for report in entry["reports"] for row in report.get("rows", [])]
        if not rows:
            note = "; ".join(r.get("note", "") for r in entry["reports"] if r.get("note")) or "no figures"
            lines.append(f"{entry['name']:<12} skipped: {note}")
        for report, row in rows:
            ratio = row.get("ratio", float("nan"))
            ratio = float("nan") if ratio is None else ratio
            unit = row.get("unit", "")
            value = f"{_num(row['value'])} {unit}"
            anchor = f"{_num(row.get('anchor_value', float('nan')))} {unit}"
            met = "(indicative)" if quick and row.get("target") else target_met(ratio, row.get("target"), row.get("value"), unit)
            target = f"{row.get('target') or ''} {met}".strip()
            lines.append(
                f"{entry['name']:<12} {row['name'][:46]:<46} {value:>14}  {str(row.get('anchor', ''))[:42]:<42} "
                f"{anchor:>14} {ratio:>7.2f}x  {target}"
            )
    total = sum(e["seconds"] for e in results)
    lines += ["", f"{len(results)} benchmark scripts, {total:.0f} s in all"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script: a smoke run")
    parser.add_argument("--json", action="store_true", help="print every result as JSON")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts (names without .py)")
    parser.add_argument("--skip", nargs="+", metavar="NAME", help="leave these scripts out")
    parser.add_argument("--budget", type=float, default=570.0, help="seconds for all scripts together (default 570)")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    parser.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = parser.parse_args(argv)
    names = discover(args.only, args.skip)
    if args.list:
        print("\n".join(names))
        return 0
    deadline = time.monotonic() + args.budget
    results = []
    for i, name in enumerate(names):
        left = deadline - time.monotonic()
        if left <= 1:
            results.append({"name": name, "status": "not run: time budget spent", "seconds": 0.0, "reports": []})
            continue
        print(f"[{i + 1}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
        results.append(run_one(name, args.quick, left))
    if args.json:
        print(json.dumps({"quick": args.quick, "judged": not args.quick, "scripts": results}, indent=2))
    else:
        print("\n".join(table(results, args.quick)))
    if any(e["status"] != "ok" and not e["status"].startswith("not run: needs") for e in results):
        return 1
    if args.quick:
        return 0  # a smoke run: nothing is judged
    missed = any(
        target_met(row.get("ratio", float("nan")), row.get("target"), row.get("value"), row.get("unit", "")) == "MISSED"
        for e in results
        for report in e["reports"]
        for row in report.get("rows", [])
    )
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
