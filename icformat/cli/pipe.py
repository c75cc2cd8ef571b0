"""``icformat pipe serve|write|read``: SageMaker pipe-mode channels on this machine."""
from __future__ import annotations

import sys

import click

from ..errors import IcformatError
from ..pipe.reader import PipeReader
from ..pipe.fifo import serve_channel
from ..pipe.wrap import write_pipe_stream
from .common import POSITIVE_SECONDS, echo_json, json_option, line_count, output_file_checked, progress

attribute_names_option = click.option(
    "--attribute-names",
    default=None,
    metavar="NAMES",
    help="The sources are augmented manifests with these AttributeNames (e.g. source-ref,class); "
    "without it they are .rec files.",
)
channel_option = click.option("--channel", default="train", show_default=True, help="Channel name (FIFOs are CHANNEL_0, CHANNEL_1, ...).")
epochs_option = click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="Number of epochs.")


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


@click.command("serve")
@click.argument("directory")
@click.argument("sources", nargs=-1, required=True)
@channel_option
@epochs_option
@attribute_names_option
@click.option("--timeout", type=POSITIVE_SECONDS, default=None, help="Seconds to wait for each epoch's reader (default: forever).")
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None, help="Parallel image fetches (default: 16 for s3:// objects, 1 for local files).")
@json_option
def serve_command(directory, sources, channel, epochs, attribute_names, timeout, workers, as_json):
    """Serve SOURCES (.rec files, folders or prefixes of .rec shards, or manifests; local or s3://)
    as SageMaker does in pipe mode:
    FIFOs DIRECTORY/CHANNEL_0, CHANNEL_1, ... one per epoch, each fed when its reader opens it."""

    def on_epoch(report) -> None:
        rows = f" ({report.stats.rows:,} rows)" if attribute_names else ""
        records = f"{report.stats.records:,} records{rows}, " if report.stats.records is not None else ""
        ended = "" if report.complete else " (the reader closed it early)"
        click.echo(f"{report.path}: {records}{_megabytes(report.stats.bytes)}{ended}", err=True)

    reports = serve_channel(
        directory, channel, list(sources), epochs=epochs, attribute_names=attribute_names,
        timeout=timeout, workers=workers, on_epoch=on_epoch,
    )
    if as_json:
        echo_json([{"epoch": r.epoch, "path": r.path, "complete": r.complete, **vars(r.stats)} for r in reports])
    else:
        click.echo(f"{channel}: served {len(reports):,} epoch(s) in {directory}")


@click.command("write")
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", callback=output_file_checked, required=True, help="File to write the stream to ('-' for stdout).")
@attribute_names_option
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None, help="Parallel image fetches (default: 16 for s3:// objects, 1 for local files).")
def write_command(sources, output, attribute_names, workers):
    """Write the exact pipe-mode stream of SOURCES to a file (one epoch), for inspection or replay."""
    total = sum(line_count(s) or 0 for s in sources) if attribute_names else None
    with progress(total=total or None, desc="pipe write", unit="row") as bar:
        if output == "-":
            stats = write_pipe_stream(sys.stdout.buffer, list(sources), attribute_names, workers=workers, on_row=bar.update)
            sys.stdout.buffer.flush()
            return
        stats = write_pipe_stream(output, list(sources), attribute_names, workers=workers, on_row=bar.update)
    records = f"{stats.records:,} records, " if stats.records is not None else ""
    click.echo(f"{output}: {records}{_megabytes(stats.bytes)}")


@click.command("read")
@click.argument("directory")
@channel_option
@epochs_option
@click.option("--attribute-names", default=None, metavar="NAMES", help="The channel carries a manifest with these AttributeNames.")
@click.option("--timeout", type=POSITIVE_SECONDS, default=60.0, show_default=True, help="Seconds to wait for each FIFO.")
@json_option
def read_command(directory, channel, epochs, attribute_names, timeout, as_json):
    """Read a pipe-mode channel as a training job would and count what each epoch holds.
    DIRECTORY holds the FIFOs CHANNEL_0, CHANNEL_1...; a stream file (from 'pipe write') is read
    at once instead, as each epoch.

    An epoch that ends inside a record, or holds nothing (its server failed, or the channel is
    empty: SageMaker fails such a job with 'Got empty batch from pipe'), is an error (exit status 1)."""
    reader = PipeReader(directory, channel, timeout=timeout, attribute_names=attribute_names, decode_labels=False)
    counts = []
    unit = "rows" if attribute_names else "records"
    with reader:
        for _ in range(epochs):
            path = reader.path
            count = sum(1 for _ in reader)
            counts.append({"path": path, "items": count})
            if not as_json:
                click.echo(f"{path}: {count:,} {unit}")
            if not count:
                raise IcformatError(f"{path}: the epoch held no {unit}; did its server fail? (an empty channel fails "
                                    "training with 'Got empty batch from pipe')")
    if as_json:
        echo_json(counts)


@click.group("pipe")
def pipe_group() -> None:
    """SageMaker pipe mode: serve a channel through FIFOs, write or read its byte stream."""


def register(cli: click.Group) -> None:
    for command in (serve_command, write_command, read_command):
        pipe_group.add_command(command)
    cli.add_command(pipe_group)
