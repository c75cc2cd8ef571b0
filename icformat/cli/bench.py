"""``icformat bench``: run every benchmark and print one table.

The benchmarks live in the repository's ``benchmarks/`` folder; ``icformat/benchmarks`` links to it,
so that a built package carries them too (setuptools copies the files the link points to), and they
run as ``icformat.benchmarks.*`` modules wherever icformat is installed (``pip install
'icformat[bench]'`` brings what they need)."""
from __future__ import annotations

import os
import subprocess
import sys

import click

from ..errors import IcformatError


def register(cli: click.Group) -> None:
    cli.add_command(bench)


def find_runner() -> str:
    """``run_all.py`` of the benchmarks this package carries (installed or in a checkout)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runner = os.path.join(package, "benchmarks", "run_all.py")
    if not os.path.exists(runner):
        raise IcformatError(f"{runner}: not found; this icformat was installed without its benchmarks: reinstall it")
    return runner


@click.command()
@click.option("--quick", is_flag=True, help="A smoke run of every benchmark on small corpora (about a minute in all on 2 cores); "
                                            "its figures are indicative, not judged against the targets.")
@click.option("--json", "as_json", is_flag=True, help="Print every result as JSON.")
@click.option("--only", multiple=True, metavar="NAME", help="Run only this benchmark (repeatable), e.g. --only loader.")
@click.option("--skip", multiple=True, metavar="NAME", help="Leave this benchmark out (repeatable).")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds for all benchmarks together (default 570).")
@click.option("--strict", is_flag=True, help="Exit with status 2 when a target is missed (full runs only).")
@click.option("--list", "list_", is_flag=True, help="List the benchmarks and exit.")
def bench(quick, as_json, only, skip, budget, strict, list_) -> None:
    """Run benchmarks/run_all: each figure beside its anchor measured in the same run, and the ratio.

    A benchmark whose packages are missing is not started: one line names them and the extra to
    install (pip install 'icformat[bench]'; MXNet's anchors want icformat[train])."""
    find_runner()
    args = [sys.executable, "-m", "icformat.benchmarks.run_all"]
    args += ["--quick"] * quick + ["--json"] * as_json + ["--strict"] * strict + ["--list"] * list_
    if only:
        args += ["--only", *only]
    if skip:
        args += ["--skip", *skip]
    if budget is not None:
        args += ["--budget", str(budget)]
    code = subprocess.call(args)
    if code:
        from . import set_exit_status

        set_exit_status(code)
