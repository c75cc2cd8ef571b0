"""``.lst`` files: read, write, make (as ``im2rec.py --list``) and validate."""
from .format import format_label, format_lst_line, write_lst
from .make import MakeResult, list_images, make_lst, read_classes_file, write_classes_file
from .table import LstEntry, LstTable
from .parse import iter_lst, parse_lst_bytes, read_lst
from .validate import LstValidation, validate_lst
from ..problems import Problem

__all__ = [
    "LstEntry",
    "LstTable",
    "read_lst",
    "parse_lst_bytes",
    "iter_lst",
    "write_lst",
    "format_lst_line",
    "format_label",
    "make_lst",
    "list_images",
    "read_classes_file",
    "write_classes_file",
    "MakeResult",
    "validate_lst",
    "LstValidation",
    "Problem",
]
