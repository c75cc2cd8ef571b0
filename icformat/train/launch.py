"""Start an MXNet parameter-server job (ps-lite) on this machine: a scheduler, servers and workers.

Each role is the same program started with its ``DMLC_*`` environment (MXNet's ``tools/launch.py``
does this too but breaks on Python 3.11). On many machines, start the roles yourself with:

    DMLC_ROLE=scheduler|server|worker  DMLC_PS_ROOT_URI=<scheduler host>  DMLC_PS_ROOT_PORT=<port>
    DMLC_NUM_SERVER=<servers>  DMLC_NUM_WORKER=<workers>  DMLC_NODE_HOST=<this host's address>

Output lines are prefixed with the role (``[worker 0]``); when one process fails the others are
stopped and its exit status is returned.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Sequence, TextIO

#: a server or the scheduler: importing MXNet with DMLC_ROLE set runs that role, then exits
SERVER_COMMAND = (sys.executable, "-c", "from icformat.mxnet_runtime import import_mxnet; import_mxnet()")
GRACE_SECONDS = 10.0


@dataclass
class Role:
    """One process of the job."""

    name: str
    process: subprocess.Popen
    worker: bool


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def role_environment(role: str, *, workers: int, servers: int, port: int, host: str = "127.0.0.1",
                     base: dict | None = None) -> dict:
    """The environment of one ps-lite role on ``host``."""
    env = dict(os.environ if base is None else base)
    env.update(DMLC_ROLE=role, DMLC_PS_ROOT_URI=host, DMLC_PS_ROOT_PORT=str(port), DMLC_NUM_SERVER=str(servers),
               DMLC_NUM_WORKER=str(workers), DMLC_NODE_HOST=host, PYTHONUNBUFFERED="1")
    return env


def launch(command: Sequence[str], *, workers: int, servers: int = 1, out: TextIO | None = None,
           err: TextIO | None = None) -> int:
    """Run ``command`` as ``workers`` workers with ``servers`` servers and a scheduler on 127.0.0.1;
    returns 0 when every worker succeeded, else the first failure's exit status (130 on Ctrl-C)."""
    if workers < 1 or servers < 1:
        raise ValueError("a parameter-server job needs at least one worker and one server")
    out, err = out or sys.stdout, err or sys.stderr
    port = free_port()
    job = _Job(out, err)
    try:
        job.start("scheduler", SERVER_COMMAND, role_environment("scheduler", workers=workers, servers=servers, port=port))
        for i in range(servers):
            job.start(f"server {i}", SERVER_COMMAND, role_environment("server", workers=workers, servers=servers, port=port))
        for i in range(workers):
            job.start(f"worker {i}", list(command), role_environment("worker", workers=workers, servers=servers, port=port),
                      worker=True)
        return job.wait()
    except KeyboardInterrupt:
        job.stop(signal.SIGINT)
        return 130
    finally:
        job.stop(signal.SIGTERM)


class _Job:
    def __init__(self, out: TextIO, err: TextIO):
        self.roles: list[Role] = []
        self.out, self.err = out, err
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self, name: str, command: Sequence[str], env: dict, worker: bool = False) -> None:
        try:
            process = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise FileNotFoundError(exc.errno, f"cannot start {command[0]!r}: {exc.strerror}", command[0]) from None
        self.roles.append(Role(name, process, worker))
        for stream, sink in ((process.stdout, self.out), (process.stderr, self.err)):
            thread = threading.Thread(target=self._copy, args=(name, stream, sink), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _copy(self, name: str, stream, sink: TextIO) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                sink.write(f"[{name}] {line}\n")
                sink.flush()
        stream.close()

    def wait(self) -> int:
        """Until every worker is done (then the servers and scheduler end by themselves) or one
        process fails (then all are stopped)."""
        while True:
            for role in self.roles:
                code = role.process.poll()
                if code not in (None, 0):
                    self._say(f"{role.name} failed (exit status {code}); stopping the others")
                    self.stop(signal.SIGINT)
                    return code if code > 0 else 1
            if all(r.process.poll() == 0 for r in self.roles if r.worker):
                self._finish_servers()
                return 0
            time.sleep(0.1)

    def _finish_servers(self) -> None:
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and any(r.process.poll() is None for r in self.roles):
            time.sleep(0.1)

    def stop(self, sig: int) -> None:
        """Signal every live process (workers get ``sig``, a Ctrl-C by default), then kill what is left."""
        live = [r for r in self.roles if r.process.poll() is None]
        for role in live:
            _signal(role.process, sig if role.worker else signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for role in live:
            try:
                role.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(role.process, signal.SIGKILL)
                role.process.wait()
        for thread in self.threads:
            thread.join(timeout=1.0)

    def _say(self, message: str) -> None:
        with self.lock:
            self.err.write(f"icformat launch: {message}\n")
            self.err.flush()


def _signal(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
