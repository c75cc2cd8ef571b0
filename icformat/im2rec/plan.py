"""From a list to work: which ``.lst`` files, which rows (shards), which output names, what chunks.

``im2rec.py`` takes a prefix and packs every ``.lst`` in its folder whose path starts with it
(``data/train`` packs ``data/train.lst`` and ``data/train_val.lst``), writing ``<list>.rec`` and
``<list>.idx`` beside each. A shard is a contiguous slice of rows, ``ceil(N / num_shards)`` per
shard, as dmlc splits an indexed ``.rec`` between workers.
"""
from __future__ import annotations

import os
import numpy as np

from ..io.paths import is_uri
from ..errors import IcformatError, LstError, UsageError
from ..io.sniff import check_text_file
from ..lst.parse import LST_KIND
from ..lst.table import LstTable


def find_lst_files(lst_or_prefix: str) -> list[str]:
    """The ``.lst`` files named by ``lst_or_prefix``: the file itself, or (as im2rec) every ``.lst`` in
    the prefix's folder whose path starts with the prefix (a folder prefix takes all its lists)."""
    if lst_or_prefix.endswith(".lst") and (is_uri(lst_or_prefix) or os.path.isfile(lst_or_prefix)):
        return [lst_or_prefix]  # an s3:// list is named whole: prefixes are matched on local folders
    if os.path.isfile(lst_or_prefix):  # a file by another name: a list if it reads as text (a .rec does not)
        check_text_file(lst_or_prefix, LST_KIND)
        return [lst_or_prefix]
    prefix = os.path.abspath(lst_or_prefix)
    folder = prefix if os.path.isdir(prefix) else os.path.dirname(prefix)
    if not os.path.isdir(folder):
        raise IcformatError(f"{lst_or_prefix}: no such .lst file or folder; give a .lst file or a prefix of some")
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if path.startswith(prefix) and name.endswith(".lst") and os.path.isfile(path):
            found.append(path)
    if not found:
        raise IcformatError(f"{lst_or_prefix}: no .lst file starts with this prefix; make one with 'icformat lst make'")
    return found


def shard_bounds(count: int, num_shards: int = 1, shard_index: int = 0) -> tuple[int, int]:
    """Rows ``[start, stop)`` of shard ``shard_index``: ``ceil(count / num_shards)`` rows per shard
    (the last ones may be shorter or empty)."""
    if num_shards < 1:
        raise UsageError(f"--num-shards must be at least 1, not {num_shards}")
    if not 0 <= shard_index < num_shards:
        raise UsageError(f"--shard-index must be between 0 and {num_shards - 1}, not {shard_index}")
    step = -(-count // num_shards)
    start = min(count, shard_index * step)
    return start, min(count, start + step)


def output_prefix(lst_path: str, out_prefix: str | None = None, num_shards: int = 1, shard_index: int = 0) -> str:
    """``data/train.lst`` -> ``data/train``; ``out_prefix`` replaces it (a folder keeps the list's
    name inside it); with shards a suffix ``-00001-of-00004`` keeps the parts apart and sorted."""
    base = os.path.splitext(lst_path)[0]
    if out_prefix and out_prefix.endswith(("/", os.sep)) and not is_uri(out_prefix) and not os.path.isdir(out_prefix):
        raise UsageError(f"-o {out_prefix}: no such folder; create it first, or give an output name without the trailing '/'")
    if out_prefix:
        base = os.path.join(out_prefix, os.path.basename(base)) if os.path.isdir(out_prefix) else out_prefix
    if base.endswith(".rec"):
        base = base[:-4]
    if num_shards > 1:
        width = max(5, len(str(num_shards - 1)))
        base = f"{base}-{shard_index:0{width}d}-of-{num_shards:0{width}d}"
    return base


def plan_packs(lst_or_prefix: str, out_prefix: str | None = None) -> list[tuple[str, str | None]]:
    """``(lst path, output prefix or None)`` for each list to pack; several lists need ``out_prefix``
    to be a folder (or absent: each output goes beside its list)."""
    lists = find_lst_files(lst_or_prefix)
    if out_prefix and len(lists) > 1 and not os.path.isdir(out_prefix):
        raise IcformatError(f"{lst_or_prefix} names {len(lists):,} lists ({', '.join(os.path.basename(p) for p in lists)}); "
                            "-o/--out-prefix must then be an existing folder, or name one .lst file")
    return [(lst, out_prefix) for lst in lists]


def check_indices_for_packing(table: LstTable) -> None:
    """Refuse lists whose indices cannot be record ids/keys: negative or duplicated."""
    indices = table.indices
    if len(indices) == 0:
        return
    negative = np.flatnonzero(indices < 0)
    if len(negative):
        row = int(negative[0])
        raise LstError(f"negative index {int(indices[row])}; image ids must be >= 0 (see 'icformat lst validate')", table.path, int(table.lines[row]))
    unique, first = np.unique(indices, return_index=True)
    if len(unique) != len(indices):
        seen = np.zeros(len(indices), dtype=bool)
        seen[first] = True
        row = int(np.flatnonzero(~seen)[0])
        raise LstError(
            f"duplicate index {int(indices[row])}; .idx keys must be unique (list every problem with 'icformat lst validate')",
            table.path,
            int(table.lines[row]),
        )


def check_paths_for_packing(table: LstTable, allow_absolute: bool = False) -> list:
    """Refuse a list with absolute paths (unless ``allow_absolute``) or paths leaving the root, naming
    the first, before any work: skipping them one by one would lose those images quietly. Returns
    the warnings ``lst validate`` gives about the paths (an image listed twice)."""
    from ..lst.paths import check_paths

    _, problems = check_paths(table)
    for problem in problems:
        if problem.is_error and not (allow_absolute and problem.code == "absolute-path"):
            hint = "; pass --allow-absolute-paths to read them as they are" if problem.code == "absolute-path" else ""
            reason = problem.message.split(";")[0]
            raise LstError(f"{reason}; image paths must be relative to the image root{hint} "
                           "(list every problem with 'icformat lst validate')", table.path, problem.line)
    return [p for p in problems if not p.is_error]


def label_warnings(table: LstTable, pack_label: bool) -> list:
    """What packing would do to the labels that the user should hear about, with the words (and
    codes) of ``lst validate``: extra label columns dropped without ``pack_label``; class labels that
    are not whole, not 0-based or not contiguous."""
    from ..lst.checks import check_class_labels

    if pack_label and table.label_width > 1:
        return []
    return check_class_labels(table, None)[0]


def chunk_bounds(start: int, stop: int, size: int, workers: int = 1) -> list[tuple[int, int]]:
    """``[start, stop)`` cut into pieces of ``size`` rows; with several ``workers`` the last
    ``workers x size`` rows go in quarter pieces, so that the workers finish close together
    (the last piece of work is small)."""
    size = max(1, size)
    tail = min(stop - start, size * workers) if workers > 1 and size >= 4 else 0
    body = [(i, min(stop - tail, i + size)) for i in range(start, stop - tail, size)]
    step = size // 4 if tail else size
    return body + [(i, min(stop, i + step)) for i in range(stop - tail, stop, step)]
