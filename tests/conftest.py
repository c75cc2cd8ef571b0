"""Shared fixtures: real photos, MXNet as an oracle.

The oracle tests (those taking the ``mx`` fixture or marked ``mxnet``) skip visibly only in the core
environment. In the full environment (``ICFORMAT_FULL_ENV=1``, set by ``make test``) a failed import
of mxnet is an error, and the session fails unless oracle tests actually passed.
"""
from __future__ import annotations

import os
import sys

import pytest

from icformat import samples
from tests.s3server import s3_server  # noqa: F401  (the Spark fixture starts after it)

FULL_ENV = os.environ.get("ICFORMAT_FULL_ENV", "") not in ("", "0")
#: a skip whose reason says this is left to the core environment; with ICFORMAT_CORE_TODO=FILE the full
#: run lists those tests' ids in FILE, one a line, and ``make test`` runs them there (``pytest @FILE``)
CORE_ENV_ONLY = "runs in the core environment"
_LEFT_TO_CORE: list[str] = []


def _import_mxnet() -> str | None:
    """None when mxnet imports, else why not."""
    try:
        import mxnet  # noqa: F401
    except Exception as exc:  # ImportError, or numpy/ABI errors raised while importing
        return f"{type(exc).__name__}: {exc}"
    return None


MXNET_IMPORT_ERROR = _import_mxnet()
HAS_MXNET = MXNET_IMPORT_ERROR is None
if FULL_ENV and not HAS_MXNET:
    raise pytest.UsageError(f"ICFORMAT_FULL_ENV is set but mxnet does not import ({MXNET_IMPORT_ERROR}); "
                            "the MXNet oracle tests cannot run: fix the environment ('make test' installs it)")
requires_mxnet = pytest.mark.skipif(not HAS_MXNET, reason="mxnet not installed (core environment): MXNet oracle test skipped")
_ORACLES_PASSED = []


def pytest_collection_modifyitems(config, items):
    for item in items:  # a test using the mx fixture is an oracle test: mark it so it can be counted
        if "mx" in getattr(item, "fixturenames", ()) and item.get_closest_marker("mxnet") is None:
            item.add_marker(pytest.mark.mxnet)


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed and "mxnet" in report.keywords:
        _ORACLES_PASSED.append(report.nodeid)
    if report.skipped and isinstance(report.longrepr, tuple) and CORE_ENV_ONLY in str(report.longrepr[2]):
        _LEFT_TO_CORE.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    todo = os.environ.get("ICFORMAT_CORE_TODO")
    if todo:
        with open(todo, "w") as f:
            f.writelines(f"{nodeid}\n" for nodeid in dict.fromkeys(_LEFT_TO_CORE))
    if not FULL_ENV or exitstatus != 0 or session.testscollected == 0:
        return
    selected = getattr(session.config.option, "markexpr", "") or getattr(session.config.option, "keyword", "")
    if not _ORACLES_PASSED and not selected:
        session.exitstatus = 1
        print("\nICFORMAT_FULL_ENV: no MXNet oracle test passed; the full environment must run them")


@pytest.fixture(scope="session")
def mx():
    """The mxnet module, or a visible skip."""
    if not HAS_MXNET:
        pytest.skip("mxnet not installed (core environment): MXNet oracle test skipped")
    import mxnet

    return mxnet


@pytest.fixture(scope="session")
def photo_tree(tmp_path_factory) -> str:
    """A folder of 3 classes x 4 real-photo JPEGs (class_0/img_00000.jpg ...)."""
    root = str(tmp_path_factory.mktemp("photos"))
    samples.write_photo_tree(root, classes=3, per_class=4, seed=1)
    return root


@pytest.fixture(scope="session")
def photos() -> dict:
    """Real RGB photos by name."""
    return samples.sample_photos()


def pytest_report_header(config):
    import numpy

    env = "full (oracle tests required)" if FULL_ENV else "core"
    return f"icformat test environment: {env}, numpy {numpy.__version__}, mxnet {'installed' if HAS_MXNET else 'NOT installed (oracle tests skip)'}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(f"icformat: {len(_ORACLES_PASSED)} MXNet oracle test(s) passed")


def _needs_pyspark() -> bool:
    """The full environment (`.[train,export,serve,spark,dev]`) or any env where pyspark is found
    must run the Spark tests: there a failed import is an error. Elsewhere (the core env) they skip."""
    import importlib.util

    return FULL_ENV or HAS_MXNET or importlib.util.find_spec("pyspark") is not None


NEEDS_PYSPARK = _needs_pyspark()


@pytest.fixture(scope="session")
def spark(s3_server):
    """One real local Spark session for the whole run (one JVM start): 2 task slots and up to 3
    attempts per task (``local[2,3]``), so a task that fails once is retried. Started after the
    local S3 server so that its workers inherit the AWS environment pointing there."""
    if not NEEDS_PYSPARK:
        pytest.skip("pyspark not installed (core environment): Spark tests skipped")
    from icformat.spark.session import get_session

    session = get_session("local[2,3]", "icformat-tests", {
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4",
    })
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    """A real Spark standalone cluster on 127.0.0.1: a master and one 2-core worker started from
    pyspark's own ``spark-class`` (the worker's executors run this checkout); yields the master URL
    ``spark://127.0.0.1:PORT``. Stopped (worker, then master) at the end of the session."""
    if not NEEDS_PYSPARK:
        pytest.skip("pyspark not installed (core environment): Spark tests skipped")
    import socket
    import subprocess
    import time

    import pyspark

    home = os.path.dirname(pyspark.__file__)
    work = tmp_path_factory.mktemp("spark-cluster")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, SPARK_HOME=home, SPARK_LOCAL_IP="127.0.0.1", SPARK_LOG_DIR=str(work), PYSPARK_PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
               SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false -Dspark.ui.enabled=false")
    spark_class = os.path.join(home, "bin", "spark-class")
    master_url = f"spark://127.0.0.1:{port}"
    processes = []

    def start(name: str, *args: str) -> tuple[subprocess.Popen, str]:
        log = str(work / f"{name}.log")
        with open(log, "wb") as out:
            process = subprocess.Popen([spark_class, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(work))
        processes.append(process)
        return process, log

    def wait_for(process: subprocess.Popen, log: str, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with open(log, errors="replace") as f:
                if text in f.read():
                    return
            if process.poll() is not None:
                break
            time.sleep(0.3)
        with open(log, errors="replace") as f:
            raise RuntimeError(f"spark standalone cluster did not start ({text!r} not logged):\n{f.read()[-3000:]}")

    try:
        master, master_log = start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                   "--port", str(port), "--webui-port", "0")
        wait_for(master, master_log, f"Starting Spark master at {master_url}")
        worker, worker_log = start("worker", "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                                   "--cores", "2", "--memory", "2g", "--webui-port", "0", "--work-dir", str(work / "apps"))
        wait_for(worker, worker_log, "Successfully registered with master")
        yield master_url
    finally:
        for process in reversed(processes):  # the worker first: it stops its executors
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
