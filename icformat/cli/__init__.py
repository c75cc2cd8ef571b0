"""The ``icformat`` command line: a thin click layer over the library.

Each sub-module (``rec``, ``lst``, ``im2rec``, ``manifest``, ``pipe``, ``bench``) defines
``register(group)`` that adds its commands. Errors the user can cause (``IcformatError``) become one
line on stderr and exit status 1; Ctrl-C exits 130.
"""
from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import IcformatError

_COMMAND_MODULES = ("rec", "lst", "im2rec", "manifest", "pipe", "loader", "bench", "train", "launch", "serve", "export")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="icformat")
def cli() -> None:
    """icformat: check, convert and pack image-classification data for SageMaker/MXNet.

    Formats: MXNet RecordIO (.rec/.idx), images + .lst, augmented manifests (JSON Lines) and
    SageMaker pipe-mode streams. Every path may be a local path or an s3:// URI.
    """


for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:  # a command group not built yet
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    _module.register(cli)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 bad input or problems found, 2 usage, 130 Ctrl-C)."""
    _exit_status()  # forget a status left by an earlier call in this process
    try:
        code = cli.main(args=argv, prog_name="icformat", standalone_mode=False)
    except IcformatError as exc:
        click.echo(f"icformat: error: {exc}", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("icformat: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("icformat: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # missing file, permission, unreachable s3:// object...
        click.echo(f"icformat: error: {_describe_os_error(exc)}", err=True)
        return 1
    status = _exit_status()
    return code if isinstance(code, int) and code else status


def _describe_os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}; check the path"
    return " ".join(str(exc).split())


_STATUS = {"code": 0}


def set_exit_status(code: int) -> None:
    """Commands call this to report problems found (exit 1) without raising."""
    _STATUS["code"] = code


def _exit_status() -> int:
    code, _STATUS["code"] = _STATUS["code"], 0
    return code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
