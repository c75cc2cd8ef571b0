"""``icformat predict``, ``icformat transform`` and ``icformat serve``: inference on a model.tar.gz
(MXNet) or a .onnx file (onnxruntime)."""
from __future__ import annotations

import contextlib
import json
import sys

import click

from ..io.atomic import open_output
from ..serve.batches import DEFAULT_BATCH_SIZE
from .common import echo_json, fail, json_option, max_pixels_option, progress

MODEL_HELP = "model.tar.gz (or its extracted folder) for MXNet, or a .onnx file for onnxruntime; local or s3://."
_batch_option = click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE, show_default=True,
                             help="Images per forward pass.")
_workers_option = click.option("--workers", type=click.IntRange(min=1), default=None,
                               help="Threads reading and decoding images (default: all cores).")
_threads_option = click.option("--threads", type=click.IntRange(min=1), default=None,
                               help="Compute threads of the network (default: all cores).")


@click.command("predict")
@max_pixels_option
@click.option("--model", "-m", required=True, help=MODEL_HELP)
@click.argument("sources", nargs=-1, required=True)
@click.option("--top-k", type=click.IntRange(min=0), default=0, show_default=True,
              help="Add the K most probable classes (with names when class names are known).")
@click.option("--classes", help="Class names, one per line in label order (PREFIX.classes from `lst make`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write the JSON lines here (default: stdout).")
@_batch_option
@_workers_option
@_threads_option
def predict_command(model, sources, top_k, classes, output, batch_size, workers, threads) -> None:
    """Predict every image of SOURCES (image files, folders walked recursively, s3:// objects or
    prefixes): one JSON line per image, {"source": ..., "prediction": [p0, p1, ...]}.

    Images are resized to the model's image_shape without keeping the aspect ratio, as SageMaker's
    endpoint does. Unreadable images are reported on stderr and skipped (exit status 1).
    """
    from ..serve.predictor import open_predictor
    from ..serve.batches import iter_predictions
    from ..serve.results import prediction_record
    from ..serve.sources import iter_sources

    predictor = open_predictor(model, classes=classes, threads=threads)
    names = predictor.info.classes
    bad = 0
    with progress(None, desc="predict", unit="img") as bar, \
            (open_output(output, "w") if output else contextlib.nullcontext(sys.stdout)) as out:
        for pred in iter_predictions(predictor, iter_sources(sources), batch_size=batch_size, workers=workers):
            bar.update(1)
            if pred.error is not None:
                bad += 1
                bar.clear()
                click.echo(f"icformat: warning: {pred.source}: {pred.error}; skipped", err=True)
                continue
            out.write(json.dumps(prediction_record(pred, top_k, names)) + "\n")
    predictor.close()
    if bad:
        click.echo(f"icformat: {bad:,} image(s) could not be predicted", err=True)
        fail(1)


@click.command("transform")
@max_pixels_option
@click.option("--model", "-m", required=True, help=MODEL_HELP)
@click.argument("input_path", metavar="INPUT")
@click.argument("output")
@_batch_option
@_workers_option
@_threads_option
@click.option("--accept", type=click.Choice(["application/json", "application/jsonlines"]), default="application/json",
              show_default=True, help="Output format (SageMaker's Accept): one JSON object, or one JSON Lines line; "
              "S3 outputs get it as their Content-Type.")
@json_option
def transform_command(model, input_path, output, batch_size, workers, threads, accept, as_json) -> None:
    """Batch transform as SageMaker runs it: every file under INPUT (folder or s3:// prefix) gives
    OUTPUT/<relative name>.out holding {"prediction": [...]} (written to s3:// with the content type of
    what it holds).

    Bad images are reported and skipped (exit status 1 at the end; the good ones are written).
    Outputs that already exist are kept and their images skipped, so re-running resumes.
    """
    from ..serve.predictor import open_predictor
    from ..serve.transform import run_transform

    predictor = open_predictor(model, threads=threads)
    bar = progress(None, desc="transform", unit="img")

    def on_result(pred) -> None:
        bar.update(1)
        if pred is not None and pred.error is not None:
            bar.clear()
            click.echo(f"icformat: warning: {pred.source}: {pred.error}; skipped", err=True)

    try:
        report = run_transform(predictor, input_path, output, batch_size=batch_size, workers=workers, on_result=on_result,
                               accept=accept)
    finally:
        bar.close()
        predictor.close()
    summary = {"written": report.written, "skipped_existing": report.skipped, "failed": len(report.failed),
               "output": output}
    if as_json:
        echo_json({**summary, "failures": [{"name": n, "error": e} for n, e in report.failed]})
    else:
        click.echo(f"{report.written:,} written, {report.skipped:,} already done, {len(report.failed):,} failed -> {output}")
    if report.failed:
        fail(1)


@click.command("serve")
@max_pixels_option
@click.option("--model", "-m", help=MODEL_HELP + " Default inside SageMaker's container: /opt/ml/model.")
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1; 0.0.0.0 in SageMaker's layout].")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port [default: $SAGEMAKER_BIND_TO_PORT or 8080].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes, each holding the model [default: $SAGEMAKER_MODEL_SERVER_WORKERS or 1].")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Compute threads per worker [default: the cores shared out among the workers].")
@click.option("--timeout", "timeout_s", type=click.IntRange(min=1), default=60, show_default=True,
              help="Seconds a request may take before its worker is restarted.")
@click.option("--classes", help="Class names file, checked against the model (answers carry probabilities only, as SageMaker's do).")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
def serve_command(model, host, port, workers, threads, timeout_s, classes, access_log) -> None:
    """Serve MODEL over HTTP with SageMaker's hosting contract: GET /ping, POST /invocations with an
    image (image/jpeg, image/png, application/x-image), answered as application/json (a bare array of
    probabilities) or application/jsonlines ({"prediction": [...]}).

    Runs gunicorn with pre-forked workers, each loading the model. With no --model inside
    SageMaker's container layout it serves /opt/ml/model on 0.0.0.0:8080. Stop with Ctrl-C.
    """
    from ..serve.server import ServeOptions, sagemaker_defaults, serve

    sm_model, sm_host, sm_port, sm_workers = sagemaker_defaults()
    if model is None and sm_model is None:
        raise click.UsageError("give --model (no /opt/ml/model here, so this is not SageMaker's container layout)")
    in_sagemaker = model is None
    options = ServeOptions(
        host=host or (sm_host if in_sagemaker else "127.0.0.1"),
        port=port if port is not None else sm_port,
        workers=workers or sm_workers or 1,
        threads=threads, timeout_s=timeout_s, classes=classes, access_log=access_log)
    code = serve(model or sm_model, options)
    if code:
        click.get_current_context().exit(code)


def register(group: click.Group) -> None:
    group.add_command(predict_command)
    group.add_command(transform_command)
    group.add_command(serve_command)
