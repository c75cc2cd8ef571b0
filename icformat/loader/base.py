"""What every loader shares (CPU and GPU): its options, its source and plan, the bad-record policy,
the counters and the epoch bookkeeping. The options are declared once, by ``ImageLoader``'s
signature; the GPU loader binds its arguments to that signature instead of declaring them again."""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import BadRecordError, UsageError
from .batch import LoaderStats, SkipReporter
from .options import make_preprocess
from .planner import Planner
from .sources import open_source


def bind_arguments(signature_of, *args, **kwargs) -> dict[str, Any]:
    """``args``/``kwargs`` bound to the parameters of ``signature_of`` (a loader's ``__init__``),
    defaults filled in; unknown or missing arguments raise ``TypeError`` as a call would."""
    bound = inspect.signature(signature_of).bind(None, *args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    return arguments


class LoaderBase:
    """The state and bookkeeping common to :class:`ImageLoader` and :class:`GpuImageLoader`."""

    def _configure(self, options: dict[str, Any]) -> None:
        """Set up from the bound ``ImageLoader`` arguments: preprocessing, source, plan, counters."""
        self.batch_size = int(options["batch_size"])
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, got {options['batch_size']}")
        self.prep = make_preprocess(
            options["data_shape"], resize=options["resize"], augmentation_type=options["augmentation_type"],
            dtype=options["dtype"], mean=options["mean"], std=options["std"], apply_exif=options["apply_exif"],
        )
        self.seed, self.strict = int(options["seed"]), bool(options["strict"])
        width = options["label_width"]
        self.source = open_source(options["source"], root=options["root"], idx=options["idx"], label_width=width)
        if width is not None:
            self.source.label_width = int(width)
        self.planner = Planner(
            self.source, self.batch_size, shuffle=options["shuffle"], seed=self.seed, num_parts=options["num_parts"],
            part_index=options["part_index"], last_batch=options["last_batch"], shuffle_buffer=options["shuffle_buffer"],
        )
        self.epoch = int(options["epoch"])
        self.stats = LoaderStats()
        self._skips = SkipReporter(self.stats, options["max_warnings"])

    @property
    def label_width(self) -> int | None:
        return self.source.label_width

    @property
    def num_samples(self) -> int | None:
        """Records this part reads per epoch (before padding and skips); None for a stream source."""
        return self.planner.num_samples

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch for this part; None for a stream source."""
        return self.planner.num_batches

    def __len__(self) -> int:
        """Batches per epoch for this part; a stream source has no length (``TypeError``, as Python
        requires of objects without one: ``len()`` cannot return None); see :attr:`num_batches`."""
        return len(self.planner)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration runs (for resuming; it also picks the order and augmentation)."""
        self.epoch = int(epoch)

    def _next_epoch(self) -> int:
        """The epoch to run now; the following iteration runs the one after."""
        epoch = self.epoch
        self.epoch += 1
        return epoch

    def _bad_record(self, message: str) -> None:
        """A record was skipped: raise with ``strict``, else warn (the first few) and count it."""
        if self.strict:
            raise BadRecordError(message)
        self._skips.skip(message)

    def _delivered(self, samples: int) -> None:
        """Count one batch handed out."""
        self.stats.batches += 1
        self.stats.samples += samples

    def _epoch_done(self, epoch: int) -> None:
        self._skips.end_epoch(epoch)
        self.stats.epochs += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - each loader closes its own resources
        raise NotImplementedError
