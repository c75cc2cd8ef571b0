"""An augmented-manifest channel: ``manifest validate`` (AttributeNames order, attributes on every
line, labels in the content type's label format and range), then each line's label and image
reference. With ``check_images`` every referenced image is fetched and decoded."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ManifestError
from ..manifest.labels import CLASS_ID, check_label, class_ids_to_multi_hot, decode_label
from ..errors import LabelError
from ..manifest.parse import _BLANK, _opened, decode_line, is_ref_attribute, iter_line_chunks
from ..manifest.refs import base_of, resolve_ref
from ..manifest.validate import validate_manifest
from ..manifest.validate_arrow import _Fallback, _distinct, _line_layout, _read_table
from .data import ChannelData, fetch_and_judge, fill_header_sizes, set_labels
from .findings import EMPTY_BATCH, ERROR, MULTI_LABEL_MISMATCH, WARNING, WRONG_TRAINING, Finding


def scan_manifest_channel(name: str, uri: str, attribute_names: Sequence[str], *, num_classes: int | None,
                          label_format: str, check_images: bool = False, workers: int | None = None,
                          progress: Callable[[int], None] | None = None) -> ChannelData:
    """Channel ``name``: the augmented manifest at ``uri`` read with ``attribute_names``."""
    data = ChannelData(name, "manifest", files=[uri], labels_checked=True)
    names = tuple(attribute_names)
    try:
        problems = validate_manifest(uri, names, num_classes=num_classes, label_format=label_format)
    except ManifestError as exc:
        data.findings.append(Finding(ERROR, "attribute-names", str(exc), "set AttributeNames to the image attribute "
                                     "(ending in -ref), then the label attribute, e.g. source-ref,class",
                                     EMPTY_BATCH, name, uri))
        return data
    for problem in problems:
        data.findings.append(_manifest_finding(name, problem, num_classes))
    _gather(data, uri, names, label_format, num_classes, progress)
    if check_images and data.image_paths:
        _fetch_and_decode(data, workers, progress)
    elif data.count:
        skipped = fill_header_sizes(data, workers=workers or 16, progress=progress)
        if skipped is not None:
            data.findings.append(skipped)
    return data


def _manifest_finding(name: str, problem, num_classes: int | None) -> Finding:
    message = problem.message
    duplicate = message.startswith(("duplicate reference", "same image as line"))
    if duplicate or getattr(problem, "severity", ERROR) == WARNING:
        return Finding(WARNING, "duplicate-image" if duplicate else "manifest-line", message,
                       "drop the repeated line" if duplicate else "", "", name, problem.path, line=problem.line)
    if problem.line is None or "is missing" in message or "is null" in message or "no lines" in message:
        fix = ("add the attribute to every line, or correct AttributeNames" if problem.line is not None
               else "set AttributeNames to the image attribute (ending in -ref), then the label attribute")
        return Finding(ERROR, "manifest-attributes", message, fix, EMPTY_BATCH, name, problem.path, line=problem.line)
    if "multi-hot label has" in message and num_classes is not None:
        width = message.split("has ", 1)[1].split(" ", 1)[0]
        prevents = MULTI_LABEL_MISMATCH.format(width=width, num_classes=num_classes)
        return Finding(ERROR, "multi-label-width", message, f"give every label {num_classes} values, or set num_classes",
                       prevents, name, problem.path, line=problem.line)
    return Finding(ERROR, "manifest-line", message, "correct or drop the line (icformat manifest validate)",
                   WRONG_TRAINING, name, problem.path, line=problem.line)


def _names(names: tuple[str, ...]) -> tuple[str | None, str | None]:
    refs = [n for n in names if is_ref_attribute(n)]
    image = refs[0] if refs else (names[0] if names else None)
    others = [n for n in names if n != image and not is_ref_attribute(n)]
    return image, (others[0] if others else None)


def _gather(data: ChannelData, uri: str, names: tuple[str, ...], label_format: str, num_classes: int | None, progress) -> None:
    """Each usable line's image reference and label, a chunk of lines at a time: through the manifest
    validator's pyarrow reader where it takes the chunk, line by line otherwise (the same values)."""
    image_attr, label_attr = _names(names)
    labels: list = []  # per chunk: a float array (single labels) or a list
    refs: list[str] = []
    lines: list[np.ndarray] = []
    cache: dict = {}
    with _opened(uri) as stream:
        for first_line, chunk in iter_line_chunks(stream):
            got = None
            if image_attr and label_attr:
                got = _chunk_arrow(chunk, first_line, (image_attr, label_attr), label_format, num_classes, cache)
            if got is None:
                got = _chunk_python(chunk, first_line, uri, image_attr, label_attr, label_format, num_classes, cache)
            refs += got[0]
            labels.append(got[1])
            lines.append(got[2])
            if progress is not None:
                progress(len(got[0]))
    data.count = len(refs)
    data.position = np.concatenate(lines) if lines else np.zeros(0, dtype=np.int64)
    data.file_index = np.zeros(len(refs), dtype=np.int32)
    data.heights = np.full(len(refs), -1, dtype=np.int32)
    data.widths = np.full(len(refs), -1, dtype=np.int32)
    base = base_of(uri)
    data.image_paths = [resolve_ref(r, base) for r in refs] if not _all_uris(refs) else refs
    if all(isinstance(part, np.ndarray) for part in labels):
        data.single = np.concatenate(labels) if labels else np.zeros(0)
        data.label_width = 1 if data.count else None
    else:
        set_labels(data, [v for part in labels for v in (part.tolist() if isinstance(part, np.ndarray) else part)])


def _all_uris(refs: list[str]) -> bool:
    """True when every reference is an ``s3://`` URI (nothing to resolve)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return not refs or bool(pc.all(pc.starts_with(pa.array(refs, pa.string()), "s3://")).as_py())


def _chunk_python(chunk: bytes, first_line: int, uri: str, image_attr, label_attr, label_format, num_classes, cache):
    refs, labels, lines = [], [], []
    for line, raw in enumerate(chunk.split(b"\n"), first_line):
        if not raw.strip(_BLANK):
            continue
        try:
            record = decode_line(raw, uri, line)
        except ManifestError:
            continue  # validation reported it
        ref = record.get(image_attr)
        label = _label(record.get(label_attr), label_format, num_classes, cache)
        if isinstance(ref, str) and ref and label is not None:
            refs.append(ref)
            labels.append(label)
            lines.append(line)
    return refs, labels, np.asarray(lines, dtype=np.int64)


def _chunk_arrow(chunk: bytes, first_line: int, names: tuple[str, str], label_format, num_classes, cache):
    """The chunk through pyarrow (the validator's reader), or None when it must go line by line."""
    import pyarrow.compute as pc

    try:
        starts, ends, rows_at = _line_layout(chunk)
        if not len(rows_at):
            return None
        table = _read_table(chunk, starts, ends, rows_at, names)
        codes, values = _distinct(table.column(names[1]).combine_chunks())
    except _Fallback:
        return None
    refs = table.column(names[0]).combine_chunks()
    decoded = [_label(v, label_format, num_classes, cache) for v in values]
    good_label = np.array([d is not None for d in decoded] + [False], dtype=bool)[np.where(codes >= 0, codes, len(decoded))]
    good_ref = pc.fill_null(pc.greater(pc.utf8_length(refs), 0), False).to_numpy(zero_copy_only=False)
    keep = np.flatnonzero(good_label & good_ref)
    kept_refs = refs.take(keep).to_pylist()
    if all(isinstance(d, float) or d is None for d in decoded):  # single labels: one numpy take
        kept_labels = np.array([d if d is not None else np.nan for d in decoded] or [0.0])[codes[keep]]
    else:
        kept_labels = [decoded[c] for c in codes[keep].tolist()]
    return kept_refs, kept_labels, (first_line + rows_at[keep]).astype(np.int64)


def _label(value: Any, label_format: str, num_classes: int | None, cache: dict):
    key = value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if key is not None and key in cache:
        return cache[key]
    try:
        info = check_label(value, label_format, None)
        decoded = decode_label(value)
        if info.kind == CLASS_ID:
            decoded = tuple(class_ids_to_multi_hot(decoded, num_classes)) if num_classes else None
        elif isinstance(decoded, list):
            decoded = tuple(decoded)
        else:
            decoded = float(decoded)
    except (LabelError, ManifestError, IndexError):
        decoded = None
    if key is not None:
        cache[key] = decoded
    return decoded


def _fetch_and_decode(data: ChannelData, workers: int | None, progress) -> None:
    def bad(i: int, reason: str) -> None:
        data.findings.append(Finding(ERROR, "image-decode", f"{data.image_paths[i]}: {reason}", "re-encode or replace this image",
                                     "training failing on an image that does not decode", data.name, data.files[0],
                                     line=int(data.position[i])))

    fetch_and_judge(data, range(data.count), workers=workers, progress=progress, on_bad=bad)
