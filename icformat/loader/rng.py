"""Counter-based random streams: one per (seed, epoch, record), the same in every process.

Each sample's augmentation draws from its own stream keyed by the loader seed, the epoch and the
record's position in the source, so the result does not depend on the number of workers, on which
worker took the record, or on the order of the batches; and no stream repeats across epochs.
The generator is splitmix64 (Steele, Lea & Flood, 2014): a few integer operations per draw, no
state to ship between processes, and identical on every platform and NumPy version.
"""
from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def stream_key(*parts: int) -> int:
    """A 64-bit key from any number of integers (negative ones wrap), order-sensitive."""
    key = 0
    for part in parts:
        key = _mix(((key ^ (part & MASK64)) + _GAMMA) & MASK64)
    return key


class SampleRandom:
    """A small deterministic random stream (splitmix64) with the draws augmentation needs."""

    __slots__ = ("_state",)

    def __init__(self, key: int):
        self._state = key & MASK64

    def next64(self) -> int:
        self._state = (self._state + _GAMMA) & MASK64
        return _mix(self._state)

    def random(self) -> float:
        """A float in [0, 1)."""
        return (self.next64() >> 11) * (1.0 / (1 << 53))

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def randint(self, low: int, high: int) -> int:
        """An integer in [low, high], both included (as ``std::uniform_int_distribution``)."""
        span = high - low + 1
        if span <= 1:
            return low
        return low + (self.next64() * span >> 64)


def mix_array(values: np.ndarray, key: int) -> np.ndarray:
    """splitmix64 of ``values ^ key`` element-wise (uint64 in, uint64 out): a keyed hash for sorting."""
    z = values.astype(np.uint64) ^ np.uint64(key & MASK64)
    z = z + np.uint64(_GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))
