"""RecordIO ``.rec`` <-> WebDataset tar shards, image bytes unchanged, headers carried losslessly.

A record becomes the sample ``KEY.jpg`` (``.png``..., from the image's magic bytes; none for an
empty payload) with ``KEY.cls`` (the class id, as text) when its header is the plain single-label
one, else ``KEY.json``: ``{"label": 3.5 or [labels...], "id": ..., "id2": ...}``, plus
``"idx_key"`` when the ``.idx`` key is not the id and ``"header"`` (hex) when the fields cannot
give the header's bytes back. ``KEY`` is the header id.
"""
from __future__ import annotations

import io
import json
import os
from typing import Callable, Sequence

from ..errors import FormatError
from ..io.paths import PathLike
from ..recordio.shards import list_shard_files
from ..recordio.writer import writev_all
from ..skips import SkipPolicy
from .classes import ClassNames
from .fields import IMAGE_EXTENSIONS, HeaderFields, image_extension
from .rebuild import RecSink, fields_from_values
from .results import Exported, Rebuilt, finish_export
from .sharded import DEFAULT_SHARD_BYTES, ShardedOutput
from .source import Sample, iter_samples, list_sources
from .tar import END_OF_ARCHIVE, TarSample, iter_tar_samples, member_pieces

_WRITE_BYTES = 4 << 20  # tar pieces gathered into one write per this many bytes
_CARRIED = {"cls", "json"}  # the label members (the image's are IMAGE_EXTENSIONS)


def label_member(sample: Sample, names: ClassNames) -> tuple[str, bytes]:
    """``("cls", b"3")`` for a plain single-label header, else ``("json", ...)`` with every field."""
    f = sample.fields
    if f.cls is not None and f.id2 == 0 and sample.idx_key is None and sample.key == str(f.id):
        return "cls", str(f.cls).encode()
    data = {"label": f.label, "id": f.id, "id2": f.id2}
    if f.cls is not None and names.name(f.cls) is not None:
        data["class"] = names.name(f.cls)
    if sample.idx_key is not None:
        data["idx_key"] = sample.idx_key
    if f.raw is not None:
        data["header"] = f.raw.hex()
    return "json", json.dumps(data).encode()


def sample_pieces(sample: Sample, names: ClassNames) -> list:
    """The tar members of one sample: its image (when the record has one) and its label."""
    pieces = []
    if len(sample.image):
        pieces += member_pieces(f"{sample.key}.{image_extension(sample.image)}", sample.image)
    ext, data = label_member(sample, names)
    pieces += member_pieces(f"{sample.key}.{ext}", data)
    return pieces


class _TarShards(ShardedOutput):
    """Tar shards: pieces gathered and written with ``writev`` (local files) or ``write``."""

    def __init__(self, prefix, *, max_records: int | None, max_bytes: int | None):
        # the end-of-archive blocks count too: a shard never passes max_bytes
        budget = None if max_bytes is None else max(1, max_bytes - len(END_OF_ARCHIVE))
        super().__init__(prefix, ".tar", max_records=max_records, max_bytes=budget)
        self.pending: list = []
        self.pending_bytes = 0

    def put(self, pieces: list, nbytes: int) -> None:
        self.roll(1, nbytes)
        self.pending += pieces
        self.pending_bytes += nbytes
        self.added(1, nbytes)
        if self.pending_bytes >= _WRITE_BYTES:
            self.write_pending()

    def write_pending(self) -> None:
        if not self.pending:
            return
        out = self.file
        if isinstance(out, io.BufferedWriter):
            out.flush()
            writev_all(out.fileno(), self.pending)
        else:
            for piece in self.pending:
                out.write(piece)
        self.pending, self.pending_bytes = [], 0

    def roll(self, records: int, nbytes: int) -> bool:
        if self.current is not None and self.records and (
            (self.max_records is not None and self.records + records > self.max_records)
            or (self.max_bytes is not None and self.nbytes + nbytes > self.max_bytes)
        ):
            self.write_pending()
        return super().roll(records, nbytes)

    def before_commit(self) -> None:
        self.pending.append(END_OF_ARCHIVE)
        self.write_pending()


def rec_to_wds(
    sources: PathLike | Sequence[PathLike],
    prefix: PathLike,
    *,
    max_records: int | None = None,
    max_bytes: int | None = DEFAULT_SHARD_BYTES,
    classes: PathLike | Sequence[str] | None = None,
    write_classes: bool = True,
    progress: Callable[[int], object] | None = None,
    on_error: str = "raise",
) -> Exported:
    """Write the records of ``sources`` (``.rec`` files, folders or prefixes of shards; local or
    ``s3://``) as WebDataset shards ``PREFIX-000000.tar``, ``PREFIX-000001.tar``... in order.

    A shard holds at most ``max_records`` samples and ``max_bytes`` bytes (at least one sample).
    Image bytes are stored unchanged; see the module's docstring for the members. ``classes`` (a
    classes file, one name per line, or the names) names the class of each ``.json`` sample and
    goes to ``PREFIX.classes`` (unless not ``write_classes``). A record without a valid image
    header stops the run unless ``on_error`` is ``"skip"`` or ``"warn"``; nothing is left behind
    by a failed run.
    ``progress`` gets the number of records done since its last call.
    """
    policy = SkipPolicy(on_error)
    shards = list_sources(sources)
    names = ClassNames.load(classes)
    result = Exported(skipped=policy.skipped)
    read = 0
    with _TarShards(prefix, max_records=max_records, max_bytes=max_bytes) as out:
        for samples in iter_samples(shards, policy, result.notes):
            for sample in samples:
                pieces = sample_pieces(sample, names)
                out.put(pieces, sum(map(len, pieces)))
                names.count(sample.fields.cls)
                result.image_bytes += len(sample.image)
            result.records += len(samples)
            read = result.records + len(policy.skipped)
            if progress is not None:
                progress(len(samples))
        return finish_export(result, out, names, write_classes, shards, read)


def sample_fields(sample: TarSample, position: int, path: str) -> tuple[HeaderFields, bytes, str | None]:
    """``(header fields, image bytes, .idx key)`` of a WebDataset sample; FormatError when its label is bad."""
    where = f"sample {sample.key!r}"
    images = [ext for ext in sample.members if ext in IMAGE_EXTENSIONS]
    if len(images) > 1:
        raise FormatError(f"{where} has {len(images)} images ({', '.join(images)}); a record holds one", path, sample.offset)
    image = sample.members[images[0]] if images else b""
    default_id = int(sample.key) if sample.key.isdigit() else position
    try:
        if "json" in sample.members:
            data = json.loads(sample.members["json"])
            if not isinstance(data, dict) or "label" not in data and "header" not in data:
                raise ValueError(f"{where}: .json must be an object with a label")
            raw = bytes.fromhex(data["header"]) if "header" in data else None
            fields = fields_from_values(data.get("label"), data.get("id", default_id), data.get("id2", 0), raw, where)
            idx_key = data.get("idx_key")
            return fields, image, None if idx_key is None else str(idx_key)
        if "cls" in sample.members:
            return fields_from_values(int(sample.members["cls"].decode().strip()), default_id, 0, None, where), image, None
    except (ValueError, UnicodeDecodeError) as exc:  # bad JSON, hex or numbers
        raise FormatError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}", path, sample.offset) from None
    raise FormatError(f"{where} has no .cls or .json label (members: {', '.join(sample.members)})", path, sample.offset)


def wds_to_rec(
    sources: PathLike | Sequence[PathLike],
    dest: PathLike,
    *,
    index: bool | PathLike = True,
    progress: Callable[[int], object] | None = None,
    on_error: str = "raise",
) -> Rebuilt:
    """Write the samples of WebDataset shards (``.tar`` files, a folder or a ``PREFIX`` of
    ``PREFIX-*.tar``; local or ``s3://``) as one ``.rec`` (+ ``.idx``), in order.

    Samples written by :func:`rec_to_wds` give back the original records byte for byte (header,
    labels, ids, image) and ``.idx`` keys. Other WebDataset samples need one image and a ``.cls``
    or ``.json`` label; their id is the key when it is a number, else their position. A bad sample
    stops the run unless ``on_error`` is ``"skip"`` or ``"warn"``.
    """
    policy = SkipPolicy(on_error)
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    tars = [path for source in sources for path in list_shard_files(source, ".tar")]
    position = 0
    extra: dict[str, int] = {}
    with RecSink(dest, index) as sink:
        for path in tars:
            for sample in iter_tar_samples(path):
                position += 1
                for ext in sample.members.keys() - _CARRIED - IMAGE_EXTENSIONS:
                    extra[ext] = extra.get(ext, 0) + 1
                try:
                    fields = sample_fields(sample, position - 1, path)
                except FormatError as exc:
                    policy.skip(exc, "bad-sample")
                    continue
                sink.add(*fields)
                if progress is not None:
                    progress(1)
        notes = [f"{count:,} sample(s) hold .{ext} members, which a record cannot carry; left out" for ext, count in sorted(extra.items())]
        return sink.finish(tars, "samples", position, policy.skipped, notes)
