"""Path safety for ``.lst`` rows: absolute paths and paths leaving the image root are refused (never
read); a path listed twice is a warning; with a root, missing, non-regular and empty files are errors."""
from __future__ import annotations

import os
import posixpath
import stat

import numpy as np

from ..errors import LstError
from ..problems import DUPLICATE_IMAGE, Problem, error, warning
from .table import LstTable

ABSOLUTE = "absolute path"


def check_paths(table: LstTable) -> tuple[np.ndarray, list[Problem]]:
    """Absolute paths and paths that leave the root; returns a mask of the safe rows and the problems.
    Also warns about a path listed twice."""
    safe, problems = check_unsafe_paths(table)
    return safe, problems + check_duplicate_paths(table.paths, table.lines, table.path)


def check_unsafe_paths(table: LstTable) -> tuple[np.ndarray, list[Problem]]:
    """Absolute paths and paths that leave the root (a row check); returns a mask of the safe rows
    and the problems. Rows are looked at one by one only when a scan of all the paths at once finds
    something suspicious."""
    name, problems = table.path, []
    paths, lines = table.paths, table.lines
    safe = np.ones(len(paths), dtype=bool)
    joined = "\n" + "\n".join(paths)
    if any(mark in joined for mark in ("\n/", "\\", "..", ":")):
        for row, p in enumerate(paths):
            reason = unsafe_path_reason(p)
            if reason:
                safe[row] = False
                code = "absolute-path" if reason == ABSOLUTE else "path-escapes-root"
                problems.append(error(name, code, f"{reason}: '{p}'; paths must be relative to the image root "
                                                  "and stay inside it (refused, not read)", line=int(lines[row])))
    return safe, problems


def check_duplicate_paths(paths: list[str], lines: np.ndarray, name: str | None) -> list[Problem]:
    """A warning for each path listed again after its first row; ``paths`` and ``lines`` are rows in
    line order (a whole-file check: any subset holding every row of a path gives its warnings)."""
    problems: list[Problem] = []
    if len(set(paths)) == len(paths):
        return problems
    seen: dict[str, int] = {}
    for row, p in enumerate(paths):
        first = seen.setdefault(p, row)
        if first != row:
            problems.append(warning(name, DUPLICATE_IMAGE, f"same image as line {int(lines[first])}: {p}", line=int(lines[row])))
    return problems


def unsafe_path_reason(path: str) -> str | None:
    """Why a ``.lst`` path may not be read (absolute, or leaving the root), or None when it is safe."""
    if path[:1] in ("/", "\\") or path[1:3] in (":\\", ":/") or (len(path) == 2 and path[1] == ":"):
        return ABSOLUTE
    if ".." in path:
        normal = posixpath.normpath(path.replace("\\", "/"))
        if normal == ".." or normal.startswith("../"):
            return "path escapes the image root"
    return None


def check_files_exist(table: LstTable, root: str, safe: np.ndarray) -> tuple[list[Problem], np.ndarray]:
    """Missing, non-regular and empty files among the safe rows; returns problems and a mask of the
    rows whose file exists and is not empty."""
    name, problems = table.path, []
    if not os.path.isdir(root):
        raise LstError(f"image root {root} is not a folder", name)
    present = np.zeros(len(table), dtype=bool)
    lines = table.lines
    for row in np.flatnonzero(safe).tolist():
        rel = table.paths[row]
        full = os.path.join(root, rel)
        try:
            st = os.stat(full)
        except OSError:
            problems.append(error(name, "file-not-found", f"file not found: {full}", line=int(lines[row])))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(error(name, "not-a-file", f"not a regular file: {full}", line=int(lines[row])))
        elif st.st_size == 0:
            problems.append(error(name, "empty-image", f"empty file (0 bytes): {full}", line=int(lines[row])))
        else:
            present[row] = True
    return problems, present


