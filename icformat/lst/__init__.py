"""``.lst`` files: read, write, make (as ``im2rec.py --list``) and validate."""
from .format import format_label, format_lst_line, write_lst
from .make import MakeResult, list_images, make_lst, read_classes_file, write_classes_file
from .parse import LstEntry, LstTable, iter_lst, parse_lst_bytes, read_lst
from .validate import LstValidation, Problem, validate_lst

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
