"""Images + ``.lst`` channels (``train`` + ``train_lst``): ``lst validate`` against the image channel,
then each listed image's label, size (from its header) and file size. S3 image channels are checked
against their listing; with ``check_images`` their images are fetched and decoded too."""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ..io.paths import is_uri, local_path
from ..io.streams import open_input
from ..lst.validate import read_lst_tolerant, validate_lst
from ..lst.paths import unsafe_path_reason
from ..io.paths import join_uri
from .data import ChannelData, fetch_and_judge, header_size, read_header_bytes, set_labels
from .findings import ERROR, INVALID_LST, WARNING, Finding
from .listing import Entry

_FILE_PROBLEMS = ("file not found", "not a regular file", "empty file")
_MISSING_PREVENTS = "the job failing while it converts the .lst and images to RecordIO (an image is missing)"


def scan_lst_channel(name: str, lst_uri: str, root_uri: str, root_entries: list[Entry], *,
                     multi_label: bool | None, num_classes: int | None, check_images: bool = False,
                     workers: int | None = None, progress: Callable[[int], None] | None = None) -> ChannelData:
    """Channel ``name`` of images at ``root_uri`` listed by the ``.lst`` at ``lst_uri``."""
    data = ChannelData(name, "lst", files=[lst_uri], labels_checked=True)
    local_root = None if is_uri(root_uri) else local_path(root_uri)
    if local_root is not None and not os.path.isdir(local_root):
        local_root = None
    result = validate_lst(lst_uri, local_root, multi_label=multi_label, num_classes=num_classes,
                          check_images=check_images and local_root is not None, num_workers=workers, progress=progress)
    lst_channel = f"{name}_lst"
    for problem in result.problems:
        if problem.severity == WARNING and problem.message.startswith("no image has"):
            continue  # class coverage is checked once, against num_classes, for every kind of channel
        data.findings.append(_lst_finding(name, lst_channel, problem))
    with open_input(lst_uri, "rb") as f:
        table, _ = read_lst_tolerant(f.read(), lst_uri)
    data.count = len(table)
    data.position = table.lines.astype(np.int64)
    data.file_index = np.zeros(len(table), dtype=np.int32)
    labels = table.labels
    set_labels(data, labels[:, 0].tolist() if not _is_multi(multi_label, table.label_width) else labels.tolist())
    if local_root is not None:
        _local_images(data, table, local_root)
    else:
        _s3_images(data, table, root_uri, root_entries, check_images, workers, progress)
    return data


def _is_multi(multi_label: bool | None, width: int) -> bool:
    return width > 1 if multi_label is None else bool(multi_label)


def _lst_finding(name: str, lst_channel: str, problem) -> Finding:
    missing = problem.message.startswith(_FILE_PROBLEMS)
    if problem.severity == WARNING:
        prevents, fix = "", ""
    elif missing:
        prevents, fix = _MISSING_PREVENTS, f"upload the image into the {name} channel, or drop the line"
    else:
        prevents, fix = INVALID_LST.format(channel=name), "correct or drop the line (icformat lst validate)"
    return Finding(problem.severity, "lst", problem.message, fix, prevents, lst_channel, problem.path, line=problem.line)


def _local_images(data: ChannelData, table, root: str) -> None:
    count = len(table)
    heights = np.full(count, -1, dtype=np.int32)
    widths = np.full(count, -1, dtype=np.int32)
    sizes = np.full(count, -1, dtype=np.int64)
    paths = []
    for row, rel in enumerate(table.paths):
        full = None if unsafe_path_reason(rel) else os.path.join(root, rel)
        paths.append(full or "")
        if full is None or not os.path.isfile(full):
            continue
        sizes[row] = os.path.getsize(full)
        if sizes[row]:
            heights[row], widths[row], _ = header_size(read_header_bytes(full))
    data.heights, data.widths, data.byte_sizes, data.image_paths = heights, widths, sizes, paths


def _s3_images(data: ChannelData, table, root_uri: str, entries: list[Entry], check_images: bool, workers, progress) -> None:
    count = len(table)
    by_relative = {e.relative: e for e in entries if not e.stray}
    prefix = root_uri.rstrip("/") + "/"
    heights = np.full(count, -1, dtype=np.int32)
    widths = np.full(count, -1, dtype=np.int32)
    sizes = np.full(count, -1, dtype=np.int64)
    paths: list[str] = []
    present = []
    for row, rel in enumerate(table.paths):
        entry = by_relative.get(rel) if unsafe_path_reason(rel) is None else None
        paths.append(entry.uri if entry else join_uri(prefix, rel))
        if entry is None:
            data.findings.append(Finding(ERROR, "lst-image", f"{rel}: no such object under {root_uri}",
                                         f"upload the image into the {data.name} channel, or drop the line",
                                         _MISSING_PREVENTS, f"{data.name}_lst", table.path, line=int(table.lines[row])))
        else:
            sizes[row] = entry.size
            present.append(row)
    data.heights, data.widths, data.byte_sizes, data.image_paths = heights, widths, sizes, paths
    if check_images and present:  # (image content types need resize >= image_shape: no size check needed)
        _fetch_and_decode(data, table, present, workers, progress)


def _fetch_and_decode(data: ChannelData, table, rows: list[int], workers, progress) -> None:
    def bad(row: int, reason: str) -> None:
        data.findings.append(Finding(ERROR, "image-decode", f"{table.paths[row]}: {reason}", "re-encode or drop this image",
                                     "training failing on an image that does not decode", data.name, table.path,
                                     line=int(table.lines[row])))

    fetch_and_judge(data, rows, workers=workers, progress=progress, on_bad=bad)
