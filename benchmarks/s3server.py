"""A real S3-compatible server on 127.0.0.1 for benchmarks and tests: moto in server mode
(``pip install 'icformat[bench]'``).

Nothing is mocked inside the client: boto3 (and smart_open, which uses it) sends real HTTP
requests to the server because ``AWS_ENDPOINT_URL_S3`` points every ``s3://`` access there.
One server per process, started on first use on a free port, stopped at exit. The tests' pytest
fixtures (``tests/s3server.py``) are built on these functions.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import threading
import uuid

_lock = threading.Lock()
_state: dict = {}


def start_server() -> str:
    """Start the shared server (once) and return its endpoint URL, e.g. ``http://127.0.0.1:40123``."""
    with _lock:
        if "endpoint" not in _state:
            import logging

            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _state["server"] = server
            _state["endpoint"] = f"http://{host}:{port}"
            atexit.register(server.stop)
        return _state["endpoint"]


def start_server_process() -> tuple[str, subprocess.Popen]:
    """Start moto's server in a separate process (benchmarks: no GIL shared with the client);
    returns its endpoint and the process, which the caller terminates."""
    import socket
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(process.terminate)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return endpoint, process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with status {process.returncode}") from None
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("moto server did not start within 30 s")


def aws_environment(endpoint: str) -> dict[str, str]:
    """Variables that send every boto3 S3 call to ``endpoint`` with dummy credentials, and keep any
    real AWS profile or config of this machine out of the way."""
    return {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "icformat-test",
        "AWS_SECRET_ACCESS_KEY": "icformat-test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def use_server(endpoint: str) -> None:
    """Point this process's AWS environment at ``endpoint`` (for benchmarks and scripts)."""
    os.environ.update(aws_environment(endpoint))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


def make_bucket(name: str | None = None) -> str:
    """Create a bucket on the server the environment points at; returns its name."""
    import boto3

    name = name or f"icformat-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=name)
    return name
