"""RecordIO ``.rec`` -> augmented manifest: each image stored as an object under a prefix."""
from __future__ import annotations

from typing import Callable, Iterator

from .. import streams
from ..errors import IcformatError
from ..image.decode import image_format
from ..io.objects import SETUP_ERRORS, ObjectStore, describe_error
from ..io.parallel import choose_workers, map_ordered
from ..io.paths import join_uri
from ..manifest.labels import LabelError, check_label_format, label_text
from ..manifest.parse import dump_record
from ..manifest.refs import base_of, resolve_ref
from ..recordio import RecordReader, split_record
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


def _plan(rec: streams.PathLike, prefix: str) -> Iterator[tuple[int, str, tuple[float, ...], bool, bytes]]:
    """``(id, reference, labels, multi_label, image)`` per record, in file order."""
    taken: set[str] = set()
    with RecordReader(rec) as reader:
        for offset, record in reader.iter_with_offsets():
            header, labels, image = split_record(record, offset, reader.path)
            yield header.id, join_uri(prefix, image_name(header.id, image, taken)), tuple(labels.tolist()), header.flag > 0, bytes(image)


class _ImageSaver:
    """Stores one planned image at its reference (runs on worker threads)."""

    def __init__(self, base: str | None):
        self.base = base
        self.store = ObjectStore()

    def __call__(self, item) -> None:
        _, ref, _, _, image = item
        target = resolve_ref(ref, self.base)
        try:
            self.store.write(target, image)
        except SETUP_ERRORS:
            raise
        except Exception as exc:  # boto3/smart_open errors vary by transport
            raise IcformatError(f"{target}: cannot write the image: {describe_error(exc)}") from exc


def rec_to_manifest(
    rec: streams.PathLike,
    dest: streams.PathLike,
    *,
    prefix: str,
    ref_attribute: str = "source-ref",
    label_attribute: str = "class",
    label_format: str | None = None,
    index_attribute: str | None = "index",
    workers: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Store each record's image as ``<prefix>/<id>.<ext>`` and write a manifest line for it.

    ``prefix`` is an ``s3://`` URI or a folder (a relative one is relative to the manifest's
    folder, as relative references are). Image bytes are kept as they are. Single labels become
    ``"3"``; multi-label records a multi-hot string, or class ids with ``label_format="class-id"``.
    The header id goes into ``index_attribute``. The manifest appears only when every image is stored.
    """
    check_attribute_pair(ref_attribute, label_attribute)
    list_format = check_label_format(label_format)
    save = _ImageSaver(base_of(dest))
    workers = choose_workers(workers, resolve_ref(prefix, save.base))
    count = 0
    with streams.open_output(dest, "wb") as out:
        for (key, ref, labels, multi, _), _ in map_ordered(save, _plan(rec, prefix), workers=workers):
            try:
                label = label_text(labels, list_format if multi else None)
            except LabelError as exc:
                raise IcformatError(f"{rec}: record with id {key}: {exc.reason}") from None
            record = {ref_attribute: ref, label_attribute: label}
            if index_attribute:
                record[index_attribute] = key
            out.write(dump_record(record))
            count += 1
            if progress is not None:
                progress(1)
    return count
