"""``write_report``: one self-contained HTML page about one or more splits of a data set (and,
given them, a model and a training run): counts, class balance, sizes, sample thumbnails, every
problem the validators find, exact and near duplicates within and across splits, odd images, the
model's confusion matrix and mistakes, the training curves.

Each split is streamed once for the scan (memory grows by 16 bytes per image, for the two hashes),
and once more reading bytes only, to draw the duplicates found; thumbnails are sampled.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..io.atomic import open_output
from ..io.streams import open_input
from ..train.data import Channel, iter_examples
from . import charts, html, sections
from .duplicates import DEFAULT_NEAR_DISTANCE, exact_groups, near_pairs
from .look import thumbnail_of
from .scan import ScanOptions, SplitScan, Thumb, label_text, scan_split


@dataclass(frozen=True)
class Split:
    """One input of the report: its ``name`` (train, validation...), what was given and its channel."""

    name: str
    data: str
    channel: Channel


@dataclass(frozen=True)
class ReportOptions:
    """What to look for and how much to show (see :class:`~icformat.report.scan.ScanOptions`);
    ``near_distance``: phash bits two near duplicates may differ in; ``check_images``: the
    validators decode every image too; ``pairs``: duplicate pairs drawn per kind; ``kept_pairs``: pairs
    listed per kind in the result (all are counted), which bounds the memory they take."""

    scan: ScanOptions = ScanOptions()
    near_distance: int = DEFAULT_NEAR_DISTANCE
    check_images: bool = False
    pairs: int = 24
    kept_pairs: int = 10_000
    mistakes: int = 24
    top_k: int = 5
    threshold: float = 0.5


@dataclass
class Duplicate:
    """Two images that are the same (``kind`` exact) or nearly (``near``, with the phash distance)."""

    kind: str
    first: tuple[int, int]  # (split number, position)
    second: tuple[int, int]
    distance: int = 0

    @property
    def across(self) -> bool:
        return self.first[0] != self.second[0]


@dataclass
class ReportResult:
    """What the written report holds (``--json``)."""

    output: str
    images: dict[str, int]
    classes: dict[str, dict[str, int]]
    problems: int
    exact_duplicates: int
    near_duplicates: int
    across_splits: int
    oddities: dict[str, dict[str, int]]
    accuracy: float | None = None
    size_bytes: int = 0
    duplicates: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def write_report(splits: Sequence[Split], output: str, *, model: str | None = None, classes: Sequence[str] | None = None,
                 hyperparameters: dict | None = None, training: str | None = None,
                 options: ReportOptions = ReportOptions(), progress: Callable[[int], None] | None = None) -> ReportResult:
    """Write the report of ``splits`` to ``output`` (atomically; local or ``s3://``)."""
    history = _history(training) if training else None  # a bad file fails now, not after the scan
    problems = [_validate(split, options) for split in splits]
    if hyperparameters is not None:
        _add_preflight(splits, hyperparameters, problems)
    predictor = None
    if model is not None:
        from ..serve.predictor import open_predictor

        predictor = open_predictor(model)
        classes = classes or (list(predictor.info.classes) if predictor.info.classes else None)
    try:
        scans = [scan_split(s.name, s.channel.describe(),
                            iter_examples(s.channel, workers=options.scan.workers, tolerant=True),
                            options=options.scan, places={p[3] for p in found}, classes=classes, progress=progress)
                 for s, found in zip(splits, problems)]
        duplicates, counts = _duplicates(scans, options)
        drawn = _draw_pairs(splits, duplicates, classes, options.pairs)
        evaluation = _evaluate(predictor, splits[-1], options, classes) if predictor is not None else None
    finally:
        if predictor is not None:
            predictor.close()
    parts = [sections.overview(scans, problems, counts), sections.balance(scans), sections.sizes(scans),
             sections.samples(scans), sections.problems(scans, problems),
             sections.duplicates(scans, _shown_pairs(duplicates, options.pairs), drawn, counts, options.near_distance),
             sections.oddities(scans)]
    if evaluation is not None:
        parts.append(sections.model(evaluation))
    if history:
        parts.append(html.section("Training curves", html.chart(charts.curves(history), "training curves"),
                                  anchor="training"))
    document = html.page("icformat report: " + ", ".join(s.name for s in splits), parts).encode("utf-8")
    with open_output(output, "wb") as f:
        f.write(document)
    return _result(output, scans, problems, duplicates, counts, evaluation, len(document))


def _result(output, scans, problems, duplicates, counts, evaluation, size: int) -> ReportResult:
    oddities = {s.name: {**dict(s.odd_counts), "undecodable": s.undecodable_count,
                         **({"grayscale-in-colour": s.gray_count} if s.mostly_colour else {})} for s in scans}
    return ReportResult(
        output, {s.name: s.count for s in scans}, {s.name: dict(s.class_counts) for s in scans},
        sum(len(p) for p in problems), counts["exact"], counts["near"], counts["across"], oddities,
        evaluation.summary().get("accuracy") if evaluation is not None else None, size,
        [{"kind": d.kind, "first": _where(scans, d.first), "second": _where(scans, d.second), "distance": d.distance}
         for d in duplicates])


# ---- gathering ----------------------------------------------------------------------------------

def _validate(split: Split, options: ReportOptions) -> list[tuple[str, str, str, tuple]]:
    """Every problem the split's validator finds: ``(severity, where, message, key)``."""
    channel = split.channel
    if channel.kind == "lst":
        from ..lst.validate import validate_lst

        results = [validate_lst(channel.paths[0], channel.root, check_images=options.check_images)]
    elif channel.kind == "manifest":
        from ..manifest.validate import validate_manifest

        results = [validate_manifest(channel.paths[0], channel.attribute_names, label_format=channel.label_format,
                                     num_classes=channel.num_classes, check_refs=True)]
    else:
        from ..recordio.verify import verify_rec

        results = [verify_rec(path, decode=options.check_images) for path in channel.paths]
    return [(p.severity, p.where(), p.message, (p.path, p.line if p.line is not None else p.offset))
            for result in results for p in result.problems]


def _add_preflight(splits: Sequence[Split], hyperparameters: dict, problems: list) -> None:
    """Preflight's findings on a job reading the first split as train and the second as validation."""
    from ..preflight.job import job_from_channels
    from ..preflight.run import preflight

    names = ("train", "validation")
    options, attribute_names = [], ()
    for name, split in zip(names, splits):
        channel = split.channel
        if channel.kind == "lst":
            options += [f"{name}={channel.root};application/x-image", f"{name}_lst={channel.paths[0]}"]
        else:
            options.append(f"{name}={split.data}")
            attribute_names = channel.attribute_names or attribute_names
    report = preflight(job_from_channels(hyperparameters, options, attribute_names=attribute_names))
    for finding in report.sorted_findings():
        number = names.index(finding.channel.removesuffix("_lst")) if finding.channel and \
            finding.channel.removesuffix("_lst") in names[:len(splits)] else 0
        key = (finding.path, finding.line if finding.line is not None else finding.offset)
        problems[number].append((finding.severity, f"preflight: {finding.where}",
                                 finding.message + (f"; change: {finding.fix}" if finding.fix else ""), key))


def _duplicates(scans: list[SplitScan], options: ReportOptions) -> tuple[list[Duplicate], dict]:
    starts = np.cumsum([0] + [s.count for s in scans])
    digests = np.concatenate([np.frombuffer(s.digests, np.uint64) for s in scans]) if scans else np.zeros(0, np.uint64)
    phashes = np.concatenate([np.frombuffer(s.phashes, np.uint64) for s in scans])
    decoded = np.concatenate([np.frombuffer(s.decoded, np.int8) for s in scans]).astype(bool)

    def place(i: int) -> tuple[int, int]:
        split = int(np.searchsorted(starts, i, side="right") - 1)
        return split, int(i - starts[split])

    found, counts = [], {"exact": 0, "near": 0, "across": 0}

    def note(duplicate: Duplicate) -> None:
        counts[duplicate.kind] += 1
        counts["across"] += duplicate.across
        if counts[duplicate.kind] <= options.kept_pairs:
            found.append(duplicate)

    for group in exact_groups(digests):
        for other in group[1:].tolist():
            note(Duplicate("exact", place(int(group[0])), place(other)))
    usable = np.flatnonzero(decoded)
    pairs, total = near_pairs(phashes[usable], options.near_distance, limit=options.kept_pairs)
    for i, j, d in pairs.tolist():
        a, b = int(usable[i]), int(usable[j])
        if digests[a] != digests[b]:  # same bytes: listed as exact
            note(Duplicate("near", place(a), place(b), d))
    counts["near"] += total - len(pairs)  # found beyond the kept ones (their splits are not known)
    return found, counts


def _shown_pairs(duplicates: list[Duplicate], limit: int) -> list[Duplicate]:
    """Across-split pairs first (leakage), then within; at most ``limit`` of each kind."""
    shown = []
    for kind in ("exact", "near"):
        ranked = sorted((d for d in duplicates if d.kind == kind), key=lambda d: (not d.across, d.distance))
        shown += ranked[:limit]
    return shown


def _draw_pairs(splits, duplicates, classes, pairs: int) -> dict[tuple[int, int], Thumb]:
    """Thumbnails of the images in the pairs shown: one more pass over the splits, reading bytes."""
    wanted: dict[int, set[int]] = {}
    for d in _shown_pairs(duplicates, pairs):
        for split, position in (d.first, d.second):
            wanted.setdefault(split, set()).add(position)
    drawn = {}
    for number, positions in wanted.items():
        last = max(positions)
        for position, example in enumerate(iter_examples(splits[number].channel, tolerant=True)):
            if position in positions:
                drawn[(number, position)] = Thumb(example.name, example.uri, label_text(example.labels, classes),
                                                  thumbnail_of(example.image))
            if position >= last:
                break
    return drawn


def _evaluate(predictor, split: Split, options: ReportOptions, classes: Sequence[str] | None):
    from ..evaluate.run import evaluate

    found = evaluate(predictor, iter_examples(split.channel, tolerant=True), top_k=options.top_k, threshold=options.threshold,
                     mistakes=options.mistakes)
    if classes is not None and len(classes) == len(found.classes):
        found.classes = list(classes)
    return found


def _history(training: str) -> list[dict]:
    """The per-epoch history of ``icformat train --json``'s output."""
    from ..errors import IcformatError

    with open_input(training, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    try:
        found = json.loads(text[text.index("{"):])
    except ValueError:
        raise IcformatError(f"{training}: not the JSON output of `icformat train --json`") from None
    history = found.get("history") if isinstance(found, dict) else None
    if not history:
        raise IcformatError(f"{training}: no per-epoch history in it (is it `icformat train --json`'s output?)")
    return history


def _where(scans: list[SplitScan], place: tuple[int, int]) -> str:
    return f"{scans[place[0]].name}#{place[1]}"
