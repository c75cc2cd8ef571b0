"""``icformat manifest validate``, ``lst2manifest``, ``manifest2lst``, ``manifest2rec``, ``rec2manifest``."""
from __future__ import annotations

import os

import click

from ..io.paths import is_uri, local_path
from ..manifest.refs import base_of, resolve_ref
from ..convert import lst_to_manifest, manifest_to_lst, manifest_to_rec, rec_to_manifest
from ..manifest.labels import LABEL_FORMATS, label_format_from_content_type
from ..manifest.validate import validate_manifest
from .common import all_option, echo_findings, echo_json, fail, json_option, line_count, output_file_checked, progress, record_count
from .engine import check_engine, engine_options, manifest2rec_on_spark, validate_manifest_on_spark


def _attribute_names(ctx, param, value):
    from ..errors import IcformatError
    from ..manifest.parse import parse_attribute_names

    try:
        return parse_attribute_names(value) if value is not None else None
    except IcformatError as exc:
        raise click.BadParameter(getattr(exc, "reason", None) or str(exc), ctx, param) from None


attribute_names_option = click.option(
    "--attribute-names",
    required=True,
    callback=_attribute_names,
    metavar="NAMES",
    help="AttributeNames of the channel, image reference first: e.g. source-ref,class (or a JSON list).",
)
label_format_option = click.option(
    "--label-format",
    type=click.Choice(LABEL_FORMATS),
    default=None,
    help="How label lists are read: multi-hot (SageMaker's default) or class-id (Ground Truth's lists).",
)
content_type_option = click.option(
    "--content-type",
    default=None,
    metavar="TYPE",
    help="The channel's ContentType, e.g. 'application/x-recordio; label-format=class-id' (sets the label format).",
)
num_classes_option = click.option("--num-classes", type=click.IntRange(min=1), default=None, help="Number of classes.")
workers_option = click.option("-j", "--workers", type=click.IntRange(min=1), default=None, help="Parallel fetches (default: 16 for s3:// objects, 1 for local files).")
index_attribute_option = click.option(
    "--index-attribute",
    default="index",
    show_default=True,
    help="Attribute holding the .lst index / record id ('' for none; rows without it are numbered 0, 1, ...).",
)
prefix_option = click.option("--prefix", required=True, metavar="URI",
                             help="s3:// URI or folder the image paths are relative to (a relative folder is read from "
                                  "the manifest's folder, as manifest references are).")


def resolve_label_format(label_format: str | None, content_type: str | None) -> str | None:
    """``--label-format`` or the one named by ``--content-type`` (they must agree)."""
    if content_type is None:
        return label_format
    from_type = label_format_from_content_type(content_type)
    if label_format is not None and label_format != from_type:
        raise click.UsageError(f"--label-format {label_format} contradicts --content-type {content_type!r}")
    return from_type


def default_output(src: str, ext: str) -> str:
    """``data/train.lst`` -> ``data/train.manifest`` (URIs alike)."""
    return os.path.splitext(src)[0] + ext


def report(as_json: bool, output: str, **figures) -> None:
    if as_json:
        echo_json({"output": output, **figures})
    else:
        click.echo(f"{output}: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in figures.items()))


@click.command("validate")
@click.argument("manifest")
@attribute_names_option
@num_classes_option
@label_format_option
@content_type_option
@click.option("--check-refs", is_flag=True, help="Also check that every image reference can be read (local or s3://).")
@click.option("--strict", is_flag=True, help="Warnings (e.g. an image listed twice) make the exit status 1 too.")
@workers_option
@engine_options
@all_option
@json_option
def validate_command(manifest, attribute_names, num_classes, label_format, content_type, check_refs, strict, workers, engine, spark_master,
                     show_all, as_json):
    """List every problem of an augmented MANIFEST, with its line, then a summary; exit status 1
    when there is any error (or, with --strict, any warning). With --engine spark the lines are
    checked in Spark tasks (the same report)."""
    if check_engine(engine, spark_master):
        result = validate_manifest_on_spark(spark_master, manifest, attribute_names, num_classes=num_classes,
                                            label_format=resolve_label_format(label_format, content_type), check_refs=check_refs,
                                            workers=workers)
        return _print_validation(result, as_json, strict, show_all)
    with progress(total=line_count(manifest), desc="checking lines", unit="line") as bar:
        def refs_start(total: int) -> None:
            bar.reset(total=total)
            bar.set_description("checking references")
            bar.unit = "ref"

        result = validate_manifest(
            manifest,
            attribute_names,
            num_classes=num_classes,
            label_format=resolve_label_format(label_format, content_type),
            check_refs=check_refs,
            workers=workers,
            progress=bar.update,
            on_start=refs_start,
        )
    _print_validation(result, as_json, strict, show_all)


def _print_validation(result, as_json: bool, strict: bool, show_all: bool) -> None:
    if as_json:
        echo_json(result.to_dict())
    else:
        echo_findings(result.problems, show_all)
        click.echo(result.summary())
    if not result.ok or (strict and result.problems):
        fail(1)


@click.command("lst2manifest")
@click.argument("lst")
@click.option("-o", "--output", callback=output_file_checked, default=None, help="Manifest to write (default: LST with .manifest).")
@prefix_option
@click.option("--ref-attribute", default="source-ref", show_default=True, help="Attribute for the image URI.")
@click.option("--label-attribute", default="class", show_default=True, help="Attribute for the label.")
@label_format_option
@index_attribute_option
@json_option
def lst2manifest_command(lst, output, prefix, ref_attribute, label_attribute, label_format, index_attribute, as_json):
    """Convert a .lst file into an augmented manifest (references = PREFIX/path)."""
    output = output or default_output(lst, ".manifest")
    with progress(total=line_count(lst), desc="lst2manifest", unit="line") as bar:
        count = lst_to_manifest(
            lst, output, prefix=prefix, ref_attribute=ref_attribute, label_attribute=label_attribute,
            label_format=label_format, index_attribute=index_attribute or None, progress=bar.update,
        )
    report(as_json, output, lines=count)
    _check_local_prefix(prefix, output)


def _check_local_prefix(prefix: str, manifest: str) -> None:
    """A relative local prefix is read from the manifest's folder: warn when no folder is there."""
    if is_uri(prefix) or is_uri(manifest) or os.path.isabs(local_path(prefix)):
        return
    folder = resolve_ref(prefix, base_of(manifest))
    if not os.path.isdir(folder):
        click.echo(f"icformat: warning: references are relative to the manifest's folder, and {os.path.relpath(folder)} is not a "
                   f"folder; give --prefix relative to {os.path.dirname(manifest) or '.'}, or an absolute path", err=True)


@click.command("manifest2lst")
@click.argument("manifest")
@click.option("-o", "--output", callback=output_file_checked, default=None, help=".lst to write (default: MANIFEST with .lst).")
@attribute_names_option
@prefix_option
@label_format_option
@content_type_option
@num_classes_option
@index_attribute_option
@click.option("--style", type=click.Choice(["int", "mxnet"]), default="int", show_default=True, help="Label text: 1 or 1.000000.")
@json_option
def manifest2lst_command(manifest, output, attribute_names, prefix, label_format, content_type, num_classes, index_attribute, style, as_json):
    """Convert an augmented manifest into a .lst (paths relative to PREFIX)."""
    output = output or default_output(manifest, ".lst")
    with progress(total=line_count(manifest), desc="manifest2lst", unit="line") as bar:
        count = manifest_to_lst(
            manifest, output, attribute_names=attribute_names, prefix=prefix,
            label_format=resolve_label_format(label_format, content_type), num_classes=num_classes,
            index_attribute=index_attribute or None, style=style, progress=bar.update,
        )
    report(as_json, output, lines=count)


@click.command("manifest2rec")
@click.argument("manifest")
@click.option("-o", "--output", callback=output_file_checked, required=True, help=".rec to write (local or s3://); its .idx goes beside it.")
@attribute_names_option
@label_format_option
@content_type_option
@num_classes_option
@index_attribute_option
@click.option("--idx/--no-idx", default=True, show_default=True, help="Write the .idx index.")
@click.option("--check-images/--no-check-images", default=True, show_default=True, help="Refuse objects that are not images.")
@click.option("--num-shards", type=click.IntRange(min=1), default=1, show_default=True,
              help="Split the manifest's rows into this many parts (named as im2rec's shards; with --engine spark, one task each)...")
@click.option("--shard-index", type=click.IntRange(min=0), default=0, show_default=True, help="...and pack only this one (0-based).")
@click.option("--skip-bad-rows", is_flag=True, help="Leave out bad rows (bad line or label, unreadable or non-image reference) with a warning each, instead of stopping.")
@workers_option
@engine_options
@json_option
def manifest2rec_command(manifest, output, attribute_names, label_format, content_type, num_classes, index_attribute, idx, check_images,
                         num_shards, shard_index, skip_bad_rows, workers, engine, spark_master, as_json):
    """Pack the images an augmented manifest references into a RecordIO .rec (bytes unchanged).
    With --num-shards N, OUTPUT-0000i-of-0000N.rec holds the rows of shard i; with --engine spark
    every shard is packed, one Spark task each, and OUTPUT-summary.json is written beside them."""
    if check_engine(engine, spark_master, shard_index=shard_index):
        return manifest2rec_on_spark(spark_master, manifest, output, num_shards, as_json, attribute_names=attribute_names,
                                     label_format=resolve_label_format(label_format, content_type), num_classes=num_classes,
                                     index_attribute=index_attribute or None, index=idx, workers=workers, check_images=check_images,
                                     on_error="skip" if skip_bad_rows else "raise")
    with progress(total=line_count(manifest) if num_shards == 1 else None, desc="manifest2rec", unit="img") as bar:
        stats = manifest_to_rec(
            manifest, output, attribute_names=attribute_names,
            label_format=resolve_label_format(label_format, content_type), num_classes=num_classes,
            index_attribute=index_attribute or None, index=idx, workers=workers, check_images=check_images,
            progress=bar.update, num_shards=num_shards, shard_index=shard_index, on_error="skip" if skip_bad_rows else "raise",
        )
    for problem in stats.skipped:
        click.echo(f"icformat: warning: skipped {problem}", err=True)
    if as_json:
        echo_json({"output": stats.rec_path, "records": stats.records, "image_bytes": stats.image_bytes,
                   "skipped": [p.to_dict() for p in stats.skipped]})
    else:
        skipped = {"skipped": len(stats.skipped)} if stats.skipped else {}
        report(False, stats.rec_path, records=stats.records, image_bytes=stats.image_bytes, **skipped)


@click.command("rec2manifest")
@click.argument("rec")
@click.option("-o", "--output", callback=output_file_checked, default=None, help="Manifest to write (default: REC with .manifest).")
@click.option("--prefix", required=True, metavar="URI", help="s3:// URI or folder where the images are stored.")
@click.option("--ref-attribute", default="source-ref", show_default=True, help="Attribute for the image URI.")
@click.option("--label-attribute", default="class", show_default=True, help="Attribute for the label.")
@label_format_option
@index_attribute_option
@workers_option
@json_option
def rec2manifest_command(rec, output, prefix, ref_attribute, label_attribute, label_format, index_attribute, workers, as_json):
    """Store the images of a .rec under PREFIX and write an augmented manifest for them."""
    output = output or default_output(rec, ".manifest")
    with progress(total=record_count(rec), desc="rec2manifest", unit="img") as bar:
        count = rec_to_manifest(
            rec, output, prefix=prefix, ref_attribute=ref_attribute, label_attribute=label_attribute,
            label_format=label_format, index_attribute=index_attribute or None, workers=workers, progress=bar.update,
        )
    report(as_json, output, lines=count)


@click.group("manifest")
def manifest_group() -> None:
    """Augmented manifests (JSON Lines) for SageMaker pipe mode."""


def register(cli: click.Group) -> None:
    manifest_group.add_command(validate_command)
    cli.add_command(manifest_group)
    for command in (lst2manifest_command, manifest2lst_command, manifest2rec_command, rec2manifest_command):
        cli.add_command(command)
