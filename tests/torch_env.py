"""Where the PyTorch tests run: the core environment installs torch (``make test-core``); beside
MXNet (numpy 1.23) and on a Python without a CPU torch wheel here (``make test-py313`` sets
``ICFORMAT_WITHOUT_TORCH=1``) they skip visibly. Anywhere else a missing torch is an error."""
from __future__ import annotations

import importlib.util
import os

import pytest

from .conftest import HAS_MXNET


def require_torch() -> None:
    """Call at the top of a test module, before importing torch."""
    if importlib.util.find_spec("torch") is not None:
        return
    if HAS_MXNET:
        pytest.skip("torch is installed in the core environment (numpy 2), not beside MXNet", allow_module_level=True)
    if os.environ.get("ICFORMAT_WITHOUT_TORCH", "") not in ("", "0"):
        pytest.skip("ICFORMAT_WITHOUT_TORCH: no CPU torch wheel for this Python here", allow_module_level=True)
