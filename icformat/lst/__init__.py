"""``.lst`` files: read, write (make and validate live beside these)."""
from .format import format_label, format_lst_line, write_lst
from .parse import LstEntry, LstTable, iter_lst, parse_lst_bytes, read_lst

__all__ = ["LstEntry", "LstTable", "read_lst", "parse_lst_bytes", "iter_lst", "write_lst", "format_lst_line", "format_label"]
