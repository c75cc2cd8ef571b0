"""MXNet/dmlc RecordIO: streaming reader and writer, ``.idx`` index, image-record headers."""
from .framing import MAGIC, MAGIC_BYTES
from .header import HEADER_SIZE, IRHeader, pack, unpack, unpack_labels
from .index import IndexedRecordFile, read_index, scan_offsets, write_index
from .reader import RecordReader, iter_records
from .shards import ShardSetReader, iter_dataset, list_rec_shards
from .writer import RecordWriter, default_index_path
from ..errors import RecordIOError

__all__ = [
    "MAGIC",
    "MAGIC_BYTES",
    "HEADER_SIZE",
    "IRHeader",
    "pack",
    "unpack",
    "unpack_labels",
    "IndexedRecordFile",
    "read_index",
    "scan_offsets",
    "write_index",
    "RecordReader",
    "iter_records",
    "list_rec_shards",
    "ShardSetReader",
    "iter_dataset",
    "RecordWriter",
    "default_index_path",
    "RecordIOError",
]
