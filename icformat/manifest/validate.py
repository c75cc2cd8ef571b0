"""Validating an augmented manifest for SageMaker image classification: every problem, with its line.

Checked: AttributeNames (two of them, the image reference first); each line is a JSON object with
every listed attribute (a missing one is what makes SageMaker fail with "Got empty batch from
pipe"); references are non-empty URI strings; labels are class ids or lists of the right format,
range and width, consistent from line to line; no image is listed twice; and, on request, every
reference can be read.

Large manifests are checked a chunk of lines at a time through pyarrow's JSON reader
(:mod:`.validate_arrow`); a chunk it cannot take exactly (invalid JSON, mixed value types, ...) is
checked line by line in Python instead. Both give the same problems.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Callable, Sequence


from ..io.paths import PathLike
from ..errors import UsageError
from .labels import check_label_format
from .parse import CHUNK_BYTES, _opened, iter_line_chunks, parse_attribute_names, source_name
from .refs import base_of
from .validate_arrow import check_chunk_arrow
from .validator import Validator, ManifestValidation



def validate_manifest(
    src: PathLike | BinaryIO,
    attribute_names: str | Sequence[str],
    *,
    num_classes: int | None = None,
    label_format: str | None = None,
    check_refs: bool = False,
    workers: int | None = None,
    engine: str = "auto",
    chunk_bytes: int = CHUNK_BYTES,
    progress: Callable[[int], object] | None = None,
    on_start: Callable[[int], object] | None = None,
) -> ManifestValidation:
    """Every problem of a manifest for SageMaker image classification, in line order (``ok``: no
    error; a duplicate image is a warning, as in ``lst validate``).

    ``label_format`` (multi-hot, the default, or class-id) says how label lists are read;
    ``num_classes`` bounds class ids and fixes the multi-hot width. ``check_refs`` also checks that
    every image reference can be read (relative paths are relative to the manifest's folder).
    ``engine="python"`` checks line by line only (the reference behaviour); ``"auto"`` uses pyarrow
    where it can. ``progress`` gets the number of lines checked since its last call; with
    ``check_refs``, ``on_start`` then gets the number of distinct references to check and
    ``progress`` counts those (as a progress bar reset to a new total).
    """
    if num_classes is not None and num_classes < 1:
        raise UsageError(f"num_classes must be at least 1, got {num_classes}")
    if engine not in ("auto", "python"):
        raise UsageError(f"engine must be 'auto' or 'python', got {engine!r}")
    names = parse_attribute_names(attribute_names)
    label_format = check_label_format(label_format)
    path = source_name(src)
    validator = Validator(path, names, num_classes=num_classes, label_format=label_format)
    chunk_arrow = check_chunk_arrow if engine == "auto" else None
    with _opened(src) as stream:
        for first_line, chunk in iter_line_chunks(stream, chunk_bytes):
            before = validator.rows
            if chunk_arrow is None or not chunk_arrow(validator, chunk, first_line):
                validator.check_chunk_python(chunk, first_line)
            if progress is not None:
                progress(validator.rows - before)
    base = (base_of(src) or os.getcwd()) if check_refs else None
    validator.check_duplicates_and_refs(check_refs, base, workers, progress, on_start)
    return validator.result()
