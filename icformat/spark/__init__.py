"""icformat on Apache Spark: pack, convert and check datasets bigger than one machine.

Each function takes a ``SparkSession`` (``get_session()`` makes one; under ``spark-submit`` use the
active one) and distributes the local implementation: a shard is one task running the local
packer, so Spark's output is byte-for-byte what ``--num-shards N --shard-index i`` writes locally.
Importing this package needs no pyspark; calling into it does (``pip install 'icformat[spark]'``).
"""
from __future__ import annotations

from typing import Any

__all__ = ["get_session", "pack_lst", "manifest_to_rec", "validate_lst", "validate_manifest"]


def __getattr__(name: str) -> Any:
    if name == "get_session":
        from .session import get_session

        return get_session
    if name == "pack_lst":
        from .pack import pack_lst

        return pack_lst
    if name == "manifest_to_rec":
        from .convert import manifest_to_rec

        return manifest_to_rec
    if name == "validate_lst":
        from .validate_lst import validate_lst

        return validate_lst
    if name == "validate_manifest":
        from .validate_manifest import validate_manifest

        return validate_manifest
    raise AttributeError(f"module 'icformat.spark' has no attribute {name!r}")
