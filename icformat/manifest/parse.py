"""Reading and writing augmented manifests (JSON Lines), attribute by attribute in ``AttributeNames`` order.

Each line is one JSON object. SageMaker streams only the attributes named in ``AttributeNames``,
in that order (for image classification: the image reference first, then the label). Attributes
whose names end in ``-ref`` hold URIs of objects to fetch; the others are values. Everything else on
a line (``*-metadata``, unlisted attributes) is ignored. Blank lines are skipped; line numbers
count them, so errors point at the real line.
"""
from __future__ import annotations

import itertools
import json
import os
from typing import IO, Any, BinaryIO, Callable, Iterable, Iterator, NamedTuple, Sequence

from ..io.atomic import open_output
from ..io.paths import PathLike
from ..io.sniff import require_text
from ..io.streams import open_input
from ..errors import ManifestError

CHUNK_BYTES = 32 << 20
MANIFEST_KIND = "a manifest (JSON Lines)"  # what a manifest reader expects
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
    ``chunk_bytes`` each (a UTF-8 BOM at the start is dropped). A stream that starts as another
    kind of file (RecordIO, an image, gzip, other binary) raises ``WrongFileKind`` at once."""
    line = 1
    first = True
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            return
        if not chunk.endswith(b"\n"):
            chunk += stream.readline()  # finish the last line: the only copy of the chunk
        if first:
            require_text(chunk, source_name(stream), MANIFEST_KIND)
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


PROGRESS_EVERY = 1024  # rows between progress calls


class ManifestRows(Iterator[ManifestRow]):
    """What :func:`read_manifest` returns: an iterator of :class:`ManifestRow`, and ``skipped``, a
    :class:`~icformat.problems.Problem` for each bad line left out (``on_error`` skip or warn)."""

    def __init__(self, rows: Iterator[ManifestRow], skipped: list):
        self._rows = rows
        self.skipped = skipped

    def __iter__(self) -> ManifestRows:
        return self

    def __next__(self) -> ManifestRow:
        return next(self._rows)

    def close(self) -> None:
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()


def read_manifest(
    src: PathLike | BinaryIO | Iterable[dict | ManifestRow],
    attribute_names: str | Sequence[str],
    *,
    on_error: str = "raise",
    progress: Callable[[int], object] | None = None,
) -> ManifestRows:
    """Yield a :class:`ManifestRow` per non-blank line of a manifest (local path, ``s3://`` URI or
    binary file object), streaming; or per record of an iterable of JSON objects (dicts, or rows
    read earlier), checked the same way, numbered from line 1.

    A bad line raises :class:`ManifestError` naming it; with ``on_error="skip"`` (or ``"warn"``,
    which also warns) it is left out and noted in the result's ``skipped``. ``progress`` gets the
    number of rows read since its last call.
    """
    from ..skips import SkipPolicy

    names = parse_attribute_names(attribute_names)
    policy = SkipPolicy(on_error)
    rows = (row for _, row in read_numbered_rows(src, names, policy))
    return ManifestRows(_counted(rows, progress), policy.skipped)


def is_source(src: Any) -> bool:
    """True for a path, URI or file object; False for an iterable of records."""
    return isinstance(src, (str, os.PathLike)) or hasattr(src, "read")


def read_numbered_rows(
    src: Any, names: tuple[str, ...], policy, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, ManifestRow]]:
    """``(row number, row)`` for rows ``[start, stop)`` (rows: the non-blank lines or the records,
    numbered from 0, bad ones included); the rows before ``start`` are not parsed. Bad rows go to
    ``policy`` (a :class:`~icformat.skips.SkipPolicy`)."""
    path = source_name(src) if is_source(src) else None
    for number, (line, raw) in enumerate(itertools.islice(_raw_records(src), start, stop), start):
        try:
            record = decode_line(raw, path, line) if isinstance(raw, bytes) else _as_record(raw, line)
        except ManifestError as exc:
            policy.skip(exc, "invalid-json")
            continue
        try:
            yield number, ManifestRow(line, row_values(record, names, path, line), record)
        except ManifestError as exc:
            policy.skip(exc, "missing-attribute" if "missing" in exc.reason or "null" in exc.reason else "bad-reference")


def count_rows(src: Any) -> int:
    """The number of rows of a manifest (non-blank lines, without parsing them) or of an iterable."""
    if not is_source(src):
        return len(src)
    with _opened(src) as stream:
        return sum(1 for _ in iter_lines(stream))


def _raw_records(src: Any) -> Iterator[tuple[int, bytes | dict | ManifestRow]]:
    """``(line, raw bytes)`` of a file's non-blank lines, or ``(line, record)`` of an iterable."""
    if is_source(src):
        with _opened(src) as stream:
            yield from iter_lines(stream)
        return
    for line, record in enumerate(src, 1):
        yield (record.line, record) if isinstance(record, ManifestRow) else (line, record)


def _as_record(item: dict | ManifestRow, line: int) -> dict:
    record = item.record if isinstance(item, ManifestRow) else item
    if not isinstance(record, dict):
        raise ManifestError(f"expected a JSON object (a dict), got {type(record).__name__}", None, line)
    return record


def _counted(rows: Iterator, progress) -> Iterator:
    """``rows``, calling ``progress`` every ``PROGRESS_EVERY`` rows and at the end."""
    if progress is None:
        yield from rows
        return
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if done % PROGRESS_EVERY:
        progress(done % PROGRESS_EVERY)


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
        self.file = open_input(self.src, "rb")
        return self.file

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()


def dump_record(record: dict) -> bytes:
    """One manifest line (compact JSON, UTF-8, newline included)."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write_manifest(
    dest: PathLike, records: Iterable[dict | ManifestRow], *, progress: Callable[[int], object] | None = None
) -> int:
    """Write JSON objects (or rows read earlier) as a manifest (local or ``s3://``), atomically;
    returns the line count. ``progress`` gets the number of lines written since its last call."""
    count = 0
    with open_output(dest, "wb") as out:
        for record in _counted(iter(records), progress):
            if isinstance(record, ManifestRow):
                record = record.record
            out.write(dump_record(record))
            count += 1
    return count
