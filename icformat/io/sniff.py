"""What kind of file is this? One look at the first bytes, shared by every reader.

A reader of text (``.lst``, manifest, hyperparameters or request JSON) given a RecordIO file, an
image, a compressed archive or other binary says so in one line, naming the command that takes
that file, instead of reporting every "line" of it; a RecordIO reader given an image or a text
file does the same. :func:`sniff` names the kind; :func:`require_text` and
:func:`require_recordio` raise :class:`~icformat.errors.WrongFileKind`. The magic numbers here are
the one table: ``image.decode.image_format`` and ``recordio.framing.MAGIC`` read them from it.
"""
from __future__ import annotations

import json
import struct
from typing import NamedTuple

from ..errors import FormatError, NotRecordIOError, WrongFileKind
from .paths import PathLike
from .streams import open_input

RECORDIO_MAGIC = 0xCED7230A
RECORDIO_MAGIC_BYTES = struct.pack("<I", RECORDIO_MAGIC)
HEAD_BYTES = 4096  # what sniff() looks at
_TEXT_CONTROLS = b"\t\n\r\f\v\b\x1b"
_HIGH = bytes(range(0x80, 0x100))
_NOT_CONTROLS = bytes(b for b in range(256) if b >= 0x20 or b in _TEXT_CONTROLS)  # deleted, they leave the controls


class Kind(NamedTuple):
    """A kind of file: a short ``name``, ``what`` it is (``"a RecordIO file"``), which command or
    step takes it (``use``), and whether it is ``binary`` (never a text format)."""

    name: str
    what: str
    use: str
    binary: bool = True


_PACK = "to list images use `icformat lst make`, to pack them `icformat im2rec`"
RECORDIO = Kind("recordio", "a RecordIO file", "use `icformat rec verify` (or `rec info`)")
IMAGE_KINDS = {
    "jpeg": Kind("jpeg", "a JPEG image", _PACK),
    "png": Kind("png", "a PNG image", _PACK),
    "gif": Kind("gif", "a GIF image", _PACK),
    "bmp": Kind("bmp", "a BMP image", _PACK),
    "tiff": Kind("tiff", "a TIFF image", _PACK),
    "webp": Kind("webp", "a WebP image", _PACK),
}
_OTHER_BINARY = (
    (b"\x1f\x8b", Kind("gzip", "a gzip-compressed file", "decompress it first (gunzip)")),
    (b"PK\x03\x04", Kind("zip", "a zip archive", "unpack it first (unzip)")),
    (b"BZh", Kind("bzip2", "a bzip2-compressed file", "decompress it first (bunzip2)")),
    (b"\xfd7zXZ\x00", Kind("xz", "an xz-compressed file", "decompress it first (unxz)")),
    (b"\x28\xb5\x2f\xfd", Kind("zstd", "a zstd-compressed file", "decompress it first (unzstd)")),
    (b"PAR1", Kind("parquet", "a Parquet file", "export it as text first")),
    (b"\xff\xfe", Kind("utf16", "UTF-16 text", "save it as UTF-8")),
    (b"\xfe\xff", Kind("utf16", "UTF-16 text", "save it as UTF-8")),
)
BINARY = Kind("binary", "a binary file", "check the path")
EMPTY = Kind("empty", "an empty file", "check the path", binary=False)
LST = Kind("lst", "a .lst image list (text)", "use `icformat lst validate`, or pack it with `icformat im2rec`", binary=False)
JSON = Kind("json", "a JSON text file (a manifest?)", "use `icformat manifest validate`", binary=False)
TEXT = Kind("text", "a text file", "check the path", binary=False)


def image_kind(head: bytes | memoryview) -> str:
    """The image format named by the first bytes: jpeg, png, gif, bmp, tiff, webp, or unknown."""
    head = bytes(head[:12])
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return "unknown"


def sniff(head: bytes | memoryview) -> Kind:
    """The kind of a file from its first bytes (up to :data:`HEAD_BYTES` are looked at)."""
    head = bytes(head[:HEAD_BYTES])
    if not head:
        return EMPTY
    if head.startswith(RECORDIO_MAGIC_BYTES):
        return RECORDIO
    image = image_kind(head)
    if image != "unknown":
        return IMAGE_KINDS[image]
    for magic, kind in _OTHER_BINARY:
        if head.startswith(magic):
            return kind
    if len(head) > 262 and head[257:262] == b"ustar":
        return Kind("tar", "a tar archive", "unpack it first (tar -xf)")
    if _looks_binary(head):
        return BINARY
    return _text_kind(head)


def _looks_binary(head: bytes) -> bool:
    if b"\0" in head:
        return True
    controls = len(head.translate(None, _NOT_CONTROLS))
    if controls > max(2, len(head) // 20):  # over 5% control bytes: not text in any encoding we read
        return True
    try:
        head.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the head
            return False
    high = len(head) - len(head.translate(None, _HIGH))
    return high * 10 > len(head) * 3  # not UTF-8 and over 30% non-ASCII: not Latin-1 text either


def _text_kind(head: bytes) -> Kind:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    first = text.split(b"\n", 1)[0]
    if text.startswith((b"{", b"[")):
        return JSON
    if first.count(b"\t") >= 2 and first.split(b"\t", 1)[0].strip().lstrip(b"+-").isdigit():
        return LST
    return TEXT


def require_text(head: bytes | memoryview, path: PathLike | None, expected: str) -> None:
    """Raise :class:`~icformat.errors.WrongFileKind` when ``head`` (a text file's first bytes) is
    the start of a RecordIO file, an image, an archive or other binary. ``expected``: ``"a .lst"``."""
    kind = sniff(head)
    if kind.binary:
        raise WrongFileKind(kind.what, expected, kind.use, path, kind=kind.name)


def require_recordio(head: bytes | memoryview, path: PathLike | None) -> None:
    """Raise :class:`~icformat.errors.NotRecordIOError` when ``head`` (a ``.rec``'s first bytes) is
    recognisably something else: an image, an archive, a ``.lst``, JSON, text. Unknown bytes pass
    (the framing check then names the bad magic)."""
    kind = sniff(head)
    if kind not in (RECORDIO, BINARY, EMPTY):
        raise NotRecordIOError(kind.what, "a RecordIO file", kind.use, path, kind=kind.name)


def read_text(path: PathLike, expected: str) -> bytes:
    """The bytes of a text file (local or ``s3://``), after :func:`require_text`."""
    with open_input(path, "rb") as f:
        data = f.read()
    require_text(data, path, expected)
    return data


def check_text_file(path: PathLike, expected: str) -> None:
    """:func:`require_text` on the first bytes of ``path`` (for readers that read it in parts)."""
    with open_input(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    require_text(head, path, expected)


def read_json_object(path: PathLike, what: str) -> dict:
    """The JSON object in ``path`` (local or ``s3://``), ``what`` naming it in errors (``"hyperparameters"``):
    a folder is a usage error, a missing file ``InputNotFound``, another kind of file
    :class:`~icformat.errors.WrongFileKind`, bad JSON or another JSON type a ``FormatError``."""
    data = read_text(path, f"a {what} JSON file")
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"not valid JSON ({exc}); the {what} must be one JSON object", str(path)) from None
    if not isinstance(value, dict):
        raise FormatError(f"the {what} must be a JSON object, not {type(value).__name__}", str(path))
    return value
