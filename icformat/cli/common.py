"""Small helpers shared by the CLI commands: progress bars, JSON output, exit status."""
from __future__ import annotations

import json
import sys
from typing import Any

import click
from tqdm import tqdm


def progress(total: int | None = None, desc: str = "", unit: str = "it") -> tqdm:
    """A tqdm bar on stderr, hidden when stderr is not a terminal."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty(), dynamic_ncols=True, leave=False)


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=_default))


def _default(obj: Any) -> Any:
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
