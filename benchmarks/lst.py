""".lst tools: `lst validate` on a generated 1,000,000-line list (no image checks; target under 5 s),
and `lst make` on a folder tree, each beside MXNet's im2rec.py doing the nearest thing in the same
run: its `read_list` parsing the same list (no checks at all), and `im2rec.py --list --recursive`
walking the same tree. MXNet runs in a separate interpreter whose imports are done before timing.

    python benchmarks/lst.py            # 1,000,000 lines, 50,000 files
    python benchmarks/lst.py --quick    # 30,000 lines, 2,000 files
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from icformat.benchmarks._mxnet import mxnet_im2rec  # noqa: E402

from icformat.benchmarks._report import Report, emit, work_dir  # noqa: E402

from icformat.lst.make import make_lst  # noqa: E402
from icformat.lst.validate import validate_lst  # noqa: E402

_MXNET = r"""
import importlib.util, os, runpy, sys, time
script, what, path, prefix = sys.argv[1:5]
spec = importlib.util.spec_from_file_location("im2rec", script)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)  # imports mxnet and cv2: not timed
best = float("inf")
for _ in range(int(sys.argv[5])):
    began = time.perf_counter()
    if what == "read":
        for _ in module.read_list(path):
            pass
    else:
        sys.argv = [script, "--list", "--recursive", prefix, path]
        sys.stdout = open(os.devnull, "w")
        runpy.run_path(script, run_name="__main__")
        sys.stdout = sys.__stdout__
    best = min(best, time.perf_counter() - began)
print(best)
"""


def _mxnet(what: str, path: str, prefix: str, repeat: int) -> float:
    script = mxnet_im2rec()
    if script is None:
        return float("nan")
    done = subprocess.run([sys.executable, "-c", _MXNET, script, what, path, prefix, str(repeat)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mxnet {what} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def big_lst(path: str, lines: int, classes: int = 1000) -> None:
    """An ImageNet-like list: shuffled indices, MXNet 1.x float labels, synset-style paths."""
    if os.path.exists(path) and sum(1 for _ in open(path, "rb")) == lines:
        return
    rng = random.Random(0)
    order = list(range(lines))
    rng.shuffle(order)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        for i in order:
            c = i % classes
            f.write(f"{i}\t{c}.000000\tn{c:08d}/n{c:08d}_{i}.JPEG\n")
    os.replace(tmp, path)  # concurrent runs never see a half-written list


def tree(root: str, files: int, classes: int = 100) -> None:
    """``files`` empty .jpg files in ``classes`` folders (the walk never opens them)."""
    marker = os.path.join(root, f".tree-{files}-{classes}")
    if os.path.exists(marker):
        return
    for i in range(files):
        folder = os.path.join(root, f"class_{i % classes:03d}")
        if i < classes:
            os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, f"img_{i:07d}.jpg"), "w").close()
    open(marker, "w").close()


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


def run(lines: int, files: int, repeat: int, work: str) -> list[Report]:
    os.makedirs(work, exist_ok=True)
    lst = os.path.join(work, f"big-{lines}.lst")
    big_lst(lst, lines)
    problems = validate_lst(lst).problems  # also the warm-up (imports pyarrow)
    ours = _best(lambda: validate_lst(lst), repeat)
    if problems:
        raise SystemExit(f"generated list should be clean, got {problems[:3]}")
    began = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "icformat", "lst", "validate", lst], capture_output=True).returncode
    cli = time.perf_counter() - began
    if code != 0:
        raise SystemExit("icformat lst validate failed on the generated list")
    theirs = _mxnet("read", lst, "", repeat)
    validate = Report(f"lst validate, {lines:,} lines, no image checks (seconds; lower is better)")
    validate.add("lst validate (library)", ours, "s", "im2rec.py read_list (parse only)", theirs, higher_is_better=False, target="< 5 s")
    validate.add("icformat lst validate (CLI, end to end)", cli, "s", "im2rec.py read_list (parse only)", theirs, higher_is_better=False, target="< 5 s")

    root = os.path.join(work, f"tree-{files}")
    tree(root, files)
    out = tempfile.mkdtemp(prefix="run-", dir=work)
    try:
        ours = _best(lambda: make_lst(os.path.join(out, "made"), root, recursive=True), repeat)
        theirs = _mxnet("make", root, os.path.join(out, "made-mx"), repeat)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    make = Report(f"lst make --recursive, {files:,} files in 100 folders (seconds; lower is better)")
    make.add("lst make (library)", ours, "s", "im2rec.py --list --recursive", theirs, higher_is_better=False)
    return [validate, make]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30,000 lines and 2,000 files, one run each")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", default=work_dir("lst"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lines, files, repeat = (30_000, 2_000, 1) if args.quick else (args.lines, args.files, args.repeat)
    emit(run(lines, files, repeat, args.work), args.json)


if __name__ == "__main__":
    main()
