"""``lst validate --check-images``: read and judge every listed image (in worker processes), with
the one image verdict (:func:`icformat.image.verdict.judge_image`)."""
from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

from ..io.objects import read_bytes
from ..io.paths import is_uri, join_uri
from ..problems import Problem
from .table import LstTable

_CHUNK = 64  # images per task handed to a worker


def check_image_files(
    table: LstTable,
    root: str,
    rows: np.ndarray,
    image_shape: Sequence[int] | None,
    resize: int,
    num_workers: int | None,
    progress: Callable[[int], None] | None,
) -> list[Problem]:
    """Judge each image of the ``rows`` mask and return a :class:`Problem` per finding, on its line."""
    selected = np.flatnonzero(rows).tolist()
    jobs = [(join_uri(root, table.paths[r]) if is_uri(root) else os.path.join(root, table.paths[r]), table.paths[r]) for r in selected]
    args = (tuple(image_shape) if image_shape else None, int(resize or 0))
    problems = []
    for row, findings in zip(selected, _map_chunks(jobs, args, num_workers, progress)):
        line = int(table.lines[row])
        problems += [Problem(table.path, line, message, severity, code) for severity, code, message in findings]
    return problems


def _map_chunks(jobs: list, args: tuple, num_workers: int | None, progress) -> list:
    from ..io.parallel import map_ordered

    chunks = [(jobs[i : i + _CHUNK], args) for i in range(0, len(jobs), _CHUNK)]
    workers = min(num_workers or os.cpu_count() or 1, max(1, len(chunks)))
    results: list = []
    for _, found in map_ordered(_judge_chunk, chunks, workers=workers, kind="process"):
        results += found
        if progress:
            progress(len(found))
    return results


def _judge_chunk(task: tuple) -> list:
    jobs, args = task
    return [judge_image_file(full, rel, *args) for full, rel in jobs]


def judge_image_file(full: str, rel: str, image_shape: Sequence[int] | None = None, resize: int = 0) -> list[tuple[str, str, str]]:
    """``(severity, code, message)`` for each finding on one image file (empty when it is fine)."""
    from ..image.verdict import judge_image

    try:
        data = read_bytes(full)
    except OSError as exc:
        return [("error", "unreadable", f"cannot read {rel}: {exc.strerror or exc}")]
    verdict = judge_image(data, image_shape=image_shape, resize=resize, name=rel)
    return [(f.severity, f.code, f"{rel}: {f.message}") for f in verdict.findings]
