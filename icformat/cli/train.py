"""``icformat train``: SageMaker's image-classification ResNet, trained here (needs the ``train`` extra)."""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings

import click

from .common import echo_json, json_option

LOG_FORMAT = "[%(asctime)s %(levelname)s %(thread)d] %(message)s"
LOG_DATES = "%m/%d/%Y %H:%M:%S"

EPILOG = """\b
Examples:
  icformat train --train train.rec --validation val.rec \\
      --hp num_classes=10 --hp num_training_samples=1437 --hp num_layers=20 \\
      --hp image_shape=3,32,32 --hp epochs=10 --output-dir model/
  icformat train --train-lst train.lst --train-root images/ --hyperparameters hp.json
  icformat train --pipe /tmp/pipes --attribute-names source-ref,class --hyperparameters hp.json
  icformat train --sagemaker-root /opt/ml          # SageMaker's own container layout
  icformat train --training-job-request request.json --output-dir model/     # channels on s3://
  icformat train --training-job-request request.json --channel-path train=./train/ \\
      --channel-path validation=./validation/ --hp epochs=1


The learning-rate schedule (lr_scheduler_step) is computed as SageMaker's: an
epoch counts ceil(num_training_samples / mini_batch_size) batches (per worker
under dist_sync: floor(num_training_samples / workers) first), as MXNet's
image-classification fit.py counts it, whatever the number of images present.
When num_training_samples differs from the images, training still runs (as in
SageMaker) with a warning that says where the drops fall.
"""


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATES))
    for name in ("icformat.train", "root"):
        logger = logging.getLogger() if name == "root" else logging.getLogger(name)
        if name == "root":
            logger.handlers[:] = [handler] if verbose else []
            logger.setLevel(logging.INFO if verbose else logging.WARNING)
        else:
            logger.handlers[:] = [handler]
            logger.setLevel(logging.INFO)
            logger.propagate = False


def _usage(message: str) -> click.UsageError:
    return click.UsageError(message)


def _inputs(opts: dict):
    """(train, validation, model, output, hyperparameters, their sources) from the input options.
    A request or the container layout is read by the one job parser preflight uses."""
    from ..preflight.job import gather_hyperparameters, read_job
    from ..train.sagemaker import training_job

    given = [k for k in ("train", "train_lst", "pipe") if opts[k]]
    described = [k for k in ("sagemaker_root", "request") if opts[k]]
    if described:
        if len(described) > 1 or given or opts["validation"] or opts["validation_lst"]:
            raise _usage("--sagemaker-root or --training-job-request describes the channels; leave out "
                         "--train/--validation/--pipe and give only one of them")
        names = [n.strip() for n in opts["attribute_names"].split(",")] if opts["attribute_names"] else []
        job = read_job(hp_file=opts["hp_file"], assignments=opts["hp_items"], request=opts["request"],
                       sagemaker_root=opts["sagemaker_root"], channel_paths=opts["channel_paths"], attribute_names=names)
        found = training_job(job, label_format=opts["label_format"])
        output = found.output if opts["sagemaker_root"] else _output(opts["output_dir"])
        return found.train, found.validation, opts["model"] or found.model, output, found.hyperparameters, found.sources
    if opts["channel_paths"]:
        raise _usage("--channel-path relocates a channel of --training-job-request or --sagemaker-root")
    values, sources = gather_hyperparameters(opts["hp_file"], opts["hp_items"])
    train, val, model, output = _channels(opts)
    return train, val, model, output, values, sources


def _channels(opts: dict):
    """(train, validation, model, output) from the direct input options."""
    from ..train import data

    given = [k for k in ("train", "train_lst", "pipe") if opts[k]]
    if len(given) != 1:
        raise _usage("give the training data once: --train DATA, --train-lst LST (with --train-root), "
                     "--pipe DIR, --training-job-request FILE or --sagemaker-root DIR")
    output = _output(opts["output_dir"])
    if opts["pipe"]:
        if opts["validation"] or opts["validation_lst"]:
            raise _usage("with --pipe the validation channel is read from DIR/validation_<epoch>; leave out --validation")
        names = opts["attribute_names"]
        train = data.pipe_channel("train", opts["pipe"], names, opts["label_format"])
        wanted = opts["pipe_validation"]
        if wanted is None:
            wanted = os.path.exists(os.path.join(opts["pipe"], "validation_0"))
        val = data.pipe_channel("validation", opts["pipe"], names, opts["label_format"]) if wanted else None
        return train, val, opts["model"], output
    train = (data.rec_channel("train", opts["train"]) if opts["train"]
             else data.lst_channel("train", opts["train_lst"], opts["train_root"]))
    val = None
    if opts["validation"] and opts["validation_lst"]:
        raise _usage("give --validation or --validation-lst, not both")
    if opts["validation"]:
        val = data.rec_channel("validation", opts["validation"])
    elif opts["validation_lst"]:
        val = data.lst_channel("validation", opts["validation_lst"], opts["validation_root"])
    return train, val, opts["model"], output


def _output(folder: str) -> str:
    """``folder/model.tar.gz``, checked now rather than after training."""
    if folder.startswith("s3://"):
        from ..io.objects import ObjectStore
        from ..io.paths import split_s3
        from ..train.data import remote_call

        remote_call(lambda uri: ObjectStore().s3().head_bucket(Bucket=split_s3(uri)[0]), folder)
        return folder.rstrip("/") + "/model.tar.gz"
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise _usage(f"--output-dir {folder}: it is a file, not a folder")
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise _usage(f"--output-dir {folder}: cannot write there ({existing}: {exc.strerror})") from None
    return os.path.join(folder, "model.tar.gz")


@click.command("train", epilog=EPILOG)
@click.option("--train", "train", metavar="DATA", help="Training RecordIO: a .rec file, a folder of .rec shards or a shard prefix (local or s3://).")
@click.option("--validation", metavar="DATA", help="Validation RecordIO, as --train.")
@click.option("--train-lst", metavar="LST", help="Training images listed by a .lst (no packing step).")
@click.option("--train-root", metavar="DIR", help="Folder the --train-lst paths are relative to (default: the .lst's folder).")
@click.option("--validation-lst", metavar="LST", help="Validation images listed by a .lst.")
@click.option("--validation-root", metavar="DIR", help="Folder the --validation-lst paths are relative to.")
@click.option("--pipe", metavar="DIR", help="Pipe mode: read the FIFOs DIR/train_<epoch> (and DIR/validation_<epoch>).")
@click.option("--pipe-validation/--no-pipe-validation", default=None, help="With --pipe, also read DIR/validation_<epoch> (default: when DIR/validation_0 exists at start).")
@click.option("--attribute-names", metavar="NAMES", help="Pipe channels are augmented manifests with these AttributeNames (image first, label second), e.g. source-ref,class.")
@click.option("--label-format", type=click.Choice(["multi-hot", "class-id"]), default=None, help="Multi-label manifests: label format (default multi-hot, as SageMaker).")
@click.option("--sagemaker-root", metavar="DIR", help="SageMaker's layout: DIR/input/config/*.json, DIR/input/data/<channel>, writes DIR/model/model.tar.gz.")
@click.option("--training-job-request", "request", metavar="FILE", help="Train the job of a CreateTrainingJob (or tuning-job: its static values) request JSON, as preflight reads it; its channels are read from s3:// or from --channel-path.")
@click.option("--channel-path", "channel_paths", multiple=True, metavar="NAME=PATH[;TYPE]", help="With --training-job-request or --sagemaker-root: read channel NAME from PATH (e.g. a local copy of its S3 data).")
@click.option("--hyperparameters", "hp_file", metavar="FILE", help="hyperparameters.json (SageMaker's: every value a string), or a request body (its HyperParameters or StaticHyperParameters), as preflight reads it.")
@click.option("--hp", "hp_items", multiple=True, metavar="NAME=VALUE", help="One hyperparameter (repeatable); wins over --hyperparameters.")
@click.option("--output-dir", default="model", show_default=True, metavar="DIR", help="Where model.tar.gz is written (local or s3://).")
@click.option("--model", metavar="TGZ", help="Incremental training: start from this model.tar.gz (SageMaker's model channel).")
@click.option("--pretrained", metavar="PREFIX_OR_TGZ", help="Weights for use_pretrained_model=1 (SageMaker downloads ImageNet weights; this needs them given): an MXNet checkpoint prefix, a .params file, or a model.tar.gz of the same depth.")
@click.option("-j", "--workers", "num_workers", type=click.IntRange(min=0), default=None, help="Loader processes (default: one per core).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (shuffling, augmentation).")
@click.option("--pipe-timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for each FIFO.")
@click.option("-v", "--verbose", is_flag=True, help="Also show MXNet's own log lines.")
@json_option
def train_command(**opts):
    """Train SageMaker's image-classification network (pre-activation ResNet) on this machine.

    Hyperparameters are SageMaker's, with the same names, defaults and ranges; they are checked,
    with the data, before any training, by the rules preflight applies (every bad value reported at
    once, each with its source). The job can be given as a CreateTrainingJob request or SageMaker's
    container layout, read by the same parser as preflight. The learning-rate schedule is SageMaker's:
    counted from num_training_samples (see below). Writes OUTPUT_DIR/model.tar.gz as SageMaker does (loadable
    with mx.model.load_checkpoint); an interrupted run leaves the previous archive in place. Under
    kv_store=dist_sync|dist_async start it with `icformat launch`.
    """
    _configure_logging(opts["verbose"])
    from ..loader.workers import StartMethodWarning
    from ..train.data import FeedOptions
    from ..train.hyperparameters import parse_hyperparameters
    from ..train.trainer import TrainJob, detect_device, train

    train_ch, val_ch, model, output, raw, sources = _inputs(opts)
    hp = parse_hyperparameters(raw, sources=sources)  # checked before MXNet is even imported
    if hp.precision_dtype == "float16":
        hp = parse_hyperparameters(raw, device=detect_device(), sources=sources)
    if opts["pretrained"] and not hp.use_pretrained_model:
        raise _usage("--pretrained is used only with the hyperparameter use_pretrained_model=1 (--hp use_pretrained_model=1)")
    feed = FeedOptions(num_workers=opts["num_workers"], seed=opts["seed"], pipe_timeout=opts["pipe_timeout"])
    job = TrainJob(hp, train_ch, val_ch, output, model, opts["pretrained"], feed, progress=sys.stderr.isatty())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StartMethodWarning)  # the CLI lets the loader choose; start_method= is the library's
        result = train(job)
    if opts["as_json"]:
        echo_json(result.to_dict())
    elif result.artifact:
        best = result.best_validation_accuracy
        shown = f"validation accuracy {best:.4f}" if best is not None else f"train accuracy {result.train_accuracy:.4f}"
        kept = ", ".join(f"Epoch[{e}]" for e in result.stored_epochs)
        click.echo(f"trained {result.epochs:,} epoch(s) (Epoch[0] first), {shown}, {result.images_per_second:,.0f} images/s: "
                   f"{result.artifact} holds {kept}, kept as {result.stored_because}")


def register(group: click.Group) -> None:
    group.add_command(train_command)
