"""MXNet/dmlc RecordIO: streaming reader and writer, ``.idx`` index, image-record headers."""
import sys as _sys

from .batch import RecordBatch
from .framing import MAGIC, MAGIC_BYTES
from .header import HEADER_SIZE, ImageRecord, IRHeader, pack, split_record, unpack, unpack_labels
from .index import read_index, scan_offsets, write_index
from .random_access import IndexedRecordFile
from .reader import RecordReader, iter_records
from .shards import ShardSetReader, iter_dataset, list_rec_shards
from .writer import RecordWriter, default_index_path
from ..errors import RecordIOError
from . import info as _info
from .info import RecInfo, rec_info
from .verify import verify_rec

# ``recordio.inspect`` was renamed ``recordio.info`` (it shadowed the standard library's ``inspect``);
# the old import path keeps working.
_sys.modules[__name__ + ".inspect"] = _info

__all__ = [
    "MAGIC",
    "MAGIC_BYTES",
    "HEADER_SIZE",
    "IRHeader",
    "pack",
    "unpack",
    "unpack_labels",
    "split_record",
    "ImageRecord",
    "IndexedRecordFile",
    "read_index",
    "scan_offsets",
    "write_index",
    "RecordReader",
    "RecordBatch",
    "iter_records",
    "list_rec_shards",
    "ShardSetReader",
    "iter_dataset",
    "RecordWriter",
    "default_index_path",
    "RecordIOError",
    "RecInfo",
    "rec_info",
    "verify_rec",
]
