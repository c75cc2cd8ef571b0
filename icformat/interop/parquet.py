"""RecordIO ``.rec`` <-> Parquet that Hugging Face ``datasets`` loads as images with class names.

Columns: ``image`` (the struct ``{bytes, path}`` of an ``Image()`` feature; null for an empty
payload), ``label`` (the class id of a plain single-label header, a ``ClassLabel`` when class names
are given; else null), ``labels`` (the ``flag`` labels after the header, else null), ``id``, ``id2``,
``idx_key`` (the ``.idx`` key when it is not the id) and ``raw_header`` (the header bytes when the
columns cannot give them back). The features go in the schema metadata under ``huggingface``, as
``datasets`` writes them. Row groups hold 100 rows (``datasets``' size for image sets) or 64 MiB.
"""
from __future__ import annotations

import json
import os
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import FormatError
from ..io.paths import PathLike, is_uri, local_path
from ..io.streams import open_input, remote_errors
from ..recordio.shards import list_shard_files
from ..skips import SkipPolicy
from .classes import ClassNames
from .fields import image_extension
from .rebuild import RecSink, fields_from_values
from .results import Exported, Rebuilt, finish_export
from .sharded import DEFAULT_SHARD_BYTES, ShardedOutput, check_limits
from .source import Sample, iter_samples, list_sources

ROW_GROUP_RECORDS = 100
ROW_GROUP_BYTES = 64 << 20
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
_COLUMNS = [
    ("image", IMAGE_TYPE),
    ("label", pa.int64()),
    ("labels", pa.list_(pa.float32())),
    ("id", pa.uint64()),
    ("id2", pa.uint64()),
    ("idx_key", pa.string()),
    ("raw_header", pa.binary()),
]


def hf_features(names: Sequence[str] | None) -> dict:
    """The ``datasets`` features of the columns, as ``Features.to_dict()`` gives them."""
    label = {"names": list(names), "_type": "ClassLabel"} if names is not None else {"dtype": "int64", "_type": "Value"}
    return {
        "image": {"_type": "Image"},
        "label": label,
        "labels": {"feature": {"dtype": "float32", "_type": "Value"}, "_type": "Sequence"},
        "id": {"dtype": "uint64", "_type": "Value"},
        "id2": {"dtype": "uint64", "_type": "Value"},
        "idx_key": {"dtype": "string", "_type": "Value"},
        "raw_header": {"dtype": "binary", "_type": "Value"},
    }


def parquet_schema(names: Sequence[str] | None) -> pa.Schema:
    """The Arrow schema, with the ``huggingface`` metadata ``datasets`` reads its features from."""
    metadata = {"huggingface": json.dumps({"info": {"features": hf_features(names)}})}
    return pa.schema(_COLUMNS, metadata=metadata)


def samples_table(samples: list[Sample], schema: pa.Schema) -> pa.Table:
    """One row group: a row per sample (image bytes copied once, into the column)."""
    n = len(samples)
    images = [s.image for s in samples]
    lengths = np.fromiter(map(len, images), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = pa.py_buffer(b"".join(images))
    image_bytes = pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), data])
    paths = pa.array([f"{s.key}.{image_extension(s.image)}" for s in samples], pa.string())
    image = pa.StructArray.from_arrays([image_bytes, paths], fields=list(IMAGE_TYPE), mask=pa.array(lengths == 0))
    fields = [s.fields for s in samples]
    columns = [
        image,
        pa.array([f.cls for f in fields], pa.int64()),
        pa.array([f.label if isinstance(f.label, list) else None for f in fields], pa.list_(pa.float32())),
        pa.array([f.id for f in fields], pa.uint64()),
        pa.array([f.id2 for f in fields], pa.uint64()),
        pa.array([s.idx_key for s in samples], pa.string()),
        pa.array([f.raw if f.raw is not None or f.cls is not None or isinstance(f.label, list) else f.header() for f in fields],
                 pa.binary()),
    ]
    return pa.Table.from_arrays(columns, schema=schema)


class _ParquetShards(ShardedOutput):
    def __init__(self, prefix, schema: pa.Schema, **limits):
        super().__init__(prefix, ".parquet", **limits)
        self.schema = schema
        self.writer: pq.ParquetWriter | None = None
        self.sink = None

    def put(self, table: pa.Table, nbytes: int) -> None:
        if self.roll(table.num_rows, nbytes) or self.writer is None:
            # a local shard is written by pyarrow's own file (about 20% less work than through Python's)
            temporary = self.current.temporary_path
            self.sink = pa.OSFile(temporary, "wb") if temporary is not None else self.file
            self.writer = pq.ParquetWriter(
                self.sink, self.schema, compression={name: "NONE" if name == "image.bytes" else "ZSTD" for name in _LEAVES},
                use_dictionary=["image.path", "idx_key"], write_statistics=["label", "id", "id2"],
            )
        self.writer.write_table(table)
        self.added(table.num_rows, nbytes)

    def before_commit(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            if isinstance(self.sink, pa.NativeFile):
                self.sink.close()

    def abort(self) -> None:
        if self.writer is not None:  # closed before its file is dropped (its finaliser would write to it)
            try:
                self.before_commit()
            except (OSError, pa.ArrowException):
                pass
        self.writer = None
        super().abort()


_LEAVES = ["image.bytes", "image.path", "label", "labels.list.element", "id", "id2", "idx_key", "raw_header"]


def rec_to_parquet(
    sources: PathLike | Sequence[PathLike],
    prefix: PathLike,
    *,
    max_records: int | None = None,
    max_bytes: int | None = DEFAULT_SHARD_BYTES,
    row_group_records: int = ROW_GROUP_RECORDS,
    row_group_bytes: int = ROW_GROUP_BYTES,
    classes: PathLike | Sequence[str] | None = None,
    write_classes: bool = True,
    progress: Callable[[int], object] | None = None,
    on_error: str = "raise",
) -> Exported:
    """Write the records of ``sources`` (``.rec`` files, folders or prefixes of shards; local or
    ``s3://``) as Parquet files ``PREFIX-000000.parquet``... in order (see the module's docstring).

    A file holds at most ``max_records`` rows and about ``max_bytes`` bytes (whole row groups of
    ``row_group_records`` rows or ``row_group_bytes`` bytes, whichever comes first). ``classes`` (a
    classes file or the names) makes ``label`` a ``ClassLabel`` with those names and is written to
    ``PREFIX.classes`` too (unless not ``write_classes``). A record without a valid image header
    stops the run unless ``on_error`` is ``"skip"`` or ``"warn"``; nothing is left behind by a
    failed run.
    """
    check_limits(row_group_records, row_group_bytes)
    if max_records is not None:
        row_group_records = min(row_group_records, max_records)
    if max_bytes is not None:
        row_group_bytes = min(row_group_bytes, max_bytes)
    policy = SkipPolicy(on_error)
    shards = list_sources(sources)
    names = ClassNames.load(classes)
    schema = parquet_schema(names.names)
    result = Exported(skipped=policy.skipped)
    with _ParquetShards(prefix, schema, max_records=max_records, max_bytes=max_bytes) as out:
        for samples in iter_samples(shards, policy, result.notes, max_records=row_group_records, max_bytes=row_group_bytes):
            if samples:
                nbytes = sum(len(s.image) for s in samples)
                out.put(samples_table(samples, schema), nbytes)
                result.image_bytes += nbytes
                result.records += len(samples)
                for s in samples:
                    names.count(s.fields.cls)
            if progress is not None:
                progress(len(samples))
        return finish_export(result, out, names, write_classes, shards, result.records + len(policy.skipped))


def _row_fields(row: dict, position: int, path: str):
    """``(header fields, image bytes, .idx key)`` of one Parquet row (ValueError when it is bad)."""
    where = f"row {position}"
    image = row.get("image")
    if image is not None and not isinstance(image, bytes):
        raise ValueError(f"{where}: image must be bytes or {{bytes, path}}, not {type(image).__name__}")
    label = row.get("labels")
    if label is None:
        label = row.get("label")
    id_ = row.get("id")
    fields = fields_from_values(label, position if id_ is None else id_, row.get("id2") or 0, row.get("raw_header"), where)
    return fields, image or b"", row.get("idx_key")


def iter_parquet_rows(path: str, batch_rows: int = 256, notes: list[str] | None = None):
    """The rows of one Parquet file as dicts of the columns the way back reads, one row group in
    memory at a time (rec2parquet's are 64 MiB at most)."""
    local = not is_uri(path) and os.path.isfile(local_path(path))
    with open_input(path, "rb") as f, remote_errors(path):
        try:  # a local file is memory-mapped (no copy through a Python file object)
            parquet = pq.ParquetFile(local_path(path), memory_map=True) if local else pq.ParquetFile(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FormatError(f"not a readable Parquet file ({' '.join(str(exc).split())})", path) from None
        present = [name for name, _ in _COLUMNS if name in parquet.schema_arrow.names]
        if "image" not in present:
            raise FormatError(f"no 'image' column (it has {', '.join(parquet.schema_arrow.names)}); give Parquet from rec2parquet "
                              "or with an image column", path)
        other = [name for name in parquet.schema_arrow.names if name not in present]
        if other and notes is not None:
            notes.append(f"{path}: columns {', '.join(other)} are not carried (a record holds an image, labels and ids)")
        for group in range(parquet.num_row_groups):  # one row group at a time (iter_batches reads ahead)
            for batch in parquet.read_row_group(group, columns=present).to_batches(max_chunksize=batch_rows):
                columns = {name: _column_values(batch.column(name)) for name in present}
                yield from (dict(zip(present, values)) for values in zip(*columns.values()))


def _column_values(column: pa.Array) -> list:
    """A column as Python values, column by column (an image struct as its bytes, None when null)."""
    if pa.types.is_struct(column.type) and column.type.get_field_index("bytes") >= 0:
        data = column.field("bytes").to_pylist()
        if column.null_count:
            data = [d if valid else None for d, valid in zip(data, column.is_valid().to_pylist())]
        return data
    return column.to_pylist()


def parquet_to_rec(
    sources: PathLike | Sequence[PathLike],
    dest: PathLike,
    *,
    index: bool | PathLike = True,
    progress: Callable[[int], object] | None = None,
    on_error: str = "raise",
) -> Rebuilt:
    """Write the rows of Parquet files (a ``.parquet``, a folder or a ``PREFIX`` of
    ``PREFIX-*.parquet``; local or ``s3://``) as one ``.rec`` (+ ``.idx``), in order.

    Files written by :func:`rec_to_parquet` give back the original records byte for byte. Other
    Parquet (a Hugging Face image dataset) needs an ``image`` column and an integer ``label`` (or a
    ``labels`` list); ids are then row positions. A bad row stops the run unless ``on_error`` is
    ``"skip"`` or ``"warn"``.
    """
    policy = SkipPolicy(on_error)
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    files = [path for source in sources for path in list_shard_files(source, ".parquet")]
    position = 0
    with RecSink(dest, index) as sink:
        for path in files:
            for row in iter_parquet_rows(path, notes=sink.stats.notes):
                position += 1
                try:
                    fields = _row_fields(row, position - 1, path)
                except ValueError as exc:
                    policy.skip(FormatError(str(exc), path), "bad-row")
                    continue
                sink.add(*fields)
                if progress is not None:
                    progress(1)
        return sink.finish(files, "rows", position, policy.skipped, [])
