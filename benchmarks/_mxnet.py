"""Locating MXNet's own tools, the anchors of several benchmarks."""
from __future__ import annotations

import importlib.util
import os


def mxnet_im2rec() -> str | None:
    """Path of MXNet's tools/im2rec.py (found without importing mxnet), or None."""
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "tools", "im2rec.py")
    return path if os.path.exists(path) else None
