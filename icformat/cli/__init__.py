"""The ``icformat`` command line: a thin click layer over the library.

Each sub-module (``rec``, ``lst``, ``im2rec``, ``manifest``, ``pipe``, ``bench``) defines
``register(group)`` that adds its commands. Errors the user can cause (``IcformatError``) become one
line on stderr and exit status 1; bad usage exits 2; Ctrl-C exits 130 (see :func:`main`).
"""
from __future__ import annotations

import importlib
import signal
import sys
import threading

import click

from .. import package_version
from ..errors import IcformatError, UsageError

_COMMAND_MODULES = ("rec", "lst", "im2rec", "manifest", "pipe", "loader", "bench", "train", "launch", "preflight",
                    "serve", "export", "interop", "evaluate", "report")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_version(), prog_name="icformat")
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
    """Run the CLI; returns the exit status: 0 ok, 1 problems found or failed, 2 usage, 130
    interrupted (Ctrl-C, or SIGTERM from a scheduler). Every failure is one line on stderr."""
    _exit_status()  # forget a status left by an earlier call in this process
    previous = _terminate_like_ctrl_c()
    try:
        # click's own main() would print a blank line on Ctrl-C: make and invoke the context here
        with cli.make_context("icformat", list(sys.argv[1:] if argv is None else argv)) as ctx:
            code = cli.invoke(ctx)
    except (KeyboardInterrupt, click.exceptions.Abort):
        return _say("interrupted", 130)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:  # a bare group: its help
            click.echo(exc.ctx.get_help())
            return 0
        where = exc.ctx.command_path if exc.ctx is not None else "icformat"
        return _say(f"usage: {exc.format_message()} (see '{where} --help')", 2)
    except click.ClickException as exc:
        return _say(f"error: {exc.format_message()}", exc.exit_code)
    except UsageError as exc:
        return _say(f"usage: {exc}", 2)
    except IcformatError as exc:
        return _say(f"error: {exc}", 1)
    except BrokenPipeError:
        return 1
    except OSError as exc:  # permission, a full disk...
        return _say(f"error: {_describe_os_error(exc)}", 1)
    finally:
        _restore_sigterm(previous)
    status = _exit_status()
    return code if isinstance(code, int) and code else status


def _say(message: str, code: int) -> int:
    try:
        click.echo(f"icformat: {' '.join(message.split())}", err=True)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    return code


def _terminate_like_ctrl_c():
    """SIGTERM (a scheduler stopping the job) cleans up like Ctrl-C: workers stopped, temporary
    outputs removed. Returns the previous handler, or None where signals cannot be set."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


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
