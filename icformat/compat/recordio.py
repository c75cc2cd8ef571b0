"""A drop-in for ``mxnet.recordio`` (MXNet 1.9.1) without MXNet: ``from icformat.compat import
recordio`` in place of ``from mxnet import recordio``, on numpy 2 and any current Python.

The names, signatures and behaviour are MXNet's (``MXRecordIO``, ``MXIndexedRecordIO``, ``IRHeader``,
``pack``, ``unpack``, ``pack_img``, ``unpack_img``), over icformat's own reader, writer, ``.idx``
parser and header codec; the bytes written are MXNet's. Differences, all on bad input or misuse:
errors are :class:`~icformat.errors.IcformatError` (``RecordIOError`` for a damaged file,
``UsageError`` for reading a writer) instead of ``MXNetError``/``AssertionError``; a file being
written appears whole when the writer is closed (``close()``, ``del``, garbage collection or the
end of the program), not record by record. Images are BGR as OpenCV gives them (``unpack_img``);
:func:`imdecode` gives what ``mx.image.imdecode(buf).asnumpy()`` gives (RGB by default). Decoded
pixels equal OpenCV's, except gray from a colour PNG (within 1 level: libpng's rounding); ``pack_img``
encodes with libjpeg-turbo/Pillow, so its JPEG bytes are not OpenCV's (the pixels are as close).
"""
from __future__ import annotations

import os
import weakref
from multiprocessing import current_process
from typing import Any

import numpy as np

from ..errors import ImageError, UsageError
from ..image.decode import decode, image_info, is_jpeg
from ..image.encode import encode_jpeg, encode_png
from ..io.paths import PathLike
from ..recordio import header as _header
from ..recordio.header import IRHeader
from ..recordio.index import read_index
from ..recordio.random_access import IndexedRecordFile
from ..recordio.writer import RecordWriter

__all__ = ["MXRecordIO", "MXIndexedRecordIO", "IRHeader", "pack", "unpack", "pack_img", "unpack_img", "imdecode"]

_IR_SIZE = _header.HEADER_SIZE


class MXRecordIO:
    """Sequential reading (``flag='r'``) or writing (``flag='w'``) of a RecordIO file, local or
    ``s3://``; ``read()`` gives each record's bytes, then ``None``."""

    def __init__(self, uri: PathLike, flag: str):
        self.uri = os.fspath(uri)
        self.flag = flag
        self.pid = None
        self.is_open = False
        self.writable = False
        self._writer: RecordWriter | None = None
        self._records: IndexedRecordFile | None = None
        self._pos = 0
        self._finalizer = None
        self.open()

    def open(self) -> None:
        """Open the file: for reading at its first record, or (``'w'``) to write it anew."""
        if self.flag == "w":
            self._writer = RecordWriter(self.uri, index=self._index_path())
            # what MXNet's destructor does, also when the program just ends: the file is completed
            self._finalizer = weakref.finalize(self, self._writer.close)
            self.writable = True
        elif self.flag == "r":
            self._records = self._open_records()
            self._pos = 0
            self.writable = False
        else:
            raise ValueError("Invalid flag %s" % self.flag)
        self.pid = current_process().pid
        self.is_open = True

    def _open_records(self) -> IndexedRecordFile:
        return IndexedRecordFile(self.uri, offsets=())

    def _index_path(self) -> str | None:
        return None

    def __del__(self):
        self.close()

    def __getstate__(self) -> dict:
        """Pickled as a path: the copy opens the file again (``MXNet`` closes the original too)."""
        is_open = self.is_open
        self.close()
        state = {k: v for k, v in self.__dict__.items() if k not in ("_writer", "_records", "_finalizer")}
        state["is_open"] = is_open
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._writer = self._records = self._finalizer = None
        self.is_open = False
        if state["is_open"]:
            self.open()

    def _check_pid(self, allow_reset: bool = False) -> None:
        """MXNet's guard: a reader or writer is not shared with a forked process (``seek`` reopens)."""
        if self.pid != current_process().pid:
            if allow_reset:
                self.reset()
            else:
                raise RuntimeError("Forbidden operation in multiple processes")

    def close(self) -> None:
        """Close the file; a written file appears at its path now."""
        if not getattr(self, "is_open", False):
            return
        if self._writer is not None:
            self._finalizer.detach()
            self._writer.close()
            self._writer = self._finalizer = None
        if self._records is not None:
            self._records.close()
            self._records = None
        self.is_open = False
        self.pid = None

    def reset(self) -> None:
        """Back to the first record (a writer starts its file anew)."""
        self.close()
        self.open()

    def write(self, buf: bytes) -> None:
        """Append ``buf`` (bytes) as one record."""
        self._require(writable=True)
        self._check_pid(allow_reset=False)
        if not isinstance(buf, (bytes, bytearray, memoryview)):
            raise TypeError(f"write() takes bytes, not {type(buf).__name__}")
        self._writer.write(buf, indexed=False)

    def read(self) -> bytes | None:
        """The next record's bytes, ``None`` after the last one."""
        self._require(writable=False)
        self._check_pid(allow_reset=False)
        records = self._records
        if records.size is not None and self._pos >= records.size:
            return None
        payload, self._pos = records.record_at(self._pos)
        return bytes(payload)

    def _require(self, writable: bool) -> None:
        """MXNet's ``assert self.writable`` (or ``not``), as an error ``python -O`` keeps; a closed
        file is then caught by :meth:`_check_pid`, as in MXNet."""
        if self.writable != writable:
            raise UsageError(f"{self.uri}: opened with flag {self.flag!r}; cannot {'write' if writable else 'read'}", self.uri)


class MXIndexedRecordIO(MXRecordIO):
    """Random access by key through the ``.idx`` at ``idx_path`` (``key<TAB>offset`` lines);
    ``keys`` (file order) and ``idx`` (key -> offset) as MXNet gives them, keys made by ``key_type``."""

    def __init__(self, idx_path: PathLike, uri: PathLike, flag: str, key_type=int):
        self.idx_path = os.fspath(idx_path)
        self.idx: dict = {}
        self.keys: list = []
        self.key_type = key_type
        self.fidx = None
        super().__init__(uri, flag)

    def open(self) -> None:
        self.idx = {}
        self.keys = []
        if self.flag == "r":
            self.keys, offsets = read_index(self.idx_path, key_type=self.key_type)
            self.idx = dict(zip(self.keys, offsets))
        super().open()

    def _open_records(self) -> IndexedRecordFile:
        return IndexedRecordFile(self.uri, offsets=sorted(set(self.idx.values())))

    def _index_path(self) -> str | None:
        return self.idx_path

    def seek(self, idx: Any) -> None:
        """Move to the record whose key is ``idx`` (``KeyError`` when there is none)."""
        self._require(writable=False)
        self._check_pid(allow_reset=True)
        self._pos = self.idx[idx]

    def tell(self) -> int:
        """Where the next record written goes (its byte offset)."""
        self._require(writable=True)
        if not self.is_open:
            raise UsageError(f"{self.uri}: the record file is closed", self.uri)
        return self._writer.offset

    def read_idx(self, idx: Any) -> bytes:
        """The bytes of the record whose key is ``idx``."""
        self.seek(idx)
        return self.read()

    def write_idx(self, idx: Any, buf: bytes) -> None:
        """Append ``buf`` as a record with key ``key_type(idx)``."""
        key = self.key_type(idx)
        self._require(writable=True)
        self._check_pid(allow_reset=False)
        pos = self.tell()
        if not isinstance(buf, (bytes, bytearray, memoryview)):
            raise TypeError(f"write_idx() takes bytes, not {type(buf).__name__}")
        self._writer.write(buf, key=str(key))
        self.idx[key] = pos
        self.keys.append(key)


def pack(header, s: bytes) -> bytes:
    """``header`` (an ``IRHeader`` or 4-tuple) and ``s`` as one record's bytes; a sequence ``label``
    becomes ``flag = len(label)`` float32 labels after the header."""
    return _header.pack(IRHeader(*header), s)


def unpack(s: bytes) -> tuple[IRHeader, bytes]:
    """A record's ``(IRHeader, payload)``; ``header.label`` is a float32 array when ``flag > 0``."""
    return _header.unpack(s)


def unpack_img(s: bytes, iscolor: int = -1) -> tuple[IRHeader, np.ndarray | None]:
    """A record's header and its image decoded as OpenCV's ``imdecode(buf, iscolor)`` does: BGR
    (``1``), gray (``0``) or as stored (``-1``: channels, alpha and bit depth kept, EXIF orientation
    not applied); ``None`` when the bytes are not an image, as OpenCV returns."""
    header, payload = unpack(s)
    try:
        image = _decode_bgr(payload, iscolor)
    except ImageError:
        image = None
    return header, image


def _decode_bgr(payload, iscolor: int) -> np.ndarray:
    if iscolor < 0:
        color = -1
        if is_jpeg(payload):  # a JPEG is gray or colour (3 channels) as stored
            color = 0 if image_info(payload).mode == "L" else 1
        image = decode(payload, color=color, apply_exif=False)
    else:
        image = decode(payload, color=1 if iscolor > 0 else 0)
    if image.ndim == 3 and image.shape[2] >= 3:
        order = [2, 1, 0] + list(range(3, image.shape[2]))
        image = np.ascontiguousarray(image[:, :, order])
    return image


def pack_img(header, img: np.ndarray, quality: int = 95, img_fmt: str = ".jpg") -> bytes:
    """``header`` and the BGR (or gray) image ``img`` encoded as ``img_fmt`` (``.jpg``: ``quality``
    1-100; ``.png``: ``quality`` is the compression level 0-9) as one record's bytes."""
    fmt = img_fmt.upper()
    if fmt not in (".JPG", ".JPEG", ".PNG"):
        raise UsageError(f"img_fmt {img_fmt!r} is not supported; use '.jpg' or '.png'")
    rgb = img
    if img.ndim == 3 and img.shape[2] >= 3:
        rgb = img[:, :, [2, 1, 0] + list(range(3, img.shape[2]))]
    payload = encode_png(rgb, quality) if fmt == ".PNG" else encode_jpeg(rgb, quality)
    return pack(header, payload)


def imdecode(buf, flag: int = 1, to_rgb: bool = True) -> np.ndarray:
    """What ``mx.image.imdecode(buf, flag, to_rgb).asnumpy()`` gives: ``HxWx3`` uint8, RGB (BGR
    when ``to_rgb`` is false), or ``HxWx1`` gray for ``flag=0``."""
    if len(buf) == 0:
        raise ImageError("empty image data (0 bytes)")
    if flag == 0:
        return decode(buf, color=0)[:, :, None]
    image = decode(buf, color=1)
    return image if to_rgb else np.ascontiguousarray(image[:, :, ::-1])
