"""Augmented manifest -> ``.lst``: references become paths relative to a prefix, labels columns."""
from __future__ import annotations

import json
import os

from typing import Callable, Sequence

from ..io.atomic import open_output
from ..io.paths import PathLike, is_uri
from ..errors import ManifestError
from ..lst.format import format_lst_line
from ..errors import LabelError
from ..manifest.labels import parse_label
from ..manifest.parse import ManifestRow, check_image_classification_names, parse_attribute_names, read_numbered_rows, source_name
from ..manifest.refs import base_of, resolve_ref
from ..skips import Converted, SkipPolicy
from ..manifest.validator import EMPTY_MANIFEST


def row_index(row: ManifestRow, index_attribute: str | None, ordinal: int, path: str | None) -> int:
    """The row's ``index_attribute`` (an integer) when it has one, else its position among the rows."""
    if not index_attribute or index_attribute not in row.record:
        return ordinal
    value = row.record[index_attribute]
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"attribute {index_attribute!r} must be an integer index, got {json.dumps(value)}", path, row.line)
    return value


def row_label(row: ManifestRow, label_format, num_classes, path: str | None):
    """The row's label: a float class id, or a float32 multi-hot vector (see ``parse_label``)."""
    try:
        return parse_label(row.label_value, label_format, num_classes)
    except LabelError as exc:
        raise ManifestError(exc.reason, path, row.line) from None


def row_labels(row: ManifestRow, label_format, num_classes, path: str | None) -> tuple[float, ...]:
    """The row's label as ``.lst`` label columns: one class id, or a multi-hot vector."""
    label = row_label(row, label_format, num_classes, path)
    return (label,) if isinstance(label, float) else tuple(float(v) for v in label)


def relative_path(ref: str, prefix: str, path: str | None, line: int, base: str | None = None) -> str:
    """``ref`` without ``prefix`` (``s3://b/train/`` + ``dog/1.jpg`` -> ``dog/1.jpg``). With ``base``
    (the manifest's folder), a relative local prefix and relative local references are both read
    from there, as every manifest reader reads references, and compared as absolute paths."""
    if base is not None and prefix and isinstance(ref, str):
        prefix, resolved = _resolved(prefix, base), _resolved(ref, base)
    else:
        resolved = ref
    root = prefix.rstrip("/") + "/" if prefix else ""
    if not resolved.startswith(root) or len(resolved) == len(root):
        raise ManifestError(f"reference {ref!r} is outside the prefix {root!r}; give the common prefix of all images with --prefix", path, line)
    relative = resolved[len(root):]
    if any(c in relative for c in "\t\r\n"):
        raise ManifestError(f"reference {ref!r} holds a tab or line break, which a .lst cannot hold", path, line)
    return relative


def _resolved(ref: str, base: str) -> str:
    """A reference or prefix as an absolute, normalised local path (URIs as they are)."""
    return ref if is_uri(ref) else os.path.normpath(resolve_ref(ref, base))


def manifest_to_lst(
    manifest: PathLike,
    dest: PathLike,
    *,
    attribute_names: str | Sequence[str],
    prefix: str,
    label_format: str | None = None,
    num_classes: int | None = None,
    index_attribute: str | None = "index",
    style: str = "int",
    progress: Callable[[int], object] | None = None,
    on_error: str = "raise",
) -> Converted:
    """Write a ``.lst`` line per manifest line; returns the number of lines.

    Paths are the references relative to ``prefix`` (a reference outside it is an error). A
    relative local prefix, like a relative reference, is read from the manifest's folder (what
    ``lst_to_manifest`` writes with the same prefix comes back unchanged). Label
    lists become multi-hot columns (class-id lists need ``num_classes``); all rows must have the
    same number of labels. Indices come from ``index_attribute`` when present, else the row's
    position (0, 1, 2, ...). A bad row stops the run unless ``on_error`` is ``"skip"`` or
    ``"warn"``: it is then left out and listed in the result's ``skipped`` (the result is the
    number of lines written).
    """
    names = parse_attribute_names(attribute_names)
    check_image_classification_names(names)
    path = source_name(manifest)
    base = base_of(manifest)
    width = None
    count = 0
    policy = SkipPolicy(on_error)
    with open_output(dest, "wb") as out:
        for ordinal, row in read_numbered_rows(manifest, names, policy):
            try:
                relative = relative_path(row.ref, prefix, path, row.line, base)
                labels = row_labels(row, label_format, num_classes, path)
                if width is not None and len(labels) != width:
                    raise ManifestError(f"{len(labels)} label(s) where earlier lines have {width}; a .lst needs one width", path, row.line)
                line = format_lst_line(row_index(row, index_attribute, ordinal, path), labels, relative, style)
            except ManifestError as exc:
                policy.skip(exc, "bad-row")
                continue
            width = len(labels)
            out.write(line.encode("utf-8"))
            count += 1
            if progress is not None:
                progress(1)
        if not count:  # the same verdict on an empty manifest as everywhere: an error, no output
            raise ManifestError(EMPTY_MANIFEST if not policy.skipped else f"every row was bad (the first: {policy.skipped[0]})", path)
    return Converted(count, policy.skipped)
