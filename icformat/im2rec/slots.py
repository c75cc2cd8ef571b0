"""Fixed-size slots in one shared anonymous mapping, for forked im2rec workers to hand records over.

A worker frames a run of records straight into the slot the parent named, and returns only their
sizes; the parent writes them to the ``.rec`` from the same memory. Sending them back through the
pool's pipe instead costs a pickle, a pipe crossing in 64 KiB pieces (each a wake-up of the
parent's result thread) and an unpickle: about a tenth of a full transcode's CPU per image.
Only forked workers share the mapping (it is inherited, not passed); a run of records larger
than a slot goes back through the pipe.
"""
from __future__ import annotations

import mmap

SLOT_BYTES = 8 << 20  # 16 ImageNet-size JPEGs re-encoded at quality 95 are about 1.5 MiB; pages are used only when touched


class SharedSlots:
    """``count`` slots of ``size`` bytes; slot ``i`` is reused by ``i + count``."""

    def __init__(self, count: int, size: int | None = None):
        self.count, self.size = count, size or SLOT_BYTES
        self._map = mmap.mmap(-1, count * self.size)  # MAP_SHARED | MAP_ANONYMOUS: forked children see the same pages
        self._view = memoryview(self._map)

    def slot(self, index: int) -> memoryview:
        """The memory of the slot serving run ``index``."""
        start = (index % self.count) * self.size
        return self._view[start : start + self.size]

    def close(self) -> None:
        """Unmap (left to the garbage collector while a view of it is still held somewhere)."""
        try:
            self._view.release()
            self._map.close()
        except BufferError:
            pass

    def __getstate__(self):
        raise TypeError("SharedSlots are inherited by forked workers, never pickled")
