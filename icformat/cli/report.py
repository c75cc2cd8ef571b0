"""``icformat report``: one self-contained HTML page about a data set (and a model, a training run)."""
from __future__ import annotations

import os

import click

from .common import echo_json, json_option, output_file_checked, progress
from .evaluate import with_data_options

EPILOG = """\b
Examples:
  icformat report train.rec val.rec -o report.html
  icformat report train=data_train.lst validation=data_val.lst --root photos/ -o report.html
  icformat report train.rec val.rec --model model/model.tar.gz --training train.json \\
      --hyperparameters hp.json -o report.html
"""


def _splits(inputs, root, attribute_names, label_format):
    from ..report.build import Split
    from ..train.data import data_channel

    named = []
    for n, item in enumerate(inputs):
        name, sep, data = item.partition("=")
        if not sep or "/" in name or not name:
            name, data = (("train", "validation")[n] if len(inputs) == 2 else
                          "data" if len(inputs) == 1 else os.path.basename(item.rstrip("/")) or f"split{n}"), item
        named.append(Split(name, data, data_channel(name, data, root=root, attribute_names=attribute_names,
                                                    label_format=label_format)))
    names = [s.name for s in named]
    if len(set(names)) != len(names):
        raise click.UsageError(f"two inputs are named the same ({', '.join(names)}); name them NAME=DATA")
    return named


@click.command("report", epilog=EPILOG)
@click.argument("inputs", nargs=-1, required=True, metavar="[NAME=]DATA...")
@click.option("-o", "--output", required=True, callback=output_file_checked, help="The HTML file to write (or s3://).")
@with_data_options
@click.option("--model", "-m", help="Also evaluate this model (model.tar.gz or .onnx) on the last split: confusion "
                                    "matrix and mistakes.")
@click.option("--classes", help="Class names, one per line in label order (PREFIX.classes from `lst make`).")
@click.option("--training", metavar="JSON", help="The output of `icformat train --json`: accuracy (and loss) curves.")
@click.option("--hyperparameters", "hp_file", metavar="FILE", help="hyperparameters.json: add preflight's findings on "
                                                                    "a job training on the first split, validating on the second.")
@click.option("--check-images", is_flag=True, help="The validators decode every image too (slower).")
@click.option("--near-distance", type=click.IntRange(0, 32), default=None,
              help="phash bits (of 64) two near duplicates may differ in [default: 8].")
@click.option("--thumbs-per-class", type=click.IntRange(min=0), default=4, show_default=True,
              help="Random thumbnails shown per class and split.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Threads decoding images [default: 2].")
@json_option
def report_command(inputs, output, root, attribute_names, label_format, model, classes, training, hp_file, check_images,
                   near_distance, thumbs_per_class, workers, as_json) -> None:
    """Write one HTML file (no network needed to open it) about DATA: a .rec (or shards), a .lst
    with its images, or an augmented manifest; several inputs are splits (two: train and
    validation; or name them NAME=DATA).

    Per split: counts, class balance, image sizes and aspect ratios, thumbnails per class; every
    problem `rec verify`, `lst validate` or `manifest validate` finds (and `preflight`, given
    --hyperparameters), with a thumbnail; exact and near-duplicate images within and across splits;
    tiny, elongated, nearly uniform and stray grayscale images. With --model: the confusion matrix
    and the most confident mistakes on the last split; with --training: the training curves.
    """
    from dataclasses import replace

    from ..lst.make import read_classes_file
    from ..report.build import ReportOptions, write_report
    from ..report.scan import ScanOptions

    splits = _splits(inputs, root, attribute_names, label_format)
    hyperparameters = None
    if hp_file:
        from ..preflight.job import read_hyperparameters_file

        hyperparameters = read_hyperparameters_file(hp_file)
    options = ReportOptions(scan=ScanOptions(thumbs_per_class=thumbs_per_class, workers=workers), check_images=check_images)
    if near_distance is not None:
        options = replace(options, near_distance=near_distance)
    names = read_classes_file(classes) if classes else None
    with progress(None, desc="report", unit="img") as bar:
        result = write_report(splits, output, model=model, classes=names, hyperparameters=hyperparameters,
                              training=training, options=options, progress=bar.update)
    if as_json:
        echo_json(result.to_dict())
    else:
        counts = ", ".join(f"{name} {count:,}" for name, count in result.images.items())
        click.echo(f"{output}: {result.size_bytes / 1e6:.1f} MB; images: {counts}; {result.problems:,} problem(s); "
                   f"{result.exact_duplicates:,} exact and {result.near_duplicates:,} near-duplicate pair(s), "
                   f"{result.across_splits:,} across splits")


def register(group: click.Group) -> None:
    group.add_command(report_command)
