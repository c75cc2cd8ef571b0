"""``icformat preflight``: will this SageMaker image-classification job run? (exit 0 yes, 1 no,
2 could not check)."""
from __future__ import annotations

import click

from ..errors import HyperparameterError, JobError
from ..preflight.job import read_job
from ..preflight.run import preflight
from .common import all_option, echo_findings, echo_json, fail, json_option, max_pixels_option, progress

_EPILOG = """\b
Examples:
  icformat preflight --hyperparameters hp.json \\
      --channel train=s3://bucket/train/ --channel validation=s3://bucket/validation/
  icformat preflight --hyperparameters hp.json --input-mode Pipe --attribute-names source-ref,class \\
      --channel 'train=s3://bucket/train.manifest;application/x-recordio; label-format=class-id' ...
  icformat preflight --training-job-request request.json     # CreateTrainingJob or tuning job
  icformat preflight --training-job-request request.json --channel-path train=./train/
  icformat preflight --sagemaker-root /opt/ml
"""


@click.command("preflight", epilog=_EPILOG)
@max_pixels_option
@click.option("--hyperparameters", "hp_file", metavar="FILE", help="JSON object of hyperparameters (strings, as SageMaker "
              "sends them), or a request body (its HyperParameters or StaticHyperParameters).")
@click.option("--hp", "assignments", multiple=True, metavar="NAME=VALUE", help="One hyperparameter (repeatable; wins over FILE).")
@click.option("--channel", "channels", multiple=True, metavar="NAME=URI[;TYPE]",
              help="A channel: train, validation, train_lst, validation_lst or model, with its s3:// or local URI "
                   "and content type (default application/x-recordio; application/x-image for *_lst).")
@click.option("--channel-path", "channel_paths", multiple=True, metavar="NAME=PATH[;TYPE]",
              help="With --training-job-request or --sagemaker-root: read channel NAME from PATH (e.g. a local copy "
                   "of its S3 data) instead.")
@click.option("--input-mode", type=click.Choice(["File", "Pipe", "FastFile"], case_sensitive=False), default="File", show_default=True)
@click.option("--attribute-names", metavar="A,B", help="AttributeNames of augmented-manifest channels (image first).")
@click.option("--record-wrapper-type", type=click.Choice(["RecordIO", "None"], case_sensitive=False), default=None,
              help="RecordWrapperType of augmented-manifest channels (default RecordIO).")
@click.option("--distribution", type=click.Choice(["FullyReplicated", "ShardedByS3Key"], case_sensitive=False), default="FullyReplicated",
              show_default=True, help="S3DataDistributionType of the channels.")
@click.option("--sagemaker-root", metavar="DIR", help="Read the job from the container layout (DIR/input/config, DIR/input/data).")
@click.option("--training-job-request", "request", metavar="FILE", help="Read the job from a CreateTrainingJob or "
              "CreateHyperParameterTuningJob request JSON (a tuning job: every range's ends and categories are checked).")
@click.option("--check-images", is_flag=True, help="Also decode every image (parallel; slower).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes (local) or threads (S3) for --check-images.")
@all_option
@json_option
def preflight_command(hp_file, assignments, channels, channel_paths, input_mode, attribute_names, record_wrapper_type,
                      distribution, sagemaker_root, request, check_images, workers, show_all, as_json) -> None:
    """Tell, before launch, whether a SageMaker image-classification training job will run: the
    hyperparameters (the trainer's own validation; every problem at once, each naming where its
    value came from), each channel's data (RecordIO framing, .lst, augmented manifests, image sizes
    from headers), the data against the hyperparameters, the model channel, and warnings (class
    imbalance, duplicates across train and validation).

    Give the job one way: --channel options, --training-job-request or --sagemaker-root. Severity
    follows one rule, shared with `icformat train`: an error only where SageMaker itself fails the
    job (naming the SageMaker error it prevents), a warning where it runs but probably not as meant
    (or a rule that is not confirmed), a note for what matters only when training locally.
    Exit status: 0 will run, 1 will fail, 2 could not check (e.g. a channel unreachable)."""
    names = [n.strip() for n in attribute_names.split(",")] if attribute_names else []
    try:
        job = read_job(hp_file=hp_file, assignments=assignments, channels=channels, request=request,
                       sagemaker_root=sagemaker_root, channel_paths=channel_paths, input_mode=input_mode,
                       attribute_names=names, record_wrapper=record_wrapper_type, distribution=distribution)
    except (JobError, HyperparameterError) as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:  # a missing or unreadable hyperparameters or request file: nothing checked
        raise click.UsageError(f"{exc.filename or exc}: {exc.strerror or 'cannot read it'}; check the path") from None
    bar = progress(None, desc="preflight", unit="rec")
    try:
        report = preflight(job, check_images=check_images, workers=workers, progress=bar.update)
    finally:
        bar.close()
    if as_json:
        echo_json(report.to_dict())
    else:
        echo_findings(report.sorted_findings(), show_all)
        click.echo(report.verdict)
    if report.exit_code:
        fail(report.exit_code)


def register(cli: click.Group) -> None:
    cli.add_command(preflight_command)
