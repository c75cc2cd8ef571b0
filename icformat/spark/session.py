"""The Spark side door: a session for the CLI and tests, and running a job with our errors.

pyspark is imported here (and in the task modules) only, never by the core. ``get_session`` starts
(or reuses) a session; a cluster is one ``master`` away (``yarn``, ``spark://host:7077``), and under
``spark-submit`` the master and settings come from the submit line.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from typing import Any, Callable

from ..errors import IcformatError, MissingDependencyError
from ..io.paths import is_uri, local_path

DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "pip install 'icformat[spark]' (Apache Spark's pyspark; it needs a Java 17 runtime)"


def require_pyspark():
    """The ``pyspark`` module, or a :class:`MissingDependencyError` saying what to install."""
    try:
        import pyspark
    except ImportError as exc:
        raise MissingDependencyError(f"the spark engine needs pyspark: {INSTALL_HINT}") from exc
    return pyspark


_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\s*\d+)?\])?|yarn|(spark|k8s|mesos)://\S+)$")


def check_master(master: str | None) -> None:
    """Refuse a master URL Spark would refuse (with a Java stack trace) before starting anything."""
    if master is not None and not _MASTER.match(master):
        raise IcformatError(f"--spark-master {master!r} is not a Spark master: give local[*], local[N], yarn, "
                            "spark://HOST:PORT or k8s://HOST:PORT")


def check_java() -> None:
    """Refuse to start Spark without a Java runtime (pyspark would fail with a launcher error)."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={home}" if home else "PATH"
        raise IcformatError(f"the spark engine needs a Java 17 runtime: no java in {where} (install one, e.g. openjdk-17-jre-headless, "
                            "or set JAVA_HOME)")


def get_session(master: str | None = None, app_name: str = "icformat", config: dict[str, str] | None = None,
                log_level: str = "ERROR") -> Any:
    """A ``SparkSession``: the active one when there is one (``spark-submit``, a notebook), else a
    new one on ``master`` (default ``local[*]``, every core of this machine) with ``config``, logging
    at ``log_level``."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    check_master(master)
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # under spark-submit: its master and settings rule
    builder = SparkSession.builder.appName(app_name)
    if master or not submitted:
        master = master or DEFAULT_MASTER
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter (and icformat)
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local session talks to itself only
        builder = builder.master(master)
    if not submitted:
        check_java()
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer, a bad master URL
        where = f"master {master!r}" if master else "the master of spark-submit"
        raise IcformatError(f"cannot start Spark on {where}: {_last_line(exc)}") from exc
    session.sparkContext.setLogLevel(log_level)
    return session


def executor_path(path: str | None) -> str | None:
    """``path`` as a job must carry it to Spark's executors: a local path made absolute (an executor
    runs in a working folder of its own, so a relative path would name a file there), a URI as it is.
    Every job the Spark engine builds passes its local paths through here."""
    if path is None or is_uri(os.fspath(path)):
        return path
    name = local_path(os.fspath(path))
    folder = name.endswith(("/", os.sep)) and len(name) > 1  # "out/" says "a folder": keep saying it
    return os.path.abspath(name) + (os.sep if folder else "")


#: what an executor says when it cannot see a file the driver saw
_UNSEEN = ("no such file", "not found", "is not a folder")


def cluster_hint(master: str | None, message: str) -> str:
    """``message`` of a failed task, with a hint when the executors of a cluster (not ``local``)
    could not see a local path: they read and write the paths as given, on their own machines."""
    if not master or master.startswith("local") or not any(word in message.lower() for word in _UNSEEN):
        return message
    return (f"{message} (the executors of {master} read and write local paths on their own machines: put the "
            "data and the output in a folder every machine mounts at the same path, or on s3://)")


def resolve(spark: Any) -> Any:
    """A session from ``spark``: a ``SparkSession``, or a function that makes one (so that a command
    checks its inputs before paying for a JVM start)."""
    return spark() if callable(spark) else spark


def run_job(description: str, job: Callable[[], Any]) -> Any:
    """Run ``job`` (a function that calls a Spark action) and turn a failed Spark job into an
    :class:`IcformatError` carrying the root cause's last line instead of a Java stack trace."""
    try:
        return job()
    except IcformatError:
        raise
    except Exception as exc:
        if type(exc).__name__ not in ("Py4JJavaError", "PythonException", "SparkRuntimeException") and "pyspark" not in type(exc).__module__:
            raise
        master = _active_master()
        raise IcformatError(cluster_hint(master, f"spark job '{description}' failed: {_last_line(exc)}")) from exc


def _active_master() -> str | None:
    try:
        from pyspark import SparkContext

        context = SparkContext._active_spark_context
        return context.master if context is not None else None
    except Exception:  # no session any more: no hint
        return None


def settle(spark: Any, seconds: float = 15.0) -> None:
    """Cancel this session's jobs and wait (a while) until no task runs, so that clean-up after a
    failure or Ctrl-C does not race a task still writing."""
    import time

    sc = spark.sparkContext
    try:
        sc.cancelAllJobs()
        deadline = time.monotonic() + seconds
        while sc.statusTracker().getActiveJobsIds() and time.monotonic() < deadline:
            time.sleep(0.2)
    except Exception:  # the session is already stopping: nothing runs any more
        pass


def _last_line(exc: BaseException) -> str:
    """The most telling line of a Spark error: the Python exception raised in a task when there is one."""
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):  # the task's own exception ends the Python traceback
        if ("Error:" in line or "Exception:" in line) and not line.startswith(("at ", "Caused by: org.apache.spark.SparkException")):
            return line
    return lines[0] if lines else type(exc).__name__


def task_attempt() -> tuple[int, int]:
    """``(attempt number, cpus)`` of the running Spark task; ``(0, 1)`` outside one."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:
        return 0, 1
    return context.attemptNumber(), max(1, int(context.cpus()))


class spark_session:
    """``with spark_session(master) as spark:`` -- a session for one command; stopped at the end
    when this command started it (an active session, e.g. under ``spark-submit``, is left running)."""

    def __init__(self, master: str | None = None, app_name: str = "icformat"):
        self.master = master
        self.app_name = app_name
        self.session = None
        self.owned = False

    def __enter__(self) -> Any:
        require_pyspark()
        from pyspark.sql import SparkSession

        self.owned = (SparkSession.getActiveSession() is None or self.master is not None) and "PYSPARK_GATEWAY_PORT" not in os.environ
        # a command reports a failed job in one line (run_job); Spark's own log would add stack traces
        self.session = get_session(self.master, self.app_name, log_level="OFF" if self.owned else "ERROR")
        return self.session

    def __exit__(self, *exc) -> None:
        if self.owned and self.session is not None:
            self.session.stop()


def run_shard_tasks(spark: Any, name: str, description: str, task: Callable[[int], Any], num_shards: int,
                    files: list, *, shard_of: Callable[[Any], int], error_of: Callable[[Any], str | None]) -> list:
    """Run ``task(shard)`` for every shard as one Spark task each and return the results in shard
    order. When a shard fails (or on Ctrl-C) running tasks are settled and every output in ``files``
    is removed, so a failed job leaves nothing; on success only killed attempts' leftovers go."""
    from . import outputs

    sc = spark.sparkContext
    sc.setJobDescription(description)
    tasks = sc.parallelize(range(num_shards), num_shards).map(task)
    try:
        results = sorted(run_job(name, tasks.collect), key=shard_of)
        errors = [error for error in map(error_of, results) if error]
        if errors:
            more = f" (and {len(errors) - 1} more shards failed)" if len(errors) > 1 else ""
            raise IcformatError(cluster_hint(sc.master, errors[0] + more))
    except BaseException:
        settle(spark)
        outputs.remove_outputs(files)
        outputs.remove_leftovers(files)
        raise
    outputs.remove_leftovers(files)
    return results
