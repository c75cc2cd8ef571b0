"""The one way icformat imports MXNet.

MXNet 1.9.1's MKLDNN subgraph backend fuses ``conv -> (+ shortcut) -> BatchNorm`` wrongly, which
breaks every evaluation of a pre-activation ResNet (SageMaker's network) bound for inference. The
backend is switched off here, before MXNet is first imported and before any module is bound.
MXNet then logs, at every bind, that it noticed: a line the user can do nothing about, which
:func:`quiet_bind` drops (the setting itself stays in force).
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from types import ModuleType
from typing import Iterator

from .errors import MissingDependencyError

#: environment MXNet must see before its first bind (the fused CPU path computes ResNet v2 wrongly)
SAFE_ENVIRONMENT = {"MXNET_SUBGRAPH_BACKEND": "NONE"}
#: what MXNet's native code logs because of SAFE_ENVIRONMENT (graph_executor.cc, at every bind)
SAFE_ENVIRONMENT_NOTICES = (b"MXNET_SUBGRAPH_BACKEND=NONE is detected",)


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


@contextlib.contextmanager
def quiet_bind() -> Iterator[None]:
    """Run a bind (or anything else that makes an MXNet executor) with the native stderr (fd 2)
    collected, then pass every line on except :data:`SAFE_ENVIRONMENT_NOTICES`. MXNet logs through
    C++'s ``std::cerr``, which Python's ``warnings``/``logging`` filters cannot reach."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (a closed or replaced stderr): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as collected:
        os.dup2(collected.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            collected.seek(0)
            kept = [line for line in collected.read().splitlines(keepends=True)
                    if not any(notice in line for notice in SAFE_ENVIRONMENT_NOTICES)]
            if kept:
                os.write(2, b"".join(kept))
