"""icformat on Apache Spark: pack, convert and check datasets bigger than one machine.

Each function takes a ``SparkSession`` (``get_session()`` makes one; under ``spark-submit`` use the
active one) and distributes the local implementation: a shard is one task running the local
packer, so Spark's output is byte-for-byte what ``--num-shards N --shard-index i`` writes locally.
Importing this package needs no pyspark; calling into it does (``pip install 'icformat[spark]'``).
"""
from .convert import manifest_to_rec
from .lst_validation import validate_lst
from .manifest_validation import validate_manifest
from .pack import pack_lst
from .session import get_session

__all__ = ["get_session", "pack_lst", "manifest_to_rec", "validate_lst", "validate_manifest"]
