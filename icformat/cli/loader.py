"""``icformat loader``: run the data loader over a data set without training, to check that
every record loads and to see how fast."""
from __future__ import annotations

import dataclasses
import warnings

import click

from ..recordio.layout import describe_layout
from .common import NON_NEGATIVE, POSITIVE, SHAPE, echo_json, fail, json_option, progress
from .common import max_pixels_option


def register(cli: click.Group) -> None:
    cli.add_command(loader)


@click.group()
def loader() -> None:
    """Run icformat's image loader (decode + augment in worker processes) over a data set."""


@loader.command()
@click.argument("source")
@max_pixels_option
@click.option("--root", default=None, help="Image folder for a .lst source (default: the .lst's folder).")
@click.option("--batch-size", type=POSITIVE, default=128, show_default=True, help="Images per batch.")
@click.option("--data-shape", type=SHAPE, default="3,224,224", show_default=True, help="channels,height,width (SageMaker's image_shape; 1 or 3 channels).")
@click.option("--resize", type=POSITIVE, default=None, help="Shorter side in pixels before cropping (at least the crop size).")
@click.option(
    "--augmentation-type",
    type=click.Choice(["crop", "crop_color", "crop_color_transform"]),
    default=None,
    help="SageMaker's augmentation_type; without it, a centre crop.",
)
@click.option("--dtype", type=click.Choice(["float32", "uint8"]), default="float32", show_default=True)
@click.option("--epochs", type=POSITIVE, default=1, show_default=True)
@click.option("--max-batches", type=POSITIVE, default=None, help="Stop each epoch after this many batches.")
@click.option("--num-workers", type=NON_NEGATIVE, default=None, help="Worker processes (default: one per core; 0: in this process).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-shuffle", is_flag=True, help="Read records in file order.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record (exit status 1) instead of skipping it.")
@click.option("--label-width", type=POSITIVE, default=None,
              help="Labels per record (default: those of the first image record; records with another count are skipped).")
@json_option
def run(source, root, batch_size, data_shape, resize, augmentation_type, dtype, epochs, max_batches, num_workers, seed,
        no_shuffle, strict, label_width, as_json) -> None:
    """Load SOURCE (.rec, .lst or FIFO) for --epochs and report images, skipped records and images/s.

    An InsightFace face set (.rec + .idx whose record 0 announces the image and identity keys) loads
    its image records only, as InsightFace's MXFaceDataset does: the header records are no images."""
    from ..loader.batch import BadRecordWarning
    from ..loader.loader import ImageLoader
    from ..loader.drain import drain
    from ..loader.workers import StartMethodWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadRecordWarning)  # counted and listed below instead
        warnings.simplefilter("ignore", StartMethodWarning)  # the CLI lets the loader choose; start_method= is the library's
        with ImageLoader(
            source, batch_size, data_shape, resize=resize, augmentation_type=augmentation_type, dtype=dtype,
            num_workers=num_workers, seed=seed, shuffle=not no_shuffle, strict=strict, root=root, label_width=label_width,
        ) as data:
            layouts = [layout.to_dict() for layout in getattr(data.source, "layouts", [])]
            total = _total(data, epochs, max_batches)
            with progress(total=total, desc="loading", unit="img") as bar:
                report = drain(data, epochs=epochs, max_batches=max_batches, progress=bar.update)
    if as_json:
        echo_json({**dataclasses.asdict(report), "images_per_second": report.images_per_second, "label_width": data.label_width,
                   "layouts": layouts})
    else:
        click.echo(
            f"{source}: {report.images:,} images in {report.batches:,} batches over {report.epochs:,} epoch(s), "
            f"{report.seconds:.2f} s, {report.images_per_second:,.0f} images/s "
            f"(first batch after {report.first_batch_seconds:.2f} s)"
        )
        click.echo(f"  skipped records: {report.skipped:,}")
        for layout in layouts:
            if layout["kind"] != "plain":
                click.echo(f"  layout: {describe_layout(layout)}; header records not loaded")
        for message in report.errors[:20]:
            click.echo(f"    {message}")
    if report.skipped:
        fail(1)


def _total(data, epochs: int, max_batches: int | None) -> int | None:
    per_epoch = data.num_samples
    if per_epoch is None:  # a stream: no known length
        return None
    if max_batches is not None:
        per_epoch = min(per_epoch, max_batches * data.batch_size)
    return per_epoch * epochs
