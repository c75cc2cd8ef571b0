"""What one iteration step of the loader gives: ``(data, label)`` with a few extras."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np


class BadRecordWarning(UserWarning):
    """A record could not be loaded and was skipped."""


class Batch(tuple):
    """``(data, label)``: ``data`` is ``N x C x H x W``, ``label`` is ``(N,)`` or ``(N, num_labels)``.

    Extras: ``pad`` (trailing samples repeated from the start of the epoch to fill the last batch,
    with ``last_batch="pad"``), ``epoch``, ``index`` (batch number in the epoch) and ``keys`` (the
    position of each sample's record in the source: ``.idx``/``.lst`` row, or stream record number).
    The arrays support DLPack (``torch.from_dlpack(batch.data)``), and stay valid as long as they
    are referenced: the loader never writes over a batch still in use.
    """

    def __new__(cls, data: np.ndarray, label: np.ndarray, *, pad: int = 0, epoch: int = 0, index: int = 0, keys=None):
        self = super().__new__(cls, (data, label))
        self.pad = pad
        self.epoch = epoch
        self.index = index
        self.keys = keys
        return self

    def __reduce__(self):
        # tuple's own pickling would call __new__ with one argument; rebuild from both arrays and the extras
        data, label = self
        return _rebuild_batch, (data, label, self.pad, self.epoch, self.index, self.keys)

    @property
    def data(self) -> np.ndarray:
        return self[0]

    @property
    def label(self) -> np.ndarray:
        return self[1]

    def __repr__(self) -> str:
        data, label = self
        return (
            f"Batch(data={tuple(data.shape)} {data.dtype}, label={tuple(label.shape)}, pad={self.pad}, "
            f"epoch={self.epoch}, index={self.index})"
        )


def _rebuild_batch(data, label, pad, epoch, index, keys) -> Batch:
    return Batch(data, label, pad=pad, epoch=epoch, index=index, keys=keys)


@dataclass
class LoaderStats:
    """Counters over the loader's life (the ``skipped_*`` ones also per epoch)."""

    epochs: int = 0
    batches: int = 0
    samples: int = 0
    skipped: int = 0
    skipped_this_epoch: int = 0
    retired_slots: int = 0
    recent_errors: list = field(default_factory=list)  # the last few skip messages

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}


class SkipReporter:
    """Counts skipped records, warns about the first few of each epoch and sums up the rest."""

    def __init__(self, stats: LoaderStats, max_warnings: int = 10, keep: int = 20):
        self.stats = stats
        self.max_warnings = max_warnings
        self.keep = keep
        self._warned = 0

    def start_epoch(self) -> None:
        self.stats.skipped_this_epoch = 0
        self._warned = 0

    def skip(self, message: str) -> None:
        stats = self.stats
        stats.skipped += 1
        stats.skipped_this_epoch += 1
        stats.recent_errors.append(message)
        del stats.recent_errors[: -self.keep]
        if self._warned < self.max_warnings:
            self._warned += 1
            warnings.warn(f"skipped bad record: {message}", BadRecordWarning, stacklevel=4)

    def end_epoch(self, epoch: int) -> None:
        extra = self.stats.skipped_this_epoch - self._warned
        if extra > 0:
            warnings.warn(
                f"epoch {epoch}: skipped {self.stats.skipped_this_epoch} bad records in all "
                f"({extra} not shown; see loader.stats.recent_errors)",
                BadRecordWarning,
                stacklevel=4,
            )
