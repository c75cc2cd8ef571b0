"""``icformat rec2wds|wds2rec|rec2parquet|parquet2rec``: leave RecordIO (or come back) without re-encoding."""
from __future__ import annotations

import click

from .common import BYTE_SIZE, POSITIVE, echo_json, json_option, output_file_checked, progress, record_count
from .engine import check_engine, engine_options, interop_on_spark

_SHARD_HELP = "Start a new shard after this many records."
_BYTES_HELP = "Start a new shard before it would pass this size (1GB, 500MB, 64MiB or a number of bytes)."


def _sources_total(sources) -> int | None:
    """Records in local ``.rec`` sources with a ``.idx`` (the progress bar's total), else None."""
    from ..interop.source import list_sources

    counts = [record_count(shard) for shard in list_sources(sources)]
    return None if None in counts else sum(counts)


def _say_skips_and_notes(result) -> None:
    for problem in result.skipped[:20]:
        click.echo(f"icformat: warning: skipped {problem}", err=True)
    if len(result.skipped) > 20:
        click.echo(f"icformat: warning: ... and {len(result.skipped) - 20} more skipped (--json lists them all)", err=True)
    for note in getattr(result, "notes", []):
        click.echo(f"icformat: note: {note}", err=True)


def _report_exported(result, as_json: bool) -> None:
    _say_skips_and_notes(result)
    if as_json:
        echo_json(result.to_dict())
        return
    first, last = result.shards[0], result.shards[-1]
    where = first if first == last else f"{first} .. {last}"
    skipped = f", {len(result.skipped):,} skipped" if result.skipped else ""
    classes = f"; class names in {result.classes_path}" if result.classes_path else ""
    click.echo(f"{where}: {result.records:,} records in {len(result.shards)} shard(s), {result.image_bytes / 1e6:,.1f} MB of images"
               f"{skipped}{classes}")


def _report_rec(stats, as_json: bool) -> None:
    _say_skips_and_notes(stats)
    if as_json:
        echo_json({"output": stats.rec_path, "records": stats.records, "image_bytes": stats.image_bytes, "rows": stats.rows,
                   "skipped": [p.to_dict() for p in stats.skipped]})
        return
    skipped = f", {len(stats.skipped):,} skipped" if stats.skipped else ""
    click.echo(f"{stats.rec_path}: {stats.records:,} records, {stats.image_bytes / 1e6:,.1f} MB of images{skipped}")


def _sharding_options(command):
    command = click.option("--shard-bytes", type=BYTE_SIZE, default="1GiB", show_default=True, help=_BYTES_HELP)(command)
    return click.option("--shard-records", type=POSITIVE, default=None, help=_SHARD_HELP)(command)


_classes_option = click.option("--classes", metavar="FILE", help="Class names, one per line in label order (PREFIX.classes "
                                "from `lst make`); carried as label names and written to PREFIX.classes.")
_skip_option = click.option("--skip-bad", is_flag=True, help="Leave out bad records or samples with a warning each, instead of stopping.")


def _on_error(skip_bad: bool) -> str:
    return "skip" if skip_bad else "raise"


@click.command("rec2wds")
@click.argument("sources", nargs=-1, required=True, metavar="SRC...")
@click.option("-o", "--output", "prefix", required=True, metavar="PREFIX", help="Shards to write: PREFIX-000000.tar ... (local or s3://).")
@_sharding_options
@_classes_option
@_skip_option
@engine_options
@json_option
def rec2wds_command(sources, prefix, shard_records, shard_bytes, classes, skip_bad, engine, spark_master, as_json):
    """Write the records of SRC (.rec files, folders or prefixes of .rec shards) as WebDataset shards.

    Each record becomes a sample keyed by its id: the image bytes unchanged (KEY.jpg, KEY.png...)
    and KEY.cls (its class) or, for multi-label, InsightFace or other headers, KEY.json with every
    header field, so that wds2rec gives the .rec and .idx back byte for byte. With --engine spark
    each .rec file is one Spark task writing PREFIX-NNNNN-000000.tar...
    """
    options = dict(max_records=shard_records, max_bytes=shard_bytes, classes=classes, on_error=_on_error(skip_bad))
    if check_engine(engine, spark_master):
        return interop_on_spark("rec2wds", spark_master, sources, prefix, as_json, **options)
    from ..interop.wds import rec_to_wds

    with progress(total=_sources_total(sources), desc="rec2wds", unit="rec") as bar:
        result = rec_to_wds(sources, prefix, progress=bar.update, **options)
    _report_exported(result, as_json)


@click.command("rec2parquet")
@click.argument("sources", nargs=-1, required=True, metavar="SRC...")
@click.option("-o", "--output", "prefix", required=True, metavar="DEST",
              help="Files to write: DEST-000000.parquet ... (local or s3://; DEST/ for a folder).")
@_sharding_options
@click.option("--row-group-records", type=POSITIVE, default=100, show_default=True,
              help="Rows per row group (Hugging Face's size for image sets; at most 64 MiB each).")
@_classes_option
@_skip_option
@engine_options
@json_option
def rec2parquet_command(sources, prefix, shard_records, shard_bytes, row_group_records, classes, skip_bad, engine, spark_master, as_json):
    """Write the records of SRC (.rec files, folders or prefixes of .rec shards) as Parquet files
    that Hugging Face `datasets` loads as images with class names.

    Columns: image ({bytes, path}, bytes unchanged), label (ClassLabel with --classes), labels
    (multi-label), id, id2, idx_key and raw_header, so that parquet2rec gives the .rec and .idx back
    byte for byte. With --engine spark each .rec file is one Spark task.
    """
    options = dict(max_records=shard_records, max_bytes=shard_bytes, row_group_records=row_group_records, classes=classes,
                   on_error=_on_error(skip_bad))
    if check_engine(engine, spark_master):
        return interop_on_spark("rec2parquet", spark_master, sources, prefix, as_json, **options)
    from ..interop.parquet import rec_to_parquet

    with progress(total=_sources_total(sources), desc="rec2parquet", unit="rec") as bar:
        result = rec_to_parquet(sources, prefix, progress=bar.update, **options)
    _report_exported(result, as_json)


def _back_command(name: str, ext: str, what: str, origin: str):
    @click.command(name)
    @click.argument("sources", nargs=-1, required=True, metavar="SRC...")
    @click.option("-o", "--output", "dest", required=True, callback=output_file_checked,
                  help=".rec to write (local or s3://); its .idx goes beside it.")
    @click.option("--idx/--no-idx", default=True, show_default=True, help="Write the .idx index.")
    @_skip_option
    @engine_options
    @json_option
    def command(sources, dest, idx, skip_bad, engine, spark_master, as_json):
        if check_engine(engine, spark_master):
            return interop_on_spark(name, spark_master, sources, dest, as_json, index=idx, on_error=_on_error(skip_bad))
        from ..interop import parquet, wds

        convert = wds.wds_to_rec if ext == ".tar" else parquet.parquet_to_rec
        with progress(desc=name, unit="rec") as bar:
            stats = convert(sources, dest, index=idx, progress=bar.update, on_error=_on_error(skip_bad))
        _report_rec(stats, as_json)

    command.help = (f"Write the {what} of SRC ({ext} files, a folder, or a PREFIX of PREFIX-*{ext}) as one RecordIO .rec + .idx, in "
                    f"order. Files written by {origin} "
                    "give back the original .rec and .idx byte for byte. With --engine spark each input file is one Spark task "
                    "writing OUTPUT-0000i-of-0000N.rec.")
    return command


wds2rec_command = _back_command("wds2rec", ".tar", "WebDataset samples", "rec2wds")
parquet2rec_command = _back_command("parquet2rec", ".parquet", "Parquet rows", "rec2parquet")


def register(cli: click.Group) -> None:
    for command in (rec2wds_command, wds2rec_command, rec2parquet_command, parquet2rec_command):
        cli.add_command(command)
