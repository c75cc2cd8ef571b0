"""icformat: the data side of SageMaker/MXNet image classification (RecordIO, .lst, manifests)."""
from importlib.metadata import PackageNotFoundError, version

from .errors import FormatError, IcformatError, RecordIOError
from .lst import read_lst, write_classes_file, write_lst
from .manifest import read_manifest, write_manifest
from .problems import Problem, ValidationResult
from .recordio import IndexedRecordFile, IRHeader, RecordReader, RecordWriter, pack, rec_info, unpack, verify_rec

try:
    __version__ = version("icformat")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "IcformatError",
    "FormatError",
    "RecordIOError",
    "IRHeader",
    "pack",
    "unpack",
    "RecordReader",
    "RecordWriter",
    "IndexedRecordFile",
    "read_lst",
    "write_lst",
    "read_manifest",
    "write_manifest",
    "write_classes_file",
    "rec_info",
    "verify_rec",
    "Problem",
    "ValidationResult",
    "__version__",
]
