"""One pass over a split: what the report shows of it, gathered in memory that does not grow with
the images' size: counts per class, fixed-bin histograms of sizes and aspect ratios, a random
sample of thumbnails per class (reservoir sampling), the first few images of each kind of oddity
and of each place a validator named, and 16 bytes per image (two hashes) for the duplicates."""
from __future__ import annotations

import random
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from ..io.parallel import map_ordered
from ..train.data import Example
from .look import Look, look_at, thumbnail_of, thumbnail_uri

SIZE_BINS = np.array([0, 16, 32, 64, 128, 224, 256, 384, 512, 768, 1024, 2048, 4096, 1 << 30])
ASPECT_BINS = np.array([0, 0.25, 0.5, 0.67, 0.8, 0.95, 1.05, 1.25, 1.5, 2.0, 4.0, 1e9])


@dataclass(frozen=True)
class ScanOptions:
    """How oddities are told: ``tiny`` (shorter side in pixels), ``elongated`` (longer over shorter
    side), ``uniform`` (standard deviation of gray levels); how many thumbnails to keep per class
    and per kind (``shown``); the sampling ``seed`` and the decoding ``workers``."""

    thumbs_per_class: int = 4
    shown: int = 12
    tiny: int = 32
    elongated: float = 4.0
    uniform: float = 4.0
    seed: int = 0
    workers: int | None = None


@dataclass
class Thumb:
    """One image shown: its ``name``, where it is (``uri``), its label text and thumbnail."""

    name: str
    uri: str
    label: str
    src: str
    note: str = ""


@dataclass
class SplitScan:
    """What one pass over a split found (see the module's docstring)."""

    name: str
    source: str
    count: int = 0
    class_counts: Counter = field(default_factory=Counter)
    undecodable: list[Thumb] = field(default_factory=list)
    undecodable_count: int = 0
    widths: np.ndarray = field(default_factory=lambda: np.zeros(len(SIZE_BINS) - 1, np.int64))
    heights: np.ndarray = field(default_factory=lambda: np.zeros(len(SIZE_BINS) - 1, np.int64))
    aspects: np.ndarray = field(default_factory=lambda: np.zeros(len(ASPECT_BINS) - 1, np.int64))
    samples: dict = field(default_factory=dict)  # label -> list[Thumb]
    seen: Counter = field(default_factory=Counter)  # label -> images seen (reservoir sampling)
    odd: dict = field(default_factory=dict)  # kind -> list[Thumb]
    odd_counts: Counter = field(default_factory=Counter)
    gray_count: int = 0
    gray_thumbs: list[Thumb] = field(default_factory=list)
    at_places: dict = field(default_factory=dict)  # (path, line or offset) -> Thumb
    phashes: array = field(default_factory=lambda: array("Q"))
    digests: array = field(default_factory=lambda: array("Q"))
    decoded: array = field(default_factory=lambda: array("b"))  # 1 where the phash is real

    @property
    def mostly_colour(self) -> bool:
        return self.gray_count * 2 < self.count - self.undecodable_count


def label_text(labels: np.ndarray | None, classes: Sequence[str] | None) -> str:
    """A class name (or id); for multi-hot labels, the present classes joined by ``+``."""
    if labels is None:
        return "?"
    values = np.asarray(labels).ravel()
    if len(values) == 1:
        value = float(values[0])
        index = int(value) if value.is_integer() else None
        return classes[index] if classes and index is not None and 0 <= index < len(classes) else f"{value:g}"
    present = np.flatnonzero(values >= 0.5).tolist()
    return "+".join(classes[i] if classes and i < len(classes) else str(i) for i in present) or "(none)"


def _look(example: Example) -> Look:
    return look_at(example.image)


def scan_split(name: str, source: str, examples: Iterable[Example], *, options: ScanOptions = ScanOptions(),
               places: set | None = None, classes: Sequence[str] | None = None,
               progress: Callable[[int], None] | None = None) -> SplitScan:
    """Stream ``examples`` once; ``places`` are ``(path, line or offset)`` keys whose thumbnails to keep
    (the validators' findings)."""
    scan = SplitScan(name, source)
    rng = random.Random(options.seed)
    places = places or set()
    workers = options.workers or 2
    for example, look in map_ordered(_look, examples, workers=workers, in_flight=workers * 8):
        _take(scan, example, look, label_text(example.labels, classes), options, rng, places)
        if progress is not None:
            progress(1)
    return scan


def _thumb(example: Example, label: str, look: Look, note: str = "") -> Thumb:
    src = thumbnail_uri(None) if look.error is not None else thumbnail_of(example.image)
    return Thumb(example.name, example.uri, label, src, note)


def _take(scan: SplitScan, example: Example, look: Look, label: str, options: ScanOptions, rng: random.Random,
          places: set) -> None:
    scan.count += 1
    scan.class_counts[label] += 1
    scan.digests.append(look.digest)
    scan.phashes.append(look.phash)
    scan.decoded.append(look.error is None)
    if example.key in places:
        scan.at_places[example.key] = _thumb(example, label, look)
    if look.error is not None:
        scan.undecodable_count += 1
        if len(scan.undecodable) < options.shown:
            scan.undecodable.append(_thumb(example, label, look, look.error))
        return
    h, w = look.height, look.width
    scan.widths[np.searchsorted(SIZE_BINS, w, side="right") - 1] += 1
    scan.heights[np.searchsorted(SIZE_BINS, h, side="right") - 1] += 1
    scan.aspects[np.searchsorted(ASPECT_BINS, w / h, side="right") - 1] += 1
    _sample(scan, example, label, look, options.thumbs_per_class, rng)
    for kind, note in _oddities(look, options):
        scan.odd_counts[kind] += 1
        shown = scan.odd.setdefault(kind, [])
        if len(shown) < options.shown:
            shown.append(_thumb(example, label, look, note))
    if look.gray or look.mode in ("L", "LA", "1"):
        scan.gray_count += 1
        if len(scan.gray_thumbs) < options.shown:
            scan.gray_thumbs.append(_thumb(example, label, look, f"{w}x{h}, {look.mode or 'gray'}"))


def _sample(scan: SplitScan, example: Example, label: str, look: Look, keep: int, rng: random.Random) -> None:
    seen = scan.seen[label] = scan.seen[label] + 1
    shown = scan.samples.setdefault(label, [])
    if len(shown) < keep:
        shown.append(_thumb(example, label, look))
    else:
        slot = rng.randrange(seen)
        if slot < keep:
            shown[slot] = _thumb(example, label, look)


def _oddities(look: Look, options: ScanOptions) -> list[tuple[str, str]]:
    h, w = look.height, look.width
    found = []
    if min(h, w) < options.tiny:
        found.append(("tiny", f"{w}x{h} pixels"))
    if max(h, w) / max(1, min(h, w)) > options.elongated:
        found.append(("elongated", f"{w}x{h}, aspect ratio {w / h:.2f}"))
    if look.spread < options.uniform:
        found.append(("near-uniform", f"gray-level spread {look.spread:.1f}"))
    return found
