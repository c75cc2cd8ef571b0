"""Shared fixtures: real photos, MXNet as an oracle (skipped visibly where it is absent)."""
from __future__ import annotations

import os

import pytest

from icformat import samples
from tests.s3server import s3_server  # noqa: F401  (the Spark fixture starts after it)


def _has_mxnet() -> bool:
    try:
        import mxnet  # noqa: F401
    except Exception:
        return False
    return True


HAS_MXNET = _has_mxnet()
requires_mxnet = pytest.mark.skipif(not HAS_MXNET, reason="mxnet not installed (core environment): MXNet oracle test skipped")


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

    return f"icformat test environment: numpy {numpy.__version__}, mxnet {'installed' if HAS_MXNET else 'NOT installed (oracle tests skip)'}"


def _needs_pyspark() -> bool:
    """The full environment (mxnet, hence `.[train,dev,spark]`) or any env where pyspark is found
    must run the Spark tests: there a failed import is an error. Elsewhere (the core env) they skip."""
    import importlib.util

    return HAS_MXNET or importlib.util.find_spec("pyspark") is not None


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
