"""``python -m icformat`` (and the ``icformat`` command) runs the CLI; Ctrl-C while it starts is
answered like Ctrl-C later: ``icformat: interrupted``, exit status 130."""
import sys


def main() -> None:
    try:
        from .cli import run
    except KeyboardInterrupt:
        sys.stderr.write("icformat: interrupted\n")
        sys.exit(130)
    run()


if __name__ == "__main__":
    main()
