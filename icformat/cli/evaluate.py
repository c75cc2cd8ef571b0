"""``icformat evaluate``: a model measured on labelled data (MXNet model.tar.gz or .onnx)."""
from __future__ import annotations

import click

from ..serve.batches import DEFAULT_BATCH_SIZE
from .common import echo_json, fail, json_option, progress

EPILOG = """\b
Examples:
  icformat evaluate --model model/model.tar.gz val.rec
  icformat evaluate --model model.onnx val.lst --root images/ --classes data.classes --json
  icformat evaluate --model model.tar.gz val.manifest --attribute-names source-ref,class
"""

data_options = [
    click.option("--root", metavar="DIR", help="Folder (or s3:// prefix) the .lst paths are relative to "
                                               "(default: the .lst's folder)."),
    click.option("--attribute-names", metavar="NAMES", help="A manifest's AttributeNames, image reference first, label "
                                                           "second [default: source-ref,class]."),
    click.option("--label-format", type=click.Choice(["multi-hot", "class-id"]), default=None,
                 help="How a manifest's label lists are read (multi-label; default multi-hot, as SageMaker)."),
]


def with_data_options(command):
    for option in reversed(data_options):
        command = option(command)
    return command


@click.command("evaluate", epilog=EPILOG)
@click.option("--model", "-m", required=True, help="model.tar.gz (or its folder) for MXNet, or a .onnx file for "
                                                   "onnxruntime; local or s3://.")
@click.argument("data")
@with_data_options
@click.option("--classes", help="Class names, one per line in label order (PREFIX.classes from `lst make`).")
@click.option("--top-k", type=click.IntRange(min=1), default=5, show_default=True, help="Also report top-K accuracy.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Multi-label models: a class is predicted when its probability is at least this.")
@click.option("--mistakes", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the most confident mistakes to list.")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE, show_default=True,
              help="Images per forward pass.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Threads decoding images (default: all cores).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Compute threads of the network.")
@json_option
def evaluate_command(model, data, root, attribute_names, label_format, classes, top_k, threshold, mistakes, batch_size,
                     workers, threads, as_json) -> None:
    """Measure MODEL on the labelled images of DATA: a .rec (or a folder of shards, a prefix), a .lst
    with its images, or an augmented manifest; local or s3://.

    Images are preprocessed exactly as `icformat predict` does (resized to the model's image_shape,
    no crop). Prints accuracy, top-k accuracy, per-class precision, recall, F1 and support, the
    confusion matrix and the most confident mistakes (record ids or paths); for a multi-label
    (sigmoid) model, per-class average precision and F1 at --threshold. Exit status 1 when some
    images could not be evaluated.
    """
    from ..evaluate.run import evaluate
    from ..serve.predictor import open_predictor
    from ..train.data import data_channel, iter_examples

    predictor = open_predictor(model, classes=classes, threads=threads)
    try:
        channel = data_channel("data", data, root=root, attribute_names=attribute_names, label_format=label_format,
                               num_classes=predictor.info.num_classes)
        with progress(None, desc="evaluate", unit="img") as bar:
            result = evaluate(predictor, iter_examples(channel), top_k=top_k, threshold=threshold, mistakes=mistakes,
                              batch_size=batch_size, workers=workers, on_result=lambda _: bar.update(1))
    finally:
        predictor.close()
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(format_evaluation(result.to_dict()))
    if result.failed:
        click.echo(f"icformat: {len(result.failed):,} image(s) could not be evaluated"
                   + ("" if as_json else f" (first: {result.failed[0][0]}: {result.failed[0][1]})"), err=True)
        fail(1)


def format_evaluation(found: dict) -> str:
    """The human text of an evaluation."""
    from ..evaluate.run import class_names

    lines = [f"{found['images']:,} images evaluated on {found['backend']} ({found['model']})"]
    if found["multi_label"]:
        mean_ap = found["mean_average_precision"]
        lines.append(f"mean average precision: {mean_ap:.4f}" if mean_ap is not None else "mean average precision: n/a")
        lines.append(f"{'class':<20} {'AP':>7} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}   (at threshold "
                     f"{found['threshold']:g})")
        for row in found["per_class"]:
            ap = f"{row['average_precision']:.4f}" if row["average_precision"] is not None else "n/a"
            lines.append(f"{row['class'][:20]:<20} {ap:>7} {row['precision']:>9.4f} {row['recall']:>7.4f} "
                         f"{row['f1']:>7.4f} {row['support']:>8,}")
    else:
        tops = ", ".join(f"top-{k} {v:.4f}" for k, v in found["top_k"].items())
        lines.append(f"accuracy: {found['accuracy']:.4f} ({tops})")
        lines.append(f"{'class':<20} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}")
        for row in found["per_class"]:
            lines.append(f"{row['class'][:20]:<20} {row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>7.4f} "
                         f"{row['support']:>8,}")
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        width = max(5, *(len(f"{v:,}") + 1 for r in found["confusion_matrix"] for v in r))
        for name, row in zip(found["classes"], found["confusion_matrix"]):
            lines.append(f"  {name[:12]:<12}" + "".join(f"{v:>{width},}" for v in row))
    if found["mistakes"]:
        lines.append("most confident mistakes:")
        for m in found["mistakes"]:
            lines.append(f"  {m['where']}  ({m['name']}): true {class_names(m['label'], found['classes'])}, predicted "
                         f"{class_names(m['predicted'], found['classes'])} (p={m['confidence']:.3f})")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    group.add_command(evaluate_command)
