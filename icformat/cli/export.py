"""``icformat export``: a model.tar.gz to ONNX, for inference on onnxruntime without MXNet."""
from __future__ import annotations

import click

from .common import echo_json, json_option


@click.command("export")
@click.option("--model", "-m", required=True, help="model.tar.gz (or its extracted folder), local or s3://.")
@click.option("-o", "--output", required=True, help="The .onnx file to write (local or s3://).")
@click.option("--opset", type=int, default=None, help="ONNX opset [default: 15].")
@click.option("--classes", help="Class names file to store in the model (one per line, label order).")
@json_option
def export_command(model, output, opset, classes, as_json) -> None:
    """Export MODEL to ONNX (needs MXNet and onnx 1.14: the `train` extra plus `onnx==1.14.1`).

    The graph takes raw 0-255 RGB pixels as the original (its input BatchNorm is kept), has a dynamic
    batch dimension, ends in softmax (sigmoid for multi-label models) and carries image_shape and the
    class names as metadata. Serve it anywhere with `icformat predict/transform/serve --model X.onnx`,
    which need only onnxruntime (`pip install 'icformat[onnx]'`).
    """
    from ..serve.onnx_export import DEFAULT_OPSET, export_onnx

    report = export_onnx(model, output, opset=opset or DEFAULT_OPSET, classes=classes)
    if as_json:
        echo_json(report.__dict__)
    else:
        shape = "x".join(map(str, report.image_shape))
        click.echo(f"{report.path}: opset {report.opset}, input (batch, {shape}) raw 0-255, "
                   f"{report.num_classes} classes, {report.activation} output", err=True)


def register(group: click.Group) -> None:
    group.add_command(export_command)
