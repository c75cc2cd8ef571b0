"""``icformat preflight``: will this SageMaker image-classification job run? (exit 0 yes, 1 no,
2 could not check)."""
from __future__ import annotations

import click

from ..errors import HyperparameterError
from ..preflight.job import Job, job_from_channels, job_from_request, job_from_sagemaker_root, read_hyperparameters_file
from ..errors import JobError
from ..preflight.run import preflight
from ..train.hyperparameters import merge_hyperparameters, parse_assignments
from .common import echo_json, fail, json_option, max_pixels_option, progress

_EPILOG = """\b
Examples:
  icformat preflight --hyperparameters hp.json \\
      --channel train=s3://bucket/train/ --channel validation=s3://bucket/validation/
  icformat preflight --hyperparameters hp.json --input-mode Pipe --attribute-names source-ref,class \\
      --channel 'train=s3://bucket/train.manifest;application/x-recordio; label-format=class-id' ...
  icformat preflight --training-job-request request.json
  icformat preflight --sagemaker-root /opt/ml
"""


@click.command("preflight", epilog=_EPILOG)
@max_pixels_option
@click.option("--hyperparameters", "hp_file", metavar="FILE", help="JSON object of hyperparameters (strings, as SageMaker sends them).")
@click.option("--hp", "assignments", multiple=True, metavar="NAME=VALUE", help="One hyperparameter (repeatable; wins over FILE).")
@click.option("--channel", "channels", multiple=True, metavar="NAME=URI[;TYPE]",
              help="A channel: train, validation, train_lst, validation_lst or model, with its s3:// or local URI "
                   "and content type (default application/x-recordio; application/x-image for *_lst).")
@click.option("--input-mode", type=click.Choice(["File", "Pipe", "FastFile"], case_sensitive=False), default="File", show_default=True)
@click.option("--attribute-names", metavar="A,B", help="AttributeNames of augmented-manifest channels (image first).")
@click.option("--record-wrapper-type", type=click.Choice(["RecordIO", "None"], case_sensitive=False), default=None,
              help="RecordWrapperType of augmented-manifest channels (default RecordIO).")
@click.option("--distribution", type=click.Choice(["FullyReplicated", "ShardedByS3Key"], case_sensitive=False), default="FullyReplicated",
              show_default=True, help="S3DataDistributionType of the channels.")
@click.option("--sagemaker-root", metavar="DIR", help="Read the job from the container layout (DIR/input/config, DIR/input/data).")
@click.option("--training-job-request", "request", metavar="FILE", help="Read the job from a CreateTrainingJob request JSON.")
@click.option("--check-images", is_flag=True, help="Also decode every image (parallel; slower).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes (local) or threads (S3) for --check-images.")
@json_option
def preflight_command(hp_file, assignments, channels, input_mode, attribute_names, record_wrapper_type, distribution,
                      sagemaker_root, request, check_images, workers, as_json) -> None:
    """Tell, before launch, whether a SageMaker image-classification training job will run: the
    hyperparameters (the trainer's own validation), each channel's data (RecordIO framing, .lst,
    augmented manifests, image sizes from headers), the data against the hyperparameters, the model
    channel, and warnings (class imbalance, duplicates across train and validation).

    Give the job one way: --channel options, --training-job-request or --sagemaker-root. Every
    problem names its file and line or record, what to change and the SageMaker error it prevents.
    Exit status: 0 will run, 1 will fail, 2 could not check (e.g. a channel unreachable)."""
    sources = sum(bool(x) for x in (channels, sagemaker_root, request))
    if sources != 1:
        raise click.UsageError("give the job one way: --channel options, --training-job-request FILE or --sagemaker-root DIR")
    names = [n.strip() for n in attribute_names.split(",")] if attribute_names else []
    try:
        job = _read_job(hp_file, assignments, channels, input_mode, names, record_wrapper_type, distribution,
                        sagemaker_root, request)
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
        for finding in report.sorted_findings():
            click.echo(str(finding))
        click.echo(report.verdict)
    if report.exit_code:
        fail(report.exit_code)


def _read_job(hp_file, assignments, channels, input_mode, names, record_wrapper_type, distribution, sagemaker_root,
              request) -> Job:
    extra = merge_hyperparameters(read_hyperparameters_file(hp_file) if hp_file else {}, parse_assignments(assignments))
    if request:
        job = job_from_request(request)
    elif sagemaker_root:
        job = job_from_sagemaker_root(sagemaker_root, attribute_names=names)
    else:
        return job_from_channels(extra, channels, input_mode=input_mode, attribute_names=names,
                                 record_wrapper=record_wrapper_type, distribution=distribution,
                                 hyperparameters_source=hp_file or ("--hp" if assignments else None))
    if extra:
        job.hyperparameters = merge_hyperparameters(job.hyperparameters, extra)
        job.hyperparameters_source = hp_file or job.hyperparameters_source
    return job


def register(cli: click.Group) -> None:
    cli.add_command(preflight_command)
