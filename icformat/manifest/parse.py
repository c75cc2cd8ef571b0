"""Reading and writing augmented manifests (JSON Lines), attribute by attribute in ``AttributeNames`` order.

Each line is one JSON object. SageMaker streams only the attributes named in ``AttributeNames``,
in that order (for image classification: the image reference first, then the label). Attributes
whose names end in ``-ref`` hold URIs of objects to fetch; the others are values. Everything else on
a line (``*-metadata``, unlisted attributes) is ignored. Blank lines are skipped; line numbers
count them, so errors point at the real line.
"""
from __future__ import annotations

import json
import os
from typing import IO, Any, BinaryIO, Iterable, Iterator, NamedTuple, Sequence

from .. import streams
from ..errors import ManifestError

CHUNK_BYTES = 32 << 20
_BLANK = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"


def is_ref_attribute(name: str) -> bool:
    """Attributes named ``*-ref`` hold URIs whose objects SageMaker fetches and streams."""
    return name.endswith("-ref")


def parse_attribute_names(names: str | Sequence[str]) -> tuple[str, ...]:
    """``"source-ref,class"``, ``'["source-ref", "class"]'`` or a sequence -> a tuple of names."""
    if isinstance(names, str):
        text = names.strip()
        if text.startswith("["):
            try:
                names = json.loads(text)
            except ValueError:
                raise ManifestError(f"attribute names {names!r} are not a valid JSON list") from None
        else:
            names = text.split(",")
    result = tuple(str(n).strip() for n in names)
    if not result or any(not n for n in result):
        raise ManifestError(f"attribute names {names!r}: give the names separated by commas, e.g. source-ref,class")
    if len(set(result)) != len(result):
        raise ManifestError(f"attribute names {', '.join(result)}: a name is listed twice")
    return result


def check_image_classification_names(names: Sequence[str]) -> None:
    """Image classification reads exactly two attributes: the image reference, then the label."""
    if len(names) != 2 or not is_ref_attribute(names[0]) or is_ref_attribute(names[1]):
        raise ManifestError(
            "image classification needs 2 attribute names, the image reference (ending in -ref) "
            f"then the label, e.g. source-ref,class; got {','.join(names)}"
        )


class ManifestRow(NamedTuple):
    """One manifest line: its 1-based ``line``, the ``values`` of the attributes in AttributeNames
    order, and the whole JSON ``record``."""

    line: int
    values: tuple
    record: dict

    @property
    def ref(self) -> Any:
        """The first attribute's value (the image reference, for image classification)."""
        return self.values[0]

    @property
    def label_value(self) -> Any:
        """The second attribute's value (the label), or None when only one attribute is read."""
        return self.values[1] if len(self.values) > 1 else None


def iter_line_chunks(stream: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes]]:
    """Yield ``(first_line_number, chunk)``: the stream cut into pieces of whole lines, about
    ``chunk_bytes`` each (a UTF-8 BOM at the start is dropped)."""
    line = 1
    first = True
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            return
        if not chunk.endswith(b"\n"):
            chunk += stream.readline()  # finish the last line: the only copy of the chunk
        if first:
            chunk = chunk[3:] if chunk.startswith(_UTF8_BOM) else chunk
            first = False
        yield line, chunk
        line += chunk.count(b"\n")


def iter_lines(stream: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line_bytes)`` for every non-blank line, without its line end."""
    for first_line, chunk in iter_line_chunks(stream, chunk_bytes):
        for number, raw in enumerate(chunk.split(b"\n"), first_line):
            if raw.strip(_BLANK):
                yield number, raw.rstrip(b"\r")


def decode_line(raw: bytes, path: str | None, line: int) -> dict:
    """Parse one manifest line into its JSON object, or raise :class:`ManifestError`."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not valid UTF-8 (byte {exc.start}); manifests are UTF-8 JSON Lines", path, line) from None
    except ValueError as exc:
        raise ManifestError(f"invalid JSON: {json_error_text(exc)}; each line must be one JSON object", path, line) from None
    if not isinstance(record, dict):
        raise ManifestError(f"expected a JSON object, got {json_type(record)}", path, line)
    return record


def json_error_text(exc: ValueError) -> str:
    """``json.JSONDecodeError`` as ``Expecting ',' delimiter at column 12``."""
    msg = getattr(exc, "msg", None)
    col = getattr(exc, "colno", None)
    return f"{msg} at column {col}" if msg and col else str(exc)


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value: object, array, string, number, boolean, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def missing_attribute_message(name: str, attribute_names: Sequence[str]) -> str:
    """What to say when a line lacks an attribute (SageMaker then fails with "Got empty batch")."""
    return (
        f"attribute {name!r} is missing (AttributeNames: {', '.join(attribute_names)}); "
        "SageMaker fails such a manifest with 'Got empty batch from pipe'"
    )


def ref_type_message(name: str, value: Any) -> str | None:
    """The problem with a reference attribute's value, if any."""
    if not isinstance(value, str):
        return f"attribute {name!r} must be a URI string, got {json_type(value)}"
    if not value:
        return f"attribute {name!r} is an empty string; it must hold the object's URI"
    return None


def row_values(record: dict, attribute_names: Sequence[str], path: str | None, line: int) -> tuple:
    """The values of ``attribute_names`` in order; a missing or null attribute is an error."""
    values = []
    for name in attribute_names:
        value = record.get(name)
        if value is None:
            if name in record:
                raise ManifestError(f"attribute {name!r} is null", path, line)
            raise ManifestError(missing_attribute_message(name, attribute_names), path, line)
        message = ref_type_message(name, value) if is_ref_attribute(name) else None
        if message:
            raise ManifestError(message, path, line)
        values.append(value)
    return tuple(values)


def read_manifest(
    src: streams.PathLike | BinaryIO, attribute_names: str | Sequence[str]
) -> Iterator[ManifestRow]:
    """Yield a :class:`ManifestRow` per non-blank line of a manifest (local path, ``s3://`` URI or
    binary file object), streaming. A bad line raises :class:`ManifestError` naming it."""
    names = parse_attribute_names(attribute_names)
    path = source_name(src)
    with _opened(src) as stream:
        for line, raw in iter_lines(stream):
            record = decode_line(raw, path, line)
            yield ManifestRow(line, row_values(record, names, path, line), record)


def source_name(src: Any) -> str | None:
    """A printable name for a path, URI or file object."""
    if hasattr(src, "read"):
        name = getattr(src, "name", None)
        return name if isinstance(name, str) else None
    return os.fspath(src)


class _opened:
    """Open a path or URI (and close it), or pass a caller's file object through (left open)."""

    def __init__(self, src: Any):
        self.src = src
        self.file = None

    def __enter__(self) -> IO[bytes]:
        if hasattr(self.src, "read"):
            return self.src
        self.file = streams.open_input(self.src, "rb")
        return self.file

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()


def dump_record(record: dict) -> bytes:
    """One manifest line (compact JSON, UTF-8, newline included)."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write_manifest(dest: streams.PathLike, records: Iterable[dict | ManifestRow]) -> int:
    """Write JSON objects (or rows read earlier) as a manifest, atomically; returns the line count."""
    count = 0
    with streams.open_output(dest, "wb") as out:
        for record in records:
            if isinstance(record, ManifestRow):
                record = record.record
            out.write(dump_record(record))
            count += 1
    return count
