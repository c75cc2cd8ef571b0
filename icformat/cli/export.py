"""``icformat export``: a model.tar.gz to ONNX, for inference on onnxruntime without MXNet; and
int8 quantization of an exported model with onnxruntime's tooling."""
from __future__ import annotations

import click

from .common import echo_json, json_option


@click.command("export")
@click.option("--model", "-m", required=True,
              help="model.tar.gz (or its extracted folder), local or s3://; a .onnx with --quantize.")
@click.option("-o", "--output", required=True, help="The .onnx file to write (local or s3://).")
@click.option("--opset", type=int, default=None, help="ONNX opset [default: 15].")
@click.option("--classes", help="Class names file to store in the model (one per line, label order).")
@click.option("--quantize", type=click.Choice(["int8"]), default=None,
              help="Quantize an exported .onnx to int8 (onnxruntime's static quantization; run where onnxruntime is).")
@click.option("--calibration", multiple=True, metavar="IMAGES",
              help="Images calibrating --quantize (files, folders, s3:// prefixes; up to 200 used) "
                   "[default: the --validation-lst images].")
@click.option("--validation-lst", help="With --quantize: report top-1 accuracy of float32 vs int8 on this .lst.")
@click.option("--validation-root", help="Folder (or s3:// prefix) the --validation-lst paths are relative to.")
@json_option
def export_command(model, output, opset, classes, quantize, calibration, validation_lst, validation_root, as_json) -> None:
    """Export MODEL to ONNX (needs MXNet and onnx 1.14: the `train` and `export` extras).

    The graph takes raw 0-255 RGB pixels as the original (its input BatchNorm is kept), has a dynamic
    batch dimension, ends in softmax (sigmoid for multi-label models) and carries image_shape and the
    class names as metadata. Serve it anywhere with `icformat predict/transform/serve --model X.onnx`,
    which need only onnxruntime (`pip install 'icformat[onnx]'`).

    With --quantize int8, MODEL is an exported .onnx and the output its int8 version (run in the
    onnxruntime environment, e.g. `icformat export -m model.onnx --quantize int8 --calibration
    images/ -o model.int8.onnx`).
    """
    if quantize:
        _quantize(model, output, calibration, validation_lst, validation_root, as_json)
        return
    if calibration or validation_lst:
        raise click.UsageError("--calibration and --validation-lst go with --quantize int8")
    from ..serve.onnx_export import DEFAULT_OPSET, export_onnx

    report = export_onnx(model, output, opset=opset or DEFAULT_OPSET, classes=classes)
    if as_json:
        echo_json(report.__dict__)
    else:
        shape = "x".join(map(str, report.image_shape))
        click.echo(f"{report.path}: opset {report.opset}, input (batch, {shape}) raw 0-255, "
                   f"{report.num_classes:,} classes, {report.activation} output")


def _quantize(model, output, calibration, validation_lst, validation_root, as_json) -> None:
    from ..serve.model import ONNXRUNTIME, backend_of
    from ..serve.onnx_quantize import quantize_int8

    if backend_of(model) != ONNXRUNTIME:
        raise click.UsageError("--quantize takes an exported .onnx: export first (where MXNet is), then quantize "
                               "where onnxruntime is: icformat export -m model.onnx --quantize int8 -o model.int8.onnx")
    images = list(calibration)
    if not images and validation_lst:
        from ..lst.parse import read_lst
        from ..manifest.refs import base_of, resolve_ref

        base = validation_root or base_of(validation_lst)
        images = [resolve_ref(p, base) for p in read_lst(validation_lst).paths]
    if not images:
        raise click.UsageError("--quantize int8 needs calibration images: give --calibration IMAGES or --validation-lst")
    report = quantize_int8(model, output, calibration=images, validation_lst=validation_lst,
                           validation_root=validation_root)
    if as_json:
        echo_json(report.__dict__)
        return
    line = f"{report.path}: int8, calibrated on {report.calibration_images:,} images"
    if report.validation_images:
        line += (f"; top-1 on {report.validation_images:,} validation images: float32 {report.float32_accuracy:.4f}, "
                 f"int8 {report.int8_accuracy:.4f} ({report.int8_accuracy - report.float32_accuracy:+.4f}), "
                 f"same best class {report.agreement:.1%}")
    click.echo(line)


def register(group: click.Group) -> None:
    group.add_command(export_command)
