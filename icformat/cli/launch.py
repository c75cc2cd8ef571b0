"""``icformat launch``: a distributed (parameter-server) MXNet job on this machine."""
from __future__ import annotations

import click

EPILOG = """\b
Example (2 workers, 1 server, synchronous updates; only worker 0 writes model.tar.gz):
  icformat launch -n 2 -s 1 -- icformat train --train train.rec --validation val.rec \\
      --hp kv_store=dist_sync --hp num_classes=10 --hp num_training_samples=1437 ...

\b
On several machines start each role yourself with this environment:
  DMLC_ROLE=scheduler|server|worker DMLC_PS_ROOT_URI=<scheduler address>
  DMLC_PS_ROOT_PORT=<port> DMLC_NUM_SERVER=<servers> DMLC_NUM_WORKER=<workers>
  DMLC_NODE_HOST=<this machine's address>
(scheduler and servers run: python -c "import mxnet")
"""


@click.command("launch", epilog=EPILOG, context_settings={"ignore_unknown_options": True})
@click.option("-n", "--workers", type=click.IntRange(min=1), required=True, help="Number of worker processes.")
@click.option("-s", "--servers", type=click.IntRange(min=1), default=1, show_default=True, help="Number of parameter servers.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def launch_command(workers, servers, command):
    """Run COMMAND as WORKERS workers beside SERVERS parameter servers and a scheduler on
    127.0.0.1 (MXNet's ps-lite, for kv_store=dist_sync or dist_async). Output lines carry the role
    ([worker 0], [server 0], [scheduler]); if one process fails, all are stopped and its exit
    status is returned."""
    import shutil
    import sys

    from ..train.launch import launch

    command = list(command)
    if command[0] == "icformat":
        command = [sys.executable, "-m", "icformat", *command[1:]]  # this installation, this Python
    elif shutil.which(command[0]) is None and not command[0].startswith(("/", ".")):
        raise click.UsageError(f"{command[0]!r}: no such command")
    code = launch(command, workers=workers, servers=servers)
    if code:
        from . import set_exit_status

        set_exit_status(code)


def register(group: click.Group) -> None:
    group.add_command(launch_command)
