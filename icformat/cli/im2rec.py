"""``icformat im2rec``: pack the images of a ``.lst`` into ``.rec`` + ``.idx``."""
from __future__ import annotations

import os

import click

from ..im2rec.pack import PackOptions
from ..im2rec.run import im2rec
from ..im2rec.plan import plan_packs
from ..image.resize import METHODS
from .common import echo_json, json_option, max_pixels_option, output_folder_checked, progress
from .engine import check_engine, engine_options, im2rec_on_spark


@click.command("im2rec")
@max_pixels_option
@click.argument("lst_or_prefix")
@click.argument("root")
@click.option("-o", "--out-prefix", callback=output_folder_checked,
              help="Output path without extension, or an existing folder (default: beside the .lst).")
@click.option("--resize", type=click.IntRange(min=0), default=0, show_default=True, help="Scale the shorter side to this many pixels (0: keep).")
@click.option("--center-crop", is_flag=True, help="Cut the centered square first (then --resize).")
@click.option("--interpolation", type=click.Choice(METHODS), default="bilinear", show_default=True,
              help="How --resize samples: bilinear is im2rec.py's (cv2.resize's default; the same bytes with or "
                   "without OpenCV); box averages every pixel under each output pixel (antialiased); bicubic, "
                   "lanczos and nearest as Pillow has them.")
@click.option("--quality", type=click.IntRange(0, 100), default=95, show_default=True, help="JPEG quality 1-100, or PNG compression 0-9 with --encoding .png.")
@click.option("--encoding", type=click.Choice([".jpg", ".png"]), default=".jpg", show_default=True, help="Image format in the records.")
@click.option("--color", type=click.Choice(["1", "0", "-1"]), default="1", show_default=True,
              help="1: colour (alpha dropped); 0: gray; -1: as stored (alpha kept, no EXIF rotation).")
@click.option("--pass-through", is_flag=True,
              help="Store the files' bytes untouched (no decoding; other image options ignored; an empty file as a record "
                   "without an image, as im2rec.py does).")
@click.option("--pack-label", is_flag=True,
              help="Store every label column in the record header (multi-label; detection lists, whose lines may hold any "
                   "number of labels).")
@click.option("--allow-absolute-paths", is_flag=True, help="Read absolute paths in the list as they are (MXNet's im2rec does); refused otherwise.")
@click.option("--num-workers", type=click.IntRange(min=1), default=None, help="Workers decoding and encoding images (default: all cores; processes, or threads for --pass-through and s3:// images).")
@click.option("--num-shards", type=click.IntRange(min=1), default=1, show_default=True, help="Split the list into this many parts...")
@click.option("--shard-index", type=click.IntRange(min=0), default=0, show_default=True, help="...and pack only this one (0-based).")
@click.option("--strict", is_flag=True, help="Stop at the first bad image (no output) instead of skipping it.")
@engine_options
@json_option
def im2rec_command(lst_or_prefix, root, out_prefix, resize, center_crop, interpolation, quality, encoding, color, pass_through, pack_label,
                   allow_absolute_paths, num_workers, num_shards, shard_index, strict, engine, spark_master, as_json) -> None:
    """Pack the images listed in LST_OR_PREFIX (a .lst, or a prefix of .lst files as MXNet's
    im2rec.py takes) from ROOT (a folder or an s3:// prefix) into OUT.rec + OUT.idx.

    Records follow the list order; each record's id and .idx key is the list's index. Bad images
    are skipped with a warning (exit status 0; --strict makes them fatal); labels that `lst
    validate` questions are reported the same way. Nothing packed is a failure (exit status 1, no
    output). Output appears only when the run completes. With --engine spark each of the
    --num-shards shards is one Spark task, and OUT-summary.json (records, bytes, skipped images,
    sha256 per shard) is written beside them.
    """
    options = PackOptions(resize=resize, center_crop=center_crop, resize_method=interpolation, quality=quality,
                          encoding=encoding, color=int(color),
                          pass_through=pass_through, pack_label=pack_label,
                          allow_absolute=allow_absolute_paths)
    if check_engine(engine, spark_master, shard_index=shard_index):
        return im2rec_on_spark(spark_master, plan_packs(lst_or_prefix, out_prefix), root, num_shards, as_json,
                               options=options, num_workers=num_workers, strict=strict)
    bar = progress(None, desc="im2rec", unit="img")

    def on_skip(skip) -> None:
        bar.clear()
        click.echo(f"icformat: warning: {skip}", err=True)

    def on_warning(problem) -> None:
        bar.clear()
        click.echo(f"icformat: warning: {problem.where()}: {problem.message}", err=True)

    def advance(n: int) -> None:
        bar.update(n)

    def start(lst_path: str, rows: int) -> None:
        bar.reset(total=rows)
        bar.set_description(os.path.basename(lst_path))

    try:
        reports = im2rec(lst_or_prefix, root, out_prefix, options=options, num_workers=num_workers, num_shards=num_shards,
                         shard_index=shard_index, strict=strict, progress=advance, on_skip=on_skip, on_start=start,
                         on_warning=on_warning)
    finally:
        bar.close()
    if as_json:
        echo_json([r.to_dict() for r in reports] if len(reports) > 1 else reports[0].to_dict())
        return
    for r in reports:
        skipped = f", {len(r.skipped):,} skipped" if r.skipped else ""
        path = f"; JPEGs re-encoded through {r.jpeg_path}" if r.jpeg_path else ""
        click.echo(f"{r.rec_path}: {r.written:,} of {r.rows:,} images{skipped}, {r.bytes_written / 1e6:,.1f} MB "
                   f"in {r.seconds:.1f} s ({r.images_per_second:,.0f} img/s); index {os.path.basename(r.idx_path)}{path}")


def register(cli: click.Group) -> None:
    cli.add_command(im2rec_command)

