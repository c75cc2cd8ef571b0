"""Read a loader's epochs without training on them: to check a data set end to end (how many
records load, which do not) and to measure throughput."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class DrainReport:
    epochs: int = 0
    batches: int = 0
    images: int = 0
    skipped: int = 0
    seconds: float = 0.0
    first_batch_seconds: float = 0.0
    errors: list = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def drain(
    loader, *, epochs: int = 1, max_batches: int | None = None, progress: Callable[[int], object] | None = None
) -> DrainReport:
    """Iterate ``epochs`` epochs of ``loader`` (at most ``max_batches`` batches each), touching
    nothing but the batch sizes; ``progress(n)`` is called with the images of each batch."""
    report = DrainReport()
    skipped_before = loader.stats.skipped
    start = time.perf_counter()
    for _ in range(epochs):
        for number, batch in enumerate(loader):
            if not report.batches:
                report.first_batch_seconds = time.perf_counter() - start
            n = len(batch[0])
            report.batches += 1
            report.images += n
            if progress is not None:
                progress(n)
            if max_batches is not None and number + 1 >= max_batches:
                break
        report.epochs += 1
    report.seconds = time.perf_counter() - start
    report.skipped = loader.stats.skipped - skipped_before
    report.errors = list(loader.stats.recent_errors)[-report.skipped :] if report.skipped else []
    return report
