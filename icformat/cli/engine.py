"""``--engine local|spark`` and ``--spark-master``: the same commands, run on Apache Spark.

Each command keeps its local code path; with ``--engine spark`` it calls the matching function of
:mod:`icformat.spark` instead (one Spark task per shard, or per byte range of a list) and prints
the same kind of report.
"""
from __future__ import annotations

from contextlib import ExitStack

import click

from ..im2rec.plan import output_prefix

from .common import echo_json

ENGINES = ("local", "spark")


def engine_options(command):
    """Add ``--engine`` and ``--spark-master`` to a command."""
    command = click.option("--spark-master", metavar="URL", default=None,
                           help="Spark master with --engine spark: local[*] (default), local[4], yarn, spark://HOST:7077; "
                                "under spark-submit the submit line's.")(command)
    return click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                        help="local: this machine's cores; spark: Apache Spark tasks, one per shard or per range of lines "
                             "(pip install 'icformat[spark]').")(command)


def check_engine(engine: str, spark_master: str | None, **local_only) -> bool:
    """True for ``--engine spark``; refuses ``--spark-master`` without it and, with it, the options
    that only the local engine takes (given as ``name=value``, unset when falsy)."""
    if engine != "spark":
        if spark_master:
            raise click.UsageError("--spark-master needs --engine spark")
        return False
    from ..errors import IcformatError
    from ..spark.session import check_master

    try:
        check_master(spark_master)
    except IcformatError as exc:
        raise click.UsageError(str(exc)) from None
    for name, value in local_only.items():
        if value:
            raise click.UsageError(f"--{name.replace('_', '-')} applies to --engine local only (Spark packs every shard, one task each)")
    return True


def im2rec_on_spark(spark_master, lists, root, num_shards, as_json, **kwargs) -> None:
    """Pack each ``(lst, out)`` of ``lists`` on Spark and print one line per shard (or JSON)."""
    from ..spark.pack import pack_lst

    reports = []
    with ExitStack() as stack:
        spark = _lazy(stack, spark_master, "icformat im2rec")
        for lst, out in lists:
            reports += pack_lst(spark, lst, root, out, num_shards, **kwargs)
    if as_json:
        echo_json([r.to_dict() for r in reports])
        return
    for r in reports:
        skipped = f", {len(r.skipped):,} skipped" if r.skipped else ""
        click.echo(f"{r.rec_path}: {r.written:,} of {r.rows:,} images{skipped}, {r.bytes_written / 1e6:,.1f} MB; sha256 {r.sha256[:16]}...")
    for r in reports:
        for skip in r.skipped:
            click.echo(f"icformat: warning: {skip}", err=True)
    for lst, out in lists:
        click.echo(f"{lst}: {num_shards:,} shard(s); summary {summary_path(output_prefix(lst, out))}")


def summary_path(base: str) -> str:
    from ..spark.outputs import summary_path as path

    return path(base)


def manifest2rec_on_spark(spark_master, manifest, output, num_shards, as_json, **kwargs) -> None:
    from ..spark.convert import manifest_to_rec

    with ExitStack() as stack:
        stats = manifest_to_rec(_lazy(stack, spark_master, "icformat manifest2rec"), manifest, output, num_shards, **kwargs)
    if as_json:
        echo_json([{"output": s.rec_path, "records": s.records, "image_bytes": s.image_bytes, "sha256": s.sha256} for s in stats])
        return
    for s in stats:
        click.echo(f"{s.rec_path}: {s.records:,} records, {s.image_bytes:,} image bytes; sha256 {s.sha256[:16]}...")


def validate_lst_on_spark(spark_master, lst_file, root, **kwargs):
    from ..spark.lst_validation import validate_lst

    with ExitStack() as stack:
        return validate_lst(_lazy(stack, spark_master, "icformat lst validate"), lst_file, root, **kwargs)


def validate_manifest_on_spark(spark_master, manifest, attribute_names, **kwargs):
    from ..spark.manifest_validation import validate_manifest

    with ExitStack() as stack:
        return validate_manifest(_lazy(stack, spark_master, "icformat manifest validate"), manifest, attribute_names, **kwargs)


def _lazy(stack: ExitStack, master: str | None, app_name: str):
    """A function that starts (once) the command's Spark session, stopped when ``stack`` closes: the
    library checks the inputs first, so a missing file costs no JVM start."""
    from ..spark.session import require_pyspark, spark_session

    require_pyspark()  # say at once that pyspark is missing
    started: list = []

    def session():
        if not started:
            started.append(stack.enter_context(spark_session(master, app_name)))
        return started[0]

    return session


def interop_on_spark(command: str, spark_master, sources, dest, as_json: bool, **options) -> None:
    """``rec2wds``/``rec2parquet``/``wds2rec``/``parquet2rec`` on Spark, one task per input file;
    one report line per task's output (or JSON)."""
    from ..spark.interop import merged, run_interop

    with ExitStack() as stack:
        results = run_interop(_lazy(stack, spark_master, f"icformat {command}"), command, sources, dest, **options)
    for r in results:
        for skip in r.skipped:
            click.echo(f"icformat: warning: skipped {skip}", err=True)
    if command.startswith("rec2"):
        total = merged(results)
        if as_json:
            echo_json(total.to_dict())
            return
        click.echo(f"{dest}: {total.records:,} records in {len(total.shards)} shard(s) from {len(results)} task(s), "
                   f"{total.image_bytes / 1e6:,.1f} MB of images" + (f", {len(total.skipped):,} skipped" if total.skipped else ""))
        return
    if as_json:
        echo_json([{"output": r.rec_path, "records": r.records, "image_bytes": r.image_bytes,
                    "skipped": [p.to_dict() for p in r.skipped]} for r in results])
        return
    for r in results:
        click.echo(f"{r.rec_path}: {r.records:,} records, {r.image_bytes / 1e6:,.1f} MB of images")
