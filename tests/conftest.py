"""Shared fixtures: real photos, MXNet as an oracle (skipped visibly where it is absent)."""
from __future__ import annotations

import os

import pytest

from icformat import samples


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
