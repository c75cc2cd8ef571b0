"""libturbojpeg's YUV calls, two per image: decode a JPEG to planes, encode planes to a JPEG.

PyTurboJPEG (1.x) loads the library and declares its functions; its own methods make a dozen
calls into the library per image (a handle created and destroyed each time, plane sizes one by
one), and each call releases and retakes the GIL: beside a busy Python thread (im2rec's writer)
every retake can wait for a whole switch interval. Here each thread keeps its own handles, plane
sizes are computed in Python, and the encoder writes into a buffer the thread keeps, so an image
costs two calls; planes go in and out by address, with their own row strides (no packed copy). ``tests/test_transcode.py`` checks these against PyTurboJPEG's own methods.
"""
from __future__ import annotations

import threading
from ctypes import addressof, byref, c_char, c_int, c_ulong, c_void_p, cdll

import numpy as np

from ..errors import ImageError

# TurboJPEG's subsampling codes (a stable ABI) and their MCU sizes in pixels (width, height)
SAMP_444, SAMP_422, SAMP_420, SAMP_GRAY, SAMP_440, SAMP_411 = 0, 1, 2, 3, 4, 5
_MCU = {SAMP_444: (8, 8), SAMP_422: (16, 8), SAMP_420: (16, 16), SAMP_GRAY: (8, 8), SAMP_440: (8, 16), SAMP_411: (32, 8)}
_PF_GRAY = 6  # TJPF_GRAY: the luma plane as stored, no colour conversion
_STOP_ON_WARNING = 8192  # TJFLAG_STOPONWARNING: a damaged JPEG stops the decode (and fails it)
_NO_REALLOC = 1024  # TJFLAG_NOREALLOC: encode into the thread's buffer

_CODEC = None  # the process's PyTurboJPEG object once loaded; False when it cannot load
_WHY_NOT = ""
_LOCAL = threading.local()


def _load():
    """PyTurboJPEG's wrapper of libturbojpeg (2.0 or later), or None with the reason in _WHY_NOT."""
    global _WHY_NOT
    try:
        import turbojpeg
    except ImportError as exc:
        _WHY_NOT = f"PyTurboJPEG not installed ({exc}); pip install 'icformat[turbo]'"
        return None
    try:
        codec = turbojpeg.TurboJPEG()
    except (OSError, RuntimeError, AttributeError) as exc:  # no libturbojpeg.so, or one too old
        _WHY_NOT = f"libturbojpeg cannot be loaded ({exc}); install libjpeg-turbo (Debian: apt-get install libturbojpeg0)"
        return None
    needed = ("init_decompress", "init_compress", "destroy", "find_turbojpeg")
    if any(getattr(codec, f"_TurboJPEG__{name}", None) is None for name in needed):
        _WHY_NOT = ("this PyTurboJPEG or libturbojpeg is not supported (PyTurboJPEG 1.x over libjpeg-turbo 2.0 or "
                    "later is); pip install 'PyTurboJPEG>=1.7,<2'")
        return None
    try:
        _library(codec)
    except (OSError, AttributeError, RuntimeError) as exc:  # a libturbojpeg without the YUV planes functions (before 1.4)
        _WHY_NOT = f"this libturbojpeg lacks the functions needed ({exc}); install libjpeg-turbo 2.0 or later"
        return None
    return codec


def codec():  # -> turbojpeg.TurboJPEG | None (PyTurboJPEG may be absent)
    """The process's PyTurboJPEG object (it holds no handle; forked workers inherit it), or None."""
    global _CODEC
    if _CODEC is None:
        _CODEC = _load() or False
    return _CODEC or None


def available() -> bool:
    """True when PyTurboJPEG and libturbojpeg load."""
    return codec() is not None


def unavailable_reason() -> str:
    """Why the library cannot be used here ('' when it can)."""
    return "" if available() else _WHY_NOT


class _Library:
    """The library's functions as this module calls them: PyTurboJPEG's library loaded again (the
    same handle), declared with plain addresses (ints) so that a call builds no pointer objects,
    and with ``tjCompressFromYUVPlanes``, which PyTurboJPEG 1.x does not declare."""

    def __init__(self, lib) -> None:
        library = cdll.LoadLibrary(lib._TurboJPEG__find_turbojpeg())
        self.init_decompress = lib._TurboJPEG__init_decompress
        self.init_compress = lib._TurboJPEG__init_compress
        self.destroy = lib._TurboJPEG__destroy
        self.decompress_planes = _declare(library.tjDecompressToYUVPlanes, c_void_p, c_void_p, c_ulong, c_void_p, c_int, c_void_p,
                                          c_int, c_int)
        self.decompress = _declare(library.tjDecompress2, c_void_p, c_void_p, c_ulong, c_void_p, c_int, c_int, c_int, c_int, c_int)
        self.compress_planes = _declare(library.tjCompressFromYUVPlanes, c_void_p, c_void_p, c_int, c_void_p, c_int, c_int, c_void_p,
                                        c_void_p, c_int, c_int)


def _declare(function, *argtypes):
    function.argtypes = list(argtypes)
    function.restype = c_int
    return function


class _Handles:
    """One decompressor, one compressor, an output buffer and the calls' plane arrays (addresses
    and row strides, filled in for each call) for the thread that made them."""

    def __init__(self, lib) -> None:
        self.lib = _library(lib)
        self.decompress = self.lib.init_decompress()
        self.compress = self.lib.init_compress()
        self.out = np.empty(0, np.uint8)
        self.pointers = (c_void_p * 3)()
        self.strides = (c_int * 3)()
        if not self.decompress or not self.compress:
            raise ImageError("libturbojpeg could not create a handle")

    def __del__(self) -> None:
        for handle in (getattr(self, "decompress", None), getattr(self, "compress", None)):
            if handle:
                self.lib.destroy(handle)


_LIBRARY: list = []


def _library(lib) -> _Library:
    if not _LIBRARY:
        _LIBRARY.append(_Library(lib))
    return _LIBRARY[0]


def _handles() -> _Handles:
    handles = getattr(_LOCAL, "handles", None)
    if handles is None:
        handles = _LOCAL.handles = _Handles(codec())
    return handles


def plane_shapes(height: int, width: int, samp: int) -> list[tuple[int, int]]:
    """The planes' (rows, columns) as libturbojpeg lays them out (tjPlaneHeight/tjPlaneWidth):
    luma padded to whole chroma samples."""
    mcu_w, mcu_h = _MCU[samp]
    fx, fy = mcu_w // 8, mcu_h // 8
    rows, cols = -(-height // fy) * fy, -(-width // fx) * fx
    if samp == SAMP_GRAY:
        return [(rows, cols)]
    return [(rows, cols)] + [(rows // fy, cols // fx)] * 2


def decode_planes(data: bytes, height: int, width: int, samp: int) -> list[np.ndarray] | None:
    """The Y (Cb, Cr) planes of ``data`` decoded at the DCT scale giving ``height x width``
    (``plane_shapes``; samples past the image's edge are left unset); None when it fails or
    libjpeg warns."""
    handles = _handles()
    data = data if type(data) is bytes else bytes(data)
    shapes = plane_shapes(height, width, samp)
    memory = np.empty(sum([rows * cols for rows, cols in shapes]), np.uint8)  # the planes one after the other: one allocation
    at, planes, pointers, strides = address(memory), [], handles.pointers, handles.strides
    offset = 0
    for plane, (rows, cols) in enumerate(shapes):
        planes.append(memory[offset : offset + rows * cols].reshape(rows, cols))
        pointers[plane], strides[plane] = at + offset, cols
        offset += rows * cols
    status = handles.lib.decompress_planes(handles.decompress, data, len(data), pointers, width, strides, height, _STOP_ON_WARNING)
    return None if status != 0 else planes


def address(array: np.ndarray) -> int:
    """Where an array's first element lies (``array.ctypes.data`` without building its ctypes object)."""
    return array.__array_interface__["data"][0]


def decode_gray(data: bytes, height: int, width: int) -> np.ndarray | None:
    """The luma of ``data`` (``height x width``, at the DCT scale giving it); None on failure."""
    handles = _handles()
    data = data if type(data) is bytes else bytes(data)
    out = np.empty((height, width), np.uint8)
    status = handles.lib.decompress(handles.decompress, data, len(data), address(out), width, width, height, _PF_GRAY,
                                    _STOP_ON_WARNING)
    return None if status != 0 else out


def encode_planes(planes: list[np.ndarray], height: int, width: int, samp: int, quality: int,
                  out: memoryview | None = None) -> bytes | memoryview | None:
    """A ``height x width`` JPEG (``samp``: ``SAMP_420`` or ``SAMP_GRAY``) from its planes as
    libjpeg-turbo reads them (``plane_shapes``: 4:2:0 luma with even sides), each with its rows
    contiguous (any row stride); None on failure. With ``out`` (writable memory, as large as
    :func:`encoded_bound` or larger; a smaller one is not used) the JPEG is written there and a view
    of it comes back: no copy."""
    handles = _handles()
    bound = encoded_bound(height, width)
    pointers, strides = handles.pointers, handles.strides
    for plane, array in enumerate(planes):
        step, item = array.strides
        if item != 1 or step <= 0:
            raise ValueError("encode_planes needs planes with contiguous rows, top to bottom")
        pointers[plane], strides[plane] = address(array), step
    if out is not None and len(out) >= bound:
        start = addressof(c_char.from_buffer(out))  # writable memory: where the JPEG goes
        target, size = c_void_p(start), c_ulong(len(out))
    else:
        out = None
        if handles.out.size < bound:
            handles.out = np.empty(bound, np.uint8)
        start = address(handles.out)
        target, size = c_void_p(start), c_ulong(handles.out.size)
    status = handles.lib.compress_planes(handles.compress, pointers, width, strides, height, samp, byref(target), byref(size), quality,
                                         _NO_REALLOC)
    if status != 0 or target.value != start:
        return None
    if out is not None:
        return memoryview(out)[: size.value]
    return handles.out[: size.value].tobytes()


def encoded_bound(height: int, width: int) -> int:
    """Bytes that always hold :func:`encode_planes`' JPEG of ``height x width`` (at least libjpeg-turbo's
    ``tjBufSize`` for 4:2:0 and gray)."""
    return (-(-width // 16) * 16) * (-(-height // 16) * 16) * 3 + 2048
