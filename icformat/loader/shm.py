"""Shared-memory batch slots: workers write samples straight into them, the main process hands
out NumPy views of them without copying.

Each slot is one POSIX shared-memory segment: labels first, then the ``N x C x H x W`` data.
Arrays handed to the caller hold a *lease* on their segment. A slot whose lease is still alive
when the loader wants it back (the caller kept the arrays, a framework tensor or a DLPack capsule
made from them) is never overwritten: the loader unlinks that segment, leaves it mapped for as
long as the arrays live, and gives the slot a fresh one. So handed-out arrays stay valid and
unchanged whatever the caller does; the usual loop, which drops each batch before the next but
one, reuses the same few segments for ever.
"""
from __future__ import annotations

import os
import secrets
import sys
import weakref
from multiprocessing.shared_memory import SharedMemory
from typing import NamedTuple

import numpy as np

from ..errors import IcformatError

_ALIGN = 64


class SlotLayout(NamedTuple):
    """Byte layout of one batch slot."""

    batch_size: int
    data_shape: tuple[int, int, int]
    dtype: str
    label_width: int

    @property
    def label_bytes(self) -> int:
        return self.batch_size * self.label_width * 4

    @property
    def data_offset(self) -> int:
        return -(-self.label_bytes // _ALIGN) * _ALIGN

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return self.data_shape

    @property
    def nbytes(self) -> int:
        c, h, w = self.data_shape
        return self.data_offset + self.batch_size * c * h * w * np.dtype(self.dtype).itemsize

    def views(self, segment: SharedMemory, count: int | None = None, keep=None) -> tuple[np.ndarray, np.ndarray]:
        """``(data[:count], labels[:count])`` over ``segment``, holding ``keep`` (default: the
        segment object) alive. The arrays do not lock the mapping: close the segment only when
        they are gone."""
        count = self.batch_size if count is None else count
        keep = segment if keep is None else keep
        base = _address(segment)
        labels = np.asarray(_ArrayView(keep, base, (count, self.label_width), "float32"))
        data = np.asarray(_ArrayView(keep, base + self.data_offset, (count, *self.data_shape), self.dtype))
        return data, labels


def check_space(nbytes: int, kept: int = 0) -> None:
    """Fail early, with advice, when ``/dev/shm`` cannot hold ``nbytes`` more (writing past its
    end later would kill a worker with SIGBUS, as in small Docker containers). ``kept``: how many
    batches the caller holds on to, for the advice."""
    if not os.path.isdir("/dev/shm"):
        return
    stat = os.statvfs("/dev/shm")
    free = stat.f_bavail * stat.f_frsize
    if free < nbytes:
        advice = "lower batch_size or num_workers, use dtype='uint8', or enlarge /dev/shm (docker run --shm-size)"
        if kept:
            advice = (
                f"{kept} batches handed out are still referenced and each keeps its shared memory: copy what "
                f"you keep (np.array(batch.data)) or drop it; or {advice}"
            )
        raise IcformatError(f"/dev/shm: {free >> 20} MiB free, the loader needs {nbytes >> 20} MiB more; {advice}")


SEGMENT_PREFIX = "icf"


def segment_prefix(pid: int | None = None) -> str:
    """The name prefix of the segments process ``pid`` (default: this one) creates."""
    return f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}_"


def create(nbytes: int) -> SharedMemory:
    """A new segment of ``nbytes`` (owned by this process: unlinked at exit if left behind), named
    ``icf<pid>_<random>`` so that its owner can be told from ``/dev/shm``'s listing."""
    return SharedMemory(name=segment_prefix() + secrets.token_hex(6), create=True, size=max(int(nbytes), 1))


def attach(name: str) -> SharedMemory:
    """Map an existing segment without registering it for clean-up: its creator owns it."""
    if sys.version_info >= (3, 13):
        return SharedMemory(name, track=False)
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None
    try:
        return SharedMemory(name)
    finally:
        resource_tracker.register = register


def _address(segment: SharedMemory) -> int:
    probe = np.frombuffer(segment.buf, np.uint8, count=1)
    address = probe.__array_interface__["data"][0]
    del probe  # release the buffer export: the lease keeps the mapping alive instead
    return address


class _Lease:
    """Keeps a segment mapped while arrays made from it are alive."""

    __slots__ = ("segment", "__weakref__")

    def __init__(self, segment: SharedMemory):
        self.segment = segment


class _ArrayView:
    """Exposes part of a segment to NumPy through ``__array_interface__``, keeping ``owner``
    (a lease or the segment) alive for as long as the arrays."""

    __slots__ = ("owner", "__array_interface__")

    def __init__(self, owner, address: int, shape: tuple, dtype: str):
        self.owner = owner
        self.__array_interface__ = {
            "data": (address, False),
            "shape": shape,
            "typestr": np.dtype(dtype).str,
            "version": 3,
        }


class SlotRing:
    """``count`` batch slots in shared memory, owned by the main process."""

    def __init__(self, count: int, layout: SlotLayout):
        check_space(count * layout.nbytes)
        self.layout = layout
        self.segments: list[SharedMemory] = [create(layout.nbytes) for _ in range(count)]
        self._leases: list[weakref.ref | None] = [None] * count
        self.retired = 0  # segments handed over to arrays the caller kept
        self._kept: list[weakref.ref] = []  # their leases

    def __len__(self) -> int:
        return len(self.segments)

    def name(self, slot: int) -> str:
        return self.segments[slot].name

    def lookup(self, name: str) -> SharedMemory:
        """The segment called ``name`` (for in-process writers)."""
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(name)

    def arrays(self, slot: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``(data[:count], labels[:count])`` of ``slot``, leased."""
        segment = self.segments[slot]
        lease = _Lease(segment)
        self._leases[slot] = weakref.ref(lease)
        return self.layout.views(segment, count, lease)

    def reclaim(self, slot: int) -> None:
        """Make ``slot`` writable again; a segment still leased is replaced, never overwritten."""
        ref = self._leases[slot]
        self._leases[slot] = None
        if ref is not None and ref() is not None:
            old = self.segments[slot]
            self._kept = [r for r in self._kept if r() is not None] + [ref]
            check_space(self.layout.nbytes, kept=len(self._kept))
            self.segments[slot] = create(self.layout.nbytes)
            old.unlink()  # the name goes now; the memory when the caller's arrays go
            self.retired += 1

    def close(self) -> None:
        for slot, segment in enumerate(self.segments):
            ref = self._leases[slot]
            leased = ref is not None and ref() is not None
            if not leased:
                segment.close()
            try:
                segment.unlink()
            except FileNotFoundError:
                pass
        self.segments = []
        self._leases = []


class InputRing:
    """Per-slot segments carrying record bytes to the workers (stream sources only)."""

    def __init__(self, count: int, nbytes: int):
        self.segments: list[SharedMemory] = [create(nbytes) for _ in range(count)]

    def fill(self, slot: int, payloads: list) -> tuple[str, list[tuple[int, int]]]:
        """Copy ``payloads`` into ``slot`` (growing it when needed): ``(name, spans)``."""
        total = sum(len(p) for p in payloads)
        segment = self.segments[slot]
        if segment.size < total:
            segment.close()
            segment.unlink()
            segment = self.segments[slot] = create(int(total * 1.5))
        spans = []
        pos = 0
        buf = segment.buf
        for payload in payloads:
            n = len(payload)
            buf[pos : pos + n] = payload
            spans.append((pos, n))
            pos += n
        return segment.name, spans

    def lookup(self, name: str) -> SharedMemory:
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(name)

    def close(self) -> None:
        for segment in self.segments:
            segment.close()
            try:
                segment.unlink()
            except FileNotFoundError:
                pass
        self.segments = []
