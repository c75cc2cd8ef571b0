"""RecordIO ``.rec`` -> augmented manifest: each image stored as an object under a prefix."""
from __future__ import annotations

import os
from typing import Callable, Iterator

from ..io.atomic import open_output
from ..io.paths import PathLike
from ..errors import FormatError, IcformatError
from ..image.decode import image_format
from ..io.objects import SETUP_ERRORS, ObjectStore, describe_error
from ..io.parallel import choose_workers, map_ordered
from ..io.paths import join_uri
from ..errors import LabelError
from ..manifest.labels import check_label_format, label_text
from ..manifest.parse import dump_record
from ..manifest.refs import base_of, resolve_ref
from ..recordio.reader import RecordReader
from ..skips import Converted, SkipPolicy
from .lst_to_manifest import check_attribute_pair

EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "bmp": "bmp", "tiff": "tif", "webp": "webp"}


def image_name(key: int, image: bytes | memoryview, taken: set[str]) -> str:
    """``<id>.<ext>`` from the header id and the image's magic bytes (``<id>_<n>`` when taken)."""
    ext = EXTENSIONS.get(image_format(image), "bin")
    name = f"{key}.{ext}"
    n = 1
    while name in taken:
        name = f"{key}_{n}.{ext}"
        n += 1
    taken.add(name)
    return name


def _plan(rec: PathLike, prefix: str, list_format, policy: SkipPolicy) -> Iterator[tuple[int, str, str, bytes]]:
    """``(id, reference, label text, image)`` per record, in file order; a record whose image
    header or label is bad goes to ``policy`` (raised with ``on_error="raise"``)."""
    taken: set[str] = set()
    with RecordReader(rec) as reader:
        for batch in reader.iter_batches():
            columns = batch.headers(check=False)
            view = batch.buffer
            for i, offset in enumerate(batch.file_offsets.tolist()):
                if not columns.fits[i]:
                    policy.skip(columns.error(i, batch.lengths, batch.file_offsets, reader.path), "bad-header")
                    continue
                flag, key = int(columns.flag[i]), int(columns.id[i])
                labels = columns.labels_of(view, batch.offsets, i)
                try:
                    label = label_text(tuple(labels.tolist()), list_format if flag > 0 else None)
                except LabelError as exc:
                    policy.skip(FormatError(f"record with id {key}: {exc.reason}", os.fspath(rec), offset), "bad-label")
                    continue
                start = int(columns.image_offsets[i])
                image = view[start : start + int(columns.image_lengths[i])]
                yield key, join_uri(prefix, image_name(key, image, taken)), label, bytes(image)


class _ImageSaver:
    """Stores one planned image at its reference (runs on worker threads)."""

    def __init__(self, base: str | None):
        self.base = base
        self.store = ObjectStore()

    def __call__(self, item) -> None:
        _, ref, _, image = item
        target = resolve_ref(ref, self.base)
        try:
            self.store.write(target, image)
        except SETUP_ERRORS:
            raise
        except Exception as exc:  # boto3/smart_open errors vary by transport
            raise IcformatError(f"{target}: cannot write the image: {describe_error(exc)}") from exc


def rec_to_manifest(
    rec: PathLike,
    dest: PathLike,
    *,
    prefix: str,
    ref_attribute: str = "source-ref",
    label_attribute: str = "class",
    label_format: str | None = None,
    index_attribute: str | None = "index",
    workers: int | None = None,
    progress: Callable[[int], object] | None = None,
    on_error: str = "raise",
) -> Converted:
    """Store each record's image as ``<prefix>/<id>.<ext>`` and write a manifest line for it.

    ``prefix`` is an ``s3://`` URI or a folder (a relative one is relative to the manifest's
    folder, as relative references are). Image bytes are kept as they are. Single labels become
    ``"3"``; multi-label records a multi-hot string, or class ids with ``label_format="class-id"``.
    The header id goes into ``index_attribute``. The manifest appears only when every image is stored.
    A record with a bad image header or label stops the run unless ``on_error`` is ``"skip"`` or
    ``"warn"``: it is then left out and listed (by byte offset) in the result's ``skipped``; the
    result is the number of lines written.
    """
    policy = SkipPolicy(on_error)
    check_attribute_pair(ref_attribute, label_attribute)
    list_format = check_label_format(label_format)
    save = _ImageSaver(base_of(dest))
    workers = choose_workers(workers, resolve_ref(prefix, save.base))
    count = 0
    with open_output(dest, "wb") as out:
        for (key, ref, label, _), _ in map_ordered(save, _plan(rec, prefix, list_format, policy), workers=workers):
            record = {ref_attribute: ref, label_attribute: label}
            if index_attribute:
                record[index_attribute] = key
            out.write(dump_record(record))
            count += 1
            if progress is not None:
                progress(1)
    return Converted(count, policy.skipped)
