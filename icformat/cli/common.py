"""Small helpers shared by the CLI commands: progress bars, JSON output, exit status, and the option
types that check values at the door (a bad value is a usage error: one line, exit status 2)."""
from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import click
from tqdm import tqdm

from ..problems import SHOWN_PER_KIND, grouped_lines
from ..io.paths import is_uri



class _Bar(tqdm):
    """tqdm without its monitor thread (it only unsticks bars that ``miniters`` made lazy, which
    ours are not): a running Python thread would keep worker processes from being forked, and
    im2rec's workers share memory with the parent only when they are. Its lock is a thread lock,
    not tqdm's default, which adds a multiprocessing lock (2 ms of imports and a semaphore) for
    bars drawn from several processes: only the parent process draws ours."""

    monitor_interval = 0
    _lock = threading.RLock()


def progress(total: int | None = None, desc: str = "", unit: str = "it") -> tqdm:
    """A tqdm bar on stderr, hidden when stderr is not a terminal."""
    return _Bar(total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty(), dynamic_ncols=True, leave=False,
                unit_scale=False)


def record_count(path: str) -> int | None:
    """The number of records of a local ``.rec`` from its ``.idx`` (a progress bar's total), else None."""
    from ..recordio.writer import default_index_path

    if is_uri(path):
        return None
    try:
        with open(default_index_path(path), "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return None


def line_count(path: str) -> int | None:
    """The number of non-blank lines of a local text file (a progress bar's total), else None."""
    if is_uri(path) or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0) - data.count(b"\n\n")


def counts_text(counts: dict | None) -> str:
    """``{"0": 1200, "1": 3}`` -> ``0: 1,200, 1: 3`` (no Python reprs in human output)."""
    if not counts:
        return "none"
    return ", ".join(f"{key}: {value:,}" for key, value in counts.items())


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=_default))


def _default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "__dict__"):
        return obj.__dict__
    return str(obj)


def fail(code: int = 1) -> None:
    """Report problems found: exit status ``code`` without a traceback."""
    from . import set_exit_status

    set_exit_status(code)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")
all_option = click.option("--all", "show_all", is_flag=True,
                          help="List every finding (by default identical ones are grouped: the first "
                               f"{SHOWN_PER_KIND} of each kind, then one line for the rest; --json keeps all).")


def echo_findings(findings, show_all: bool = False) -> None:
    """Print findings on stdout, one per line: every one with ``show_all``, else grouped by kind
    (:func:`icformat.problems.grouped_lines`). The one place validators' findings are printed."""
    for line in (map(str, findings) if show_all else grouped_lines(findings)):
        click.echo(line)

POSITIVE = click.IntRange(min=1)
NON_NEGATIVE = click.IntRange(min=0)
POSITIVE_SECONDS = click.FloatRange(min=0, min_open=True)


class ByteSizeType(click.ParamType):
    """A size in bytes: ``1GB``, ``500MB``, ``64MiB``, ``10k`` or a plain number (at least 1)."""

    name = "SIZE"
    UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9, "T": 10**12, "TB": 10**12,
             "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().replace(" ", "")
        number = text.rstrip("KMGTIB")
        unit = text[len(number):]
        try:
            size = int(float(number) * self.UNITS[unit])
        except (KeyError, ValueError):
            size = 0
        if size < 1:
            self.fail(f"'{value}' is not a size; give e.g. 1GB, 500MB, 64MiB or a number of bytes", param, ctx)
        return size


BYTE_SIZE = ByteSizeType()


class ShapeType(click.ParamType):
    """``C,H,W``: three positive whole numbers (SageMaker's ``image_shape``), as a tuple."""

    name = "C,H,W"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).replace(" ", "").split(",")
        try:
            shape = tuple(int(p) for p in parts)
        except ValueError:
            shape = ()
        if len(shape) != 3 or min(shape) <= 0:
            self.fail(f"'{value}' is not C,H,W (three positive whole numbers, e.g. 3,224,224)", param, ctx)
        if shape[0] not in (1, 3):
            self.fail(f"'{value}' has {shape[0]} channels; use 1 (gray) or 3 (colour)", param, ctx)
        return shape


SHAPE = ShapeType()


def output_file_checked(ctx, param, value):
    """A click callback for an output file: a path ending in a separator, or an existing folder, is
    a usage error (not a hidden file inside it, not a failure on a temporary name)."""
    if value and value != "-" and not is_uri(value) and (value.endswith(("/", os.sep)) or os.path.isdir(value)):
        raise click.BadParameter(f"{value} names a folder; give a file name inside it", ctx, param)
    return value


def output_folder_checked(ctx, param, value):
    """A click callback for output paths: a path ending in a separator must name a folder that exists."""
    if value and not is_uri(value) and value.endswith(("/", os.sep)) and not os.path.isdir(value):
        raise click.BadParameter(f"folder {value} does not exist; create it first or give a file name", ctx, param)
    return value


def _set_max_pixels(ctx, param, value):
    if value is not None:
        from ..image.budget import set_default_max_pixels

        set_default_max_pixels(value)  # kept in the environment: worker processes and serve's workers inherit it
    return value


max_pixels_option = click.option(
    "--max-pixels", type=POSITIVE, default=None, expose_value=False, is_eager=True, callback=_set_max_pixels,
    help="Refuse images larger than this many pixels (height x width) from their header, before decoding "
         "[default: $ICFORMAT_MAX_PIXELS or 178,956,970].")
