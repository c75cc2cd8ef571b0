"""The byte stream SageMaker writes into a pipe-mode channel.

Augmented manifest with ``RecordWrapperType=RecordIO``: every attribute of every line becomes one
RecordIO record, in AttributeNames order. A ``*-ref`` attribute's record holds the referenced
object's raw bytes (the JPEG/PNG file as stored, no MXNet image header); any other attribute's
record holds its string form (see :func:`icformat.manifest.label_string_form`), so ``"class":"0"``
gives the record ``0a 23 d7 ce 01 00 00 00 30 00 00 00``.

RecordIO sources (``.rec`` files) are streamed as their bytes are: they are already framed.

Choices where SageMaker's documentation does not say what it does:

- (a) a JSON string label goes without its quotes (``"0"`` -> ``0``);
- (b) a non-string value is written as ``json.dumps`` writes it (``[1,0,8]`` -> ``[1, 0, 8]``);
- (c) a payload holding the RecordIO magic at a 4-byte-aligned offset is split into a multi-part
  record exactly as dmlc's writer does; dmlc/MXNet readers (and ours) rejoin it, while readers that
  ignore the continuation flag (TFX) would see the parts. Whether SageMaker itself splits is unknown.
"""
from __future__ import annotations

import json

import os
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, Sequence

from ..io.atomic import open_output
from ..io.paths import PathLike, is_fifo, is_uri, local_path
from ..io.streams import open_input
from ..errors import ManifestError, RecordIOError
from ..manifest.labels import label_string_form
from ..manifest.validator import EMPTY_MANIFEST
from ..manifest.parse import ManifestRow, is_ref_attribute, parse_attribute_names, read_numbered_rows, source_name
from ..skips import SkipPolicy
from ..io.objects import SETUP_ERRORS, ObjectStore, describe_error
from ..io.parallel import choose_workers, map_ordered, peek
from ..manifest.refs import base_of, resolve_ref
from ..recordio.framing import MAGIC_BYTES, FrameWalker
from ..recordio.writer import RecordWriter

COPY_BYTES = 1 << 20


@dataclass
class StreamStats:
    """What one stream held: ``records`` written (None for copied ``.rec`` bytes), manifest ``rows``,
    and ``bytes`` in all."""

    records: int | None = 0
    rows: int = 0
    bytes: int = 0

    def add(self, other: "StreamStats") -> None:
        self.records = None if self.records is None or other.records is None else self.records + other.records
        self.rows += other.rows
        self.bytes += other.bytes


def attribute_payload(name: str, value, store: ObjectStore, base: str | None) -> bytes:
    """The record payload for one attribute value: the object's bytes for ``*-ref``, else its string form."""
    if is_ref_attribute(name):
        return store.read(resolve_ref(value, base))
    return label_string_form(value).encode("utf-8")


def iter_manifest_payloads(
    manifest: PathLike | BinaryIO,
    attribute_names: str | Sequence[str],
    *,
    workers: int | None = None,
    store: ObjectStore | None = None,
) -> Iterator[tuple[ManifestRow, list[bytes]]]:
    """Yield each manifest row with its record payloads, fetching references on ``workers`` threads
    (in order, a bounded number ahead; by default 16 for ``s3://`` references, none for local
    files). An unreadable reference raises :class:`ManifestError`."""
    names = parse_attribute_names(attribute_names)
    base = base_of(manifest)
    store = store or ObjectStore()
    path = source_name(manifest)

    refs = [is_ref_attribute(name) for name in names]
    read = store.read

    def payloads(row: ManifestRow) -> list[bytes]:
        out = []
        for is_ref, value in zip(refs, row.values):
            try:
                # attribute_payload, with the kind of each name worked out once
                out.append(read(resolve_ref(value, base)) if is_ref else label_string_form(value).encode("utf-8"))
            except SETUP_ERRORS:
                raise
            except Exception as exc:  # boto3/smart_open errors vary by transport
                shown = f"'{value}'" if isinstance(value, str) else json.dumps(value)
                raise ManifestError(f"cannot read {shown}: {describe_error(exc)}", path, row.line) from exc
        return out

    first, rows = peek(row for _, row in read_numbered_rows(manifest, names, SkipPolicy("raise")))
    first_ref = resolve_ref(first.ref, base) if first is not None and isinstance(first.ref, str) else None
    yield from map_ordered(payloads, rows, workers=choose_workers(workers, first_ref))


BATCH_BYTES = 1 << 20  # framed records written together, with one gathered write


def write_records(out: BinaryIO, payloads: Iterable[bytes]) -> StreamStats:
    """Frame each payload as one RecordIO record (dmlc's framing) onto ``out``, in one write."""
    writer = RecordWriter(out)
    start = writer.offset
    writer.write_many(payloads if isinstance(payloads, (list, tuple)) else list(payloads))
    return StreamStats(records=writer.count, bytes=writer.offset - start)


def write_manifest_stream(out: BinaryIO, rows: Iterable[tuple[ManifestRow, list[bytes]]], on_row=None) -> StreamStats:
    """Frame the payloads of ``rows`` (as :func:`iter_manifest_payloads` yields them) onto ``out``
    as they arrive, writing about ``BATCH_BYTES`` at a time; ``on_row(n)`` follows each write.
    When a row fails (an unreadable reference), the rows before it still go out, then the error
    is raised."""
    writer = RecordWriter(out)
    start = writer.offset
    batch = writer.batch()
    add = batch.add
    done = waiting = 0

    def flush() -> None:
        nonlocal done, waiting
        batch.flush()
        done += waiting
        if on_row is not None and waiting:
            on_row(waiting)
        waiting = 0

    iterator = iter(rows)
    while True:
        try:
            _, payloads = next(iterator)
        except StopIteration:
            break
        except Exception:
            flush()
            raise
        for payload in payloads:
            add(payload)
        waiting += 1
        if batch.size >= BATCH_BYTES:
            flush()
    flush()
    return StreamStats(records=writer.count, rows=done, bytes=writer.offset - start)


def copy_recordio(out: BinaryIO, src: PathLike | BinaryIO) -> StreamStats:
    """Copy a ``.rec`` file's bytes to ``out`` unchanged, following its framing on the way: a bad
    record head or a file cut short raises :class:`RecordIOError` naming the byte offset (after the
    bytes before it went out, so that the reader sees the damage too)."""
    stats = StreamStats()
    name = source_name(src)
    walker = FrameWalker(name)
    with open_input(src, "rb") as f:
        block = f.read(COPY_BYTES)
        if block and not block.startswith(MAGIC_BYTES):
            raise RecordIOError(
                "not a RecordIO file (it does not start with 0a 23 d7 ce); "
                "for an augmented manifest give its attribute names (--attribute-names)", name, 0
            )
        if not block:
            raise RecordIOError("empty file: no records", name, 0)
        while block:
            out.write(block)
            stats.bytes += len(block)
            walker.feed(block)
            block = f.read(COPY_BYTES)
    walker.finish(stats.bytes)
    stats.records = walker.records
    return stats


def rec_sources(src: PathLike | BinaryIO) -> list:
    """The ``.rec`` files behind one RecordIO source: itself (a file, FIFO or file object), or the
    shards of a folder or prefix (see :func:`~icformat.recordio.list_rec_shards`), in order."""
    if hasattr(src, "read") or (not is_uri(src) and os.path.isfile(local_path(src))) or is_fifo(src):
        return [src]
    from ..recordio.shards import list_rec_shards

    return list_rec_shards(src)


def write_pipe_stream(
    out: BinaryIO | PathLike,
    sources: PathLike | Sequence[PathLike],
    attribute_names: str | Sequence[str] | None = None,
    *,
    workers: int | None = None,
    on_row=None,
) -> StreamStats:
    """Write the pipe-mode stream of ``sources`` (one or several, in order) to ``out``.

    With ``attribute_names`` the sources are augmented manifests (local or ``s3://``), wrapped one
    record per attribute; without, they are ``.rec`` files copied as they are (a folder or prefix of
    shards counts as its shards, in order). ``out`` is a binary
    file object (a FIFO, a socket, ...) or a path written atomically. ``on_row(n)`` is called with the number of rows
    written since its last call, once per batch (for progress bars).
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not hasattr(out, "write"):
        with open_output(out, "wb") as f:
            return write_pipe_stream(f, sources, attribute_names, workers=workers, on_row=on_row)
    total = StreamStats()
    for src in sources:
        if attribute_names is None:
            for shard in rec_sources(src):
                total.add(copy_recordio(out, shard))
            continue
        stats = write_manifest_stream(out, iter_manifest_payloads(src, attribute_names, workers=workers), on_row)
        if not stats.rows:  # an empty manifest is an error everywhere
            raise ManifestError(EMPTY_MANIFEST, source_name(src))
        total.add(stats)
    return total
