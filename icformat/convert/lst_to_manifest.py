"""``.lst`` -> augmented manifest: each image path becomes ``<prefix>/<path>``, each label a string."""
from __future__ import annotations

from typing import Callable

from ..io.atomic import open_output
from ..io.paths import PathLike
from ..errors import IcformatError, LstError
from ..lst.parse import read_lst
from ..lst.parse import require_rows
from ..errors import LabelError
from ..manifest.labels import check_label_format, label_text
from ..manifest.parse import dump_record, is_ref_attribute
from ..io.paths import join_uri
from ..skips import Converted, SkipPolicy


def check_attribute_pair(ref_attribute: str, label_attribute: str) -> None:
    """The image attribute must end in -ref (SageMaker fetches only those); the label must not."""
    if not is_ref_attribute(ref_attribute):
        raise IcformatError(f"the image attribute {ref_attribute!r} must end in -ref, e.g. source-ref, for SageMaker to fetch the image")
    if is_ref_attribute(label_attribute) or label_attribute == ref_attribute:
        raise IcformatError(f"the label attribute {label_attribute!r} must differ from the image attribute and not end in -ref")


def lst_to_manifest(
    lst: PathLike,
    dest: PathLike,
    *,
    prefix: str,
    ref_attribute: str = "source-ref",
    label_attribute: str = "class",
    label_format: str | None = None,
    index_attribute: str | None = "index",
    progress: Callable[[int], object] | None = None,
    on_error: str = "raise",
) -> Converted:
    """Write a manifest line per ``.lst`` line; returns the number of lines.

    ``prefix`` (an ``s3://`` URI or a folder) is joined to each relative path. A relative folder
    stays relative: manifest references, like ``.lst`` paths, are relative to the manifest's own
    folder, so the manifest and its images move together and ``manifest_to_lst`` with the same
    prefix gives the ``.lst`` back. One label column and
    no ``label_format`` give ``"3"``; several give a multi-hot string ``"[1, 0, 1]"``, or with
    ``label_format="class-id"`` the class ids ``"[0, 2]"``. The ``.lst`` index goes into
    ``index_attribute`` (SageMaker ignores unlisted attributes) so that the way back keeps it.
    A bad line or label stops the run unless ``on_error`` is ``"skip"`` or ``"warn"``: it is then
    left out and listed in the result's ``skipped`` (the result is the number of lines written).
    """
    check_attribute_pair(ref_attribute, label_attribute)
    if label_format is not None:
        label_format = check_label_format(label_format)
    policy = SkipPolicy(on_error)
    table = require_rows(read_lst(lst, on_error=on_error))
    policy.skipped += table.skipped
    count = 0
    with open_output(dest, "wb") as out:
        for entry in table:
            try:
                label = label_text(entry.labels, label_format)
            except LabelError as exc:
                policy.skip(LstError(exc.reason, table.path, entry.line), "bad-label")
                continue
            record = {ref_attribute: join_uri(prefix, entry.path), label_attribute: label}
            if index_attribute:
                record[index_attribute] = entry.index
            out.write(dump_record(record))
            count += 1
            if progress is not None:
                progress(1)
    return Converted(count, policy.skipped)
