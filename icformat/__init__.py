"""icformat: the data side of SageMaker/MXNet image classification (RecordIO, .lst, manifests).

The names below are imported on first use, so that ``import icformat`` (and the command line's
start, which must answer Ctrl-C cleanly from its first moment) stays light.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IcformatError": ".errors",
    "FormatError": ".errors",
    "RecordIOError": ".errors",
    "IRHeader": ".recordio",
    "pack": ".recordio",
    "unpack": ".recordio",
    "RecordReader": ".recordio",
    "RecordWriter": ".recordio",
    "IndexedRecordFile": ".recordio",
    "read_lst": ".lst",
    "write_lst": ".lst",
    "read_manifest": ".manifest",
    "write_manifest": ".manifest",
    "write_classes_file": ".lst",
    "rec_info": ".recordio",
    "verify_rec": ".recordio",
    "Problem": ".problems",
    "ValidationResult": ".problems",
}

__all__ = [*_EXPORTS, "__version__"]


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("icformat")
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = package_version()
        return value
    if name not in _EXPORTS:
        raise AttributeError(f"module 'icformat' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
