"""The report's sections, each from what the scans, validators, duplicate search and evaluation found."""
from __future__ import annotations

import numpy as np

from ..evaluate.run import class_names
from . import charts, html
from .look import thumbnail_of
from .scan import ASPECT_BINS, SIZE_BINS, SplitScan, Thumb

ODD_TITLES = {"tiny": "Tiny images", "elongated": "Extremely elongated images", "near-uniform": "Nearly uniform images"}


def overview(scans: list[SplitScan], problems: list[list], counts: dict) -> str:
    rows = [[s.name, s.source, s.count, len(s.class_counts), s.undecodable_count, len(found)]
            for s, found in zip(scans, problems)]
    facts = (f"{counts['exact']:,} exact and {counts['near']:,} near-duplicate pairs, {counts['across']:,} of them "
             "across splits.")
    return html.section("Splits", html.table(["split", "data", "images", "classes", "undecodable", "problems"], rows,
                                             left=2, data="splits"), html.paragraph(facts), anchor="splits")


def balance(scans: list[SplitScan]) -> str:
    labels = sorted({label for s in scans for label in s.class_counts}, key=charts.natural_key)
    rows = [[label] + [s.class_counts.get(label, 0) for s in scans] for label in labels]
    picture = charts.class_balance({s.name: dict(s.class_counts) for s in scans})
    return html.section("Class balance", html.chart(picture, "images per class"),
                        html.table(["class"] + [s.name for s in scans], rows, data="classes"), anchor="balance")


def sizes(scans: list[SplitScan]) -> str:
    size_labels = [f"{v:,}" if v < 1 << 30 else "" for v in SIZE_BINS.tolist()]
    aspect_labels = [f"{v:g}" if v < 1e9 else "" for v in ASPECT_BINS.tolist()]
    return html.section(
        "Image sizes and aspect ratios",
        html.chart(charts.histograms("width (pixels)", SIZE_BINS, {s.name: s.widths for s in scans}, size_labels), "widths"),
        html.chart(charts.histograms("height (pixels)", SIZE_BINS, {s.name: s.heights for s in scans}, size_labels),
                   "heights"),
        html.chart(charts.histograms("aspect ratio (width / height)", ASPECT_BINS, {s.name: s.aspects for s in scans},
                                     aspect_labels), "aspect ratios"), anchor="sizes")


def samples(scans: list[SplitScan]) -> str:
    parts = []
    for s in scans:
        parts.append(html.heading(f"{s.name}: a random sample per class"))
        parts.append(html.grid(t for label in sorted(s.samples, key=charts.natural_key) for t in s.samples[label]))
    return html.section("Thumbnails per class", *parts, anchor="samples")


SHOWN_PROBLEMS = 200  # per split; the validators' own --json lists them all


def problems(scans: list[SplitScan], found: list[list]) -> str:
    parts = []
    for s, problems_of_split in zip(scans, found):
        items = [html.problem_line(severity, where, message, s.at_places.get(key))
                 for severity, where, message, key in problems_of_split[:SHOWN_PROBLEMS]]
        if len(problems_of_split) > SHOWN_PROBLEMS:
            items.append(f"<li>... and {len(problems_of_split) - SHOWN_PROBLEMS:,} more (the validator's --json "
                         "lists every one)</li>")
        undecodable = [html.problem_line("error", t.uri, t.note, t) for t in s.undecodable]
        parts.append(html.heading(f"{s.name}: {len(problems_of_split):,} problem(s) from the validators, "
                                  f"{s.undecodable_count:,} undecodable image(s)"))
        parts.append("<ul>" + "".join(items + undecodable) + "</ul>" if items or undecodable
                     else html.paragraph("none", "muted"))
    return html.section("Problems", *parts, anchor="problems")


def duplicates(scans, shown, drawn, counts, near_distance: int) -> str:
    parts = [html.paragraph(f"Exact duplicates: the same bytes. Near duplicates: perceptual hashes (phash) within "
                            f"{near_distance} of 64 bits (resized, re-encoded, slightly cropped copies). Pairs across "
                            "splits (leakage between training and validation) come first.")]
    if any(s.odd_counts.get("tiny") for s in scans):
        parts.append(html.paragraph("Some images are tiny: phash sees little detail in them, so tiny images that are "
                                    "merely alike can pair up as near duplicates.", "note"))
    for kind in ("exact", "near"):
        pairs = [d for d in shown if d.kind == kind]
        parts.append(html.heading(f"{kind.capitalize()} duplicates: {counts[kind]:,} pair(s)"
                                  + (f", {len(pairs)} shown" if counts[kind] > len(pairs) else "")))
        cards = []
        for d in pairs:
            where = f"{scans[d.first[0]].name} / {scans[d.second[0]].name}"
            caption = f"{'ACROSS ' if d.across else ''}{where}" + (f", distance {d.distance}" if kind == "near" else "")
            cards.append(html.pair(drawn[d.first], drawn[d.second], caption))
        parts.append('<div class="grid">' + "".join(cards) + "</div>")
    return html.section("Duplicates", *parts, anchor="duplicates")


def oddities(scans: list[SplitScan]) -> str:
    parts = []
    for s in scans:
        for kind, title in ODD_TITLES.items():
            if s.odd_counts.get(kind):
                parts.append(html.heading(f"{s.name}: {title.lower()}: {s.odd_counts[kind]:,}"))
                parts.append(html.grid(s.odd[kind]))
        if s.mostly_colour and s.gray_count:
            parts.append(html.heading(f"{s.name}: grayscale images in a colour set: {s.gray_count:,}"))
            parts.append(html.grid(s.gray_thumbs))
    if not parts:
        parts.append(html.paragraph("No tiny, elongated, nearly uniform or stray grayscale image.", "muted"))
    return html.section("Odd images", *parts, anchor="odd")


def model(evaluation) -> str:
    found = evaluation.summary()
    names = found["classes"]
    parts = [html.paragraph(f"{found['model']} on {found['images']:,} images ({found['backend']}), the last split.")]
    if found["multi_label"]:
        rows = [[r["class"], r["average_precision"] if r["average_precision"] is not None else "n/a", r["precision"],
                 r["recall"], r["f1"], int(r["support"])] for r in found["per_class"]]
        parts.append(html.table(["class", "AP", "precision", "recall", "F1", "support"], rows, data="metrics"))
    else:
        tops = ", ".join(f"top-{k} {v:.4f}" for k, v in found["top_k"].items())
        parts.append(html.paragraph(f"accuracy {found['accuracy']:.4f} ({tops})"))
        parts.append(html.chart(charts.confusion(np.asarray(found["confusion_matrix"]), names), "confusion matrix"))
        rows = [[r["class"], r["precision"], r["recall"], r["f1"], int(r["support"])] for r in found["per_class"]]
        parts.append(html.table(["class", "precision", "recall", "F1", "support"], rows, data="metrics"))
    parts.append(html.heading(f"The {len(evaluation.mistakes)} most confident mistakes"))
    cards = [Thumb(m.name, m.uri, f"true {class_names(m.label, names)}", thumbnail_of(m.image),
                   f"predicted {class_names(m.predicted, names)} (p={m.confidence:.2f})") for m in evaluation.mistakes]
    parts.append(html.grid(cards))
    return html.section("Model", *parts, anchor="model")


