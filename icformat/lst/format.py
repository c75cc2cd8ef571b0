"""Writing ``.lst`` files."""
from __future__ import annotations

from typing import Iterable, Sequence
from ..io.atomic import open_output
from ..io.paths import PathLike



def format_label(value: float, style: str = "int") -> str:
    """``style="mxnet"``: ``1.000000`` as MXNet 1.x's im2rec writes; ``"int"``: ``1`` for whole
    numbers (as MXNet 2 writes), the shortest float text otherwise."""
    if style == "mxnet":
        return f"{value:f}"
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def format_lst_line(index: int, labels: Sequence[float], path: str, style: str = "int") -> str:
    """One ``.lst`` line, newline included."""
    return "\t".join([str(int(index)), *(format_label(v, style) for v in labels), path]) + "\n"


def write_lst(dest: PathLike, entries: Iterable, *, style: str = "int") -> int:
    """Write ``(index, labels, path)`` entries (``LstEntry`` or tuples; ``labels`` a number or a
    sequence) atomically to ``dest``; returns the number of lines."""
    count = 0
    with open_output(dest, "w") as f:
        for entry in entries:
            index, labels, path = entry[0], entry[1], entry[2]
            if isinstance(labels, (int, float)):
                labels = (labels,)
            f.write(format_lst_line(index, labels, path, style))
            count += 1
    return count
