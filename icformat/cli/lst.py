"""``icformat lst make|validate|convert``: build ``.lst`` files from image folders, check them, rewrite them."""
from __future__ import annotations

import click

from ..lst.parse import read_lst
from ..lst.format import write_lst
from ..lst.parse import require_rows
from ..lst.make import DEFAULT_EXTS, IM2REC_SEED, make_lst
from ..lst.validate import validate_lst
from .common import SHAPE, all_option, echo_findings, echo_json, fail, json_option, max_pixels_option, progress
from .engine import check_engine, engine_options, validate_lst_on_spark


@click.group("lst")
def lst_group() -> None:
    """Make, validate and convert .lst image lists (index, label(s), relative path)."""


@lst_group.command("make")
@click.argument("prefix")
@click.argument("root")
@click.option("--recursive", is_flag=True, help="One class per sub-folder holding images (sorted walk); else only ROOT's own files, label 0.")
@click.option("--exts", multiple=True, default=DEFAULT_EXTS, show_default=True,
              help="Image extensions, case-insensitive (repeat the option or separate with commas).")
@click.option("--train-ratio", type=click.FloatRange(0, 1), default=1.0, show_default=True, help="Share of each chunk for PREFIX_train.lst.")
@click.option("--test-ratio", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="Share of each chunk for PREFIX_test.lst.")
@click.option("--stratify", is_flag=True, help="Split each class by the ratios, so every class has its share in each list (needs --train-ratio below 1).")
@click.option("--chunks", type=click.IntRange(min=1), default=1, show_default=True, help="Split into this many lists (PREFIX_0.lst ...).")
@click.option("--no-shuffle", is_flag=True, help="Keep the walk order (default: shuffled exactly as im2rec.py does).")
@click.option("--seed", type=int, default=IM2REC_SEED, show_default=True, help="Shuffle seed (100 reproduces im2rec.py's order).")
@click.option("--label-style", type=click.Choice(["int", "mxnet"]), default="int", show_default=True,
              help="Labels as 1 (int) or 1.000000 (as MXNet 1.x's im2rec writes).")
@json_option
def make_command(prefix, root, recursive, exts, train_ratio, test_ratio, stratify, chunks, no_shuffle, seed, label_style, as_json) -> None:
    """Walk ROOT (a folder or an s3:// prefix) and write PREFIX.lst (or PREFIX_train.lst,
    PREFIX_val.lst, PREFIX_test.lst, PREFIX_<chunk>...) as `im2rec.py --list` does, plus
    PREFIX.classes (class names, one per line, in label order). Prints each class folder and its
    label. --stratify splits each class by the ratios (the default split is im2rec's)."""
    if train_ratio < 1.0 and train_ratio + test_ratio > 1.0:  # (a train ratio of 1 ignores the test ratio, as im2rec)
        raise click.UsageError(f"--train-ratio {train_ratio} plus --test-ratio {test_ratio} is more than 1")
    if stratify and train_ratio == 1.0:
        raise click.UsageError("--stratify needs --train-ratio below 1 (with a train ratio of 1 nothing is split)")
    with progress(None, desc="listing", unit="file") as bar:
        result = make_lst(prefix, root, recursive=recursive, exts=exts, train_ratio=train_ratio, test_ratio=test_ratio,
                          chunks=chunks, shuffle=not no_shuffle, seed=seed, style=label_style, stratify=stratify,
                          progress=bar.update)
    if as_json:
        echo_json({"images": result.images, "files": result.files, "classes": result.classes, "classes_file": result.classes_path})
        return
    if recursive:
        for label, name in enumerate(result.classes):
            click.echo(f"{name} {label}")
    for path, count in result.files.items():
        click.echo(f"wrote {path} ({count:,} images)", err=True)


@lst_group.command("validate")
@max_pixels_option
@click.argument("lst_file")
@click.option("--root", help="Image folder or s3:// prefix: check that every file is there.")
@click.option("--multi-label/--single-label", "multi_label", default=None,
              help="Rows are multi-hot (default: decided by the number of label columns).")
@click.option("--num-classes", type=click.IntRange(min=1), help="Number of classes (as the num_classes hyperparameter).")
@click.option("--detection/--no-detection", default=None,
              help="Rows are object-detection labels (header width, object width, header, objects; any count per line) as GluonCV's "
                   "and im2rec.py --pack-label take them (default: decided by the first line).")
@click.option("--check-images", is_flag=True, help="Decode every image (needs --root): corrupt, truncated, too small, colour modes.")
@click.option("--image-shape", type=SHAPE, help="C,H,W as SageMaker's image_shape: images smaller than H x W are errors (with --check-images).")
@click.option("--resize", type=click.IntRange(min=0), default=0, help="Shorter side the images are resized to before the size check.")
@click.option("--num-workers", type=click.IntRange(min=1), default=None, help="Processes decoding images (default: all cores).")
@click.option("--strict", is_flag=True, help="Warnings make the exit status 1 too.")
@engine_options
@all_option
@json_option
def validate_command(lst_file, root, multi_label, num_classes, detection, check_images, image_shape, resize, num_workers, strict, engine,
                     spark_master, show_all, as_json) -> None:
    """Report every problem of LST_FILE with its line number, then a summary; exit status 1 when
    there is any error (or, with --strict, any warning).

    A detection list (GluonCV's im2rec, im2rec.py --pack-label: per line the header width A >= 2, the
    object width B >= 5, header extras, then objects of B labels each) may hold a different number
    of labels on each line; its widths, lengths (A plus whole objects) and boxes are checked as
    MXNet's ImageDetIter reads them."""
    if check_images and not root:
        raise click.UsageError("--check-images needs --root")
    if (image_shape or resize) and not check_images:
        raise click.UsageError("--image-shape and --resize apply to --check-images; add it (and --root)")
    bar = progress(None, desc="checking images", unit="img") if check_images and engine == "local" else None
    try:
        if check_engine(engine, spark_master, num_workers=num_workers):
            if detection:
                raise click.UsageError("--detection checks run with --engine local")
            result = validate_lst_on_spark(spark_master, lst_file, root, multi_label=multi_label, num_classes=num_classes,
                                           check_images=check_images, image_shape=image_shape, resize=resize)
        else:
            result = validate_lst(lst_file, root, multi_label=multi_label, num_classes=num_classes, detection=detection,
                                  check_images=check_images, image_shape=image_shape, resize=resize, num_workers=num_workers,
                                  progress=bar.update if bar is not None else None,
                                  on_start=(lambda total: bar.reset(total=total)) if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        echo_json(result.to_dict())
    else:
        echo_findings(result.problems, show_all)
        click.echo(result.summary())
    if not result.ok or (strict and result.problems):
        fail(1)


@lst_group.command("convert")
@click.argument("src")
@click.argument("dest")
@click.option("--label-style", type=click.Choice(["int", "mxnet"]), default="int", show_default=True,
              help="Write labels as 1 (int) or 1.000000 (MXNet 1.x).")
def convert_command(src, dest, label_style) -> None:
    """Rewrite SRC as DEST: normalised tabs and line ends, labels in the chosen style."""
    table = require_rows(read_lst(src, ragged=True))
    count = write_lst(dest, table, style=label_style)
    click.echo(f"wrote {dest} ({count:,} lines)")


def register(cli: click.Group) -> None:
    cli.add_command(lst_group)
