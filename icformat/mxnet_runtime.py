"""The one way icformat imports MXNet.

MXNet 1.9.1's MKLDNN subgraph backend fuses ``conv -> (+ shortcut) -> BatchNorm`` wrongly, which
breaks every evaluation of a pre-activation ResNet (SageMaker's network) bound for inference. The
backend is switched off here, before MXNet is first imported and before any module is bound.
"""
from __future__ import annotations

import os
from types import ModuleType

from .errors import MissingDependencyError

#: environment MXNet must see before its first bind (the fused CPU path computes ResNet v2 wrongly)
SAFE_ENVIRONMENT = {"MXNET_SUBGRAPH_BACKEND": "NONE"}


def import_mxnet() -> ModuleType:
    """``mxnet``, imported with the safe environment; a clear error when the extra is missing."""
    for name, value in SAFE_ENVIRONMENT.items():
        os.environ[name] = value
    try:
        import mxnet
    except ImportError as exc:
        raise MissingDependencyError(
            "this needs MXNet 1.9.1: pip install 'icformat[train]' (Python 3.11, numpy < 1.24)") from exc
    return mxnet
