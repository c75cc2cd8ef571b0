"""``icformat rec``: inspect, index, verify and extract RecordIO files."""
from __future__ import annotations

import dataclasses

import click

from ..recordio.writer import default_index_path
from ..recordio.index import scan_offsets, write_index
from ..recordio.extract import extract_rec
from ..recordio.info import iter_summaries, rec_info
from ..recordio.layout import describe_layout
from ..recordio.verify import verify_rec
from .common import (NON_NEGATIVE, all_option, counts_text, echo_findings, echo_json, fail, json_option, max_pixels_option,
                     output_file_checked, progress, record_count)


def register(cli: click.Group) -> None:
    cli.add_command(rec)


@click.group()
def rec() -> None:
    """Inspect, index, verify and extract MXNet RecordIO (.rec/.idx) files."""


@rec.command()
@click.argument("file")
@click.option("--decode", is_flag=True, help="Decode every image to report sizes and modes (RGB, L, CMYK...) and count undecodable ones.")
@max_pixels_option
@json_option
def info(file: str, decode: bool, as_json: bool) -> None:
    """Summarise FILE: records, bytes, layout, single/multi-label, label histogram, payload formats.

    In an InsightFace face set (record 0 announces the image and identity keys; see `rec verify`)
    labels, histogram and formats are those of the image records: the identities, not the headers."""
    with progress(total=record_count(file), desc="reading", unit="rec") as bar:
        result = rec_info(file, decode=decode, progress=bar.update)
    if as_json:
        echo_json(dataclasses.asdict(result))
        return
    widths = ", ".join(f"{k} label(s): {v:,} records" if k != "none" else f"no image header: {v:,} records"
                       for k, v in result.label_widths.items())
    click.echo(f"{result.path}: {result.records:,} records, {result.file_bytes:,} bytes")
    click.echo(f"  layout: {describe_layout(result.layout)}")
    of_images = " of the image records" if result.layout["kind"] != "plain" else ""
    click.echo(f"  labels{of_images}: {result.label_kind} ({widths or 'no records'})")
    click.echo(f"  label histogram: {counts_text(result.label_histogram)}")
    click.echo(f"  payload formats: {counts_text(result.formats)}")
    click.echo(f"  index: {'yes' if result.has_index else 'no'}")
    if decode:
        if result.min_hw:
            click.echo(
                f"  image sizes: {result.distinct_sizes:,} distinct; smallest side lengths {result.min_hw[0]:,}x{result.min_hw[1]:,}, "
                f"largest {result.max_hw[0]:,}x{result.max_hw[1]:,} (HxW)"
            )
            click.echo(f"  most common sizes: {counts_text(result.sizes)}")
        click.echo(f"  modes: {counts_text(result.modes)}; undecodable: {result.undecodable:,}")


@rec.command(name="ls")
@click.argument("file")
@click.option("--limit", type=NON_NEGATIVE, default=None, help="Show at most this many records.")
@json_option
def ls_(file: str, limit: int | None, as_json: bool) -> None:
    """List FILE's records: key, offset, label(s), payload size, format."""
    rows = []
    header = "# key\toffset\tlabel(s)\timage_bytes\tformat"
    for summary in iter_summaries(file):  # the header after the first record: a file that is no .rec prints nothing
        if limit is not None and summary.position >= limit:
            break
        if as_json:
            rows.append(dataclasses.asdict(summary))
            continue
        if header:
            click.echo(header)
            header = ""
        labels = "-" if summary.labels is None else ",".join(f"{v:g}" for v in summary.labels)
        click.echo(f"{summary.key}\t{summary.offset}\t{labels}\t{summary.payload_bytes}\t{summary.format}")
    if as_json:
        echo_json(rows)
    elif header:
        click.echo(header)


@rec.command()
@click.argument("file")
@click.option("-o", "--output", callback=output_file_checked, help="Index to write (default: FILE with .idx).")
@click.option(
    "--key",
    type=click.Choice(["auto", "id", "position"]),
    default="auto",
    show_default=True,
    help="Key column: the image id (as im2rec writes), the position (as rec2idx.py), or auto (id when distinct).",
)
@json_option
def index(file: str, output: str | None, key: str, as_json: bool) -> None:
    """Rebuild the .idx of FILE by scanning it."""
    keys, offsets = scan_offsets(file, key=key)
    dest = output or default_index_path(file)
    write_index(dest, keys, offsets)
    if as_json:
        echo_json({"index": dest, "records": len(offsets)})
    else:
        click.echo(f"wrote {dest}: {len(offsets):,} records")


@rec.command()
@click.argument("file")
@click.option("--index", "index_path", help="Index to check (default: FILE with .idx, when present).")
@click.option("--no-index", is_flag=True, help="Do not check any index.")
@click.option("--decode", is_flag=True, help="Decode every image (truncated or damaged JPEGs that MXNet still decodes are warnings).")
@max_pixels_option
@click.option("--raw", is_flag=True, help="Records are not image records: skip the 24-byte image-header checks.")
@click.option("--strict", is_flag=True, help="Warnings make the exit status 1 too.")
@all_option
@json_option
def verify(file: str, index_path: str | None, no_index: bool, decode: bool, raw: bool, strict: bool, show_all: bool, as_json: bool) -> None:
    """Check FILE's framing, image headers and index; list every problem with its byte offset.

    An InsightFace face set (MS1M, Glint360K: record 0 announces the image and identity keys) is
    recognised from its .idx: its header records are checked as such, not as images, and every
    announced image key must be in the index.

    Exit status 1 when any error is found (or, with --strict, any warning)."""
    with progress(total=record_count(file), desc="verifying", unit="rec") as bar:
        result = verify_rec(
            file, index=False if no_index else index_path, decode=decode, image_headers=not raw, progress=bar.update
        )
    if as_json:
        echo_json(result.to_dict())
    else:
        echo_findings(result.problems, show_all)
        status = "OK" if not result.problems else result.counts()
        layout = f"; layout: {describe_layout(result.layout)}" if result.layout and result.layout["kind"] != "plain" else ""
        click.echo(f"{file}: {result.records:,} records checked, {status}{layout}")
    if not result.ok or (strict and result.problems):
        fail(1)


@rec.command()
@click.argument("file")
@click.argument("outdir")
@click.option("--salvage", is_flag=True, help="A damaged or truncated FILE: keep the records before the damage (exit status 1).")
@json_option
def extract(file: str, outdir: str, salvage: bool, as_json: bool) -> None:
    """Write FILE's images to OUTDIR/images and a .lst that packs back to the same records.

    Every record is kept, whatever its number of labels: the header records of an InsightFace face
    set become lines with an empty file, so the repack printed at the end gives the same .rec and
    .idx byte for byte. OUTDIR appears only when the extraction succeeds (or, with --salvage, with
    what preceded damage)."""
    with progress(total=record_count(file), desc="extracting", unit="img") as bar:
        result = extract_rec(file, outdir, salvage=salvage, progress=bar.update)
    if as_json:
        echo_json(dataclasses.asdict(result))
    else:
        hint = " --pack-label" if result.multi_label else ""
        if result.layout["kind"] != "plain":
            click.echo(f"layout: {describe_layout(result.layout)}; header records kept as lines with an empty file")
        click.echo(f"extracted {result.records:,} records to {outdir}; repack with: "
                   f"icformat im2rec {result.lst_path} {outdir} --pass-through{hint}")
    if result.inexact:
        click.echo(f"icformat: warning: {result.inexact:,} record(s) store one label after the header or a nonzero id2, "
                   "which im2rec does not write: their repacked headers will differ", err=True)
    if result.damage:
        click.echo(f"icformat: error: {result.damage}; kept the {result.records:,} records before it", err=True)
        fail(1)
