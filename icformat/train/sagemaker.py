"""A SageMaker job as the trainer's channels, read by the one job parser (``icformat.preflight.job``,
which preflight uses too): a CreateTrainingJob or tuning-job request, or SageMaker's training-container
layout, so that a job runs locally exactly as in the service.

The container layout: ``ROOT/input/config/hyperparameters.json`` (strings),
``ROOT/input/config/inputdataconfig.json`` (per channel: ``ContentType``, ``TrainingInputMode`` File or
Pipe, ``RecordWrapperType``), the channels in ``ROOT/input/data/<channel>/`` (Pipe mode: the FIFOs
``ROOT/input/data/<channel>_<epoch>``), the ``model`` channel for incremental training, and the
artifact ``ROOT/model/model.tar.gz``. Each channel's input format is
:func:`~icformat.preflight.job.channel_format`'s decision, so the trainer reads a job the way preflight
judged it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import InputNotFound, TrainingDataError
from ..io.paths import is_uri
from ..manifest.labels import label_format_from_content_type
from ..preflight.job import IMAGES, MANIFEST, PIPE, Job, channel_format, job_from_sagemaker_root
from ..preflight.listing import list_channel
from .data import Channel, lst_channel, manifest_channel, pipe_channel, rec_channel

#: stand-in attribute names of a pipe-mode augmented manifest channel (image first, label second)
MANIFEST_PAIR = ("image-ref", "label")


@dataclass(frozen=True)
class SageMakerJob:
    """A job's hyperparameters (with where each came from) and its channels as the trainer reads them;
    ``output`` is ROOT/model/model.tar.gz for a container layout, else None."""

    hyperparameters: dict
    train: Channel
    validation: Channel | None
    model: str | None
    output: str | None
    sources: dict = field(default_factory=dict)
    source: str | None = None


def read_sagemaker_root(root: str, *, attribute_names=None, label_format: str | None = None) -> SageMakerJob:
    """The job in SageMaker's folder layout under ``root``."""
    if not os.path.isdir(root):
        raise InputNotFound(f"{root}: no such folder (expected SageMaker's layout: input/config, input/data)", path=root)
    names = _names(attribute_names) if attribute_names else ()
    return training_job(job_from_sagemaker_root(root, attribute_names=names), label_format=label_format)


def training_job(job: Job, *, label_format: str | None = None) -> SageMakerJob:
    """The trainer's channels for ``job`` (from a request, the container layout or ``--channel``s)."""
    if "train" not in job.channels:
        raise TrainingDataError(f"{job.source}: no train channel (channels: {', '.join(sorted(job.channels)) or 'none'})")
    train = _channel(job, "train", label_format)
    validation = _channel(job, "validation", label_format) if "validation" in job.channels else None
    model = _model(job.channels["model"].uri) if "model" in job.channels else None
    output = os.path.join(job.root, "model", "model.tar.gz") if job.root else None
    return SageMakerJob(dict(job.hyperparameters), train, validation, model, output, dict(job.sources), job.source)


def _channel(job: Job, name: str, label_format: str | None) -> Channel:
    channel = job.channels[name]
    kind = channel_format(job, channel)
    if kind == MANIFEST or (job.mode_of(channel) == PIPE and job.root):
        names = channel.attribute_names or (MANIFEST_PAIR if kind == MANIFEST else None)
        labels = label_format or (label_format_from_content_type(channel.content_type) if names else None)
        if job.root and job.mode_of(channel) == PIPE:  # the container's FIFOs <name>_<epoch>
            return pipe_channel(name, os.path.join(job.root, "input", "data"), names, labels)
        return manifest_channel(name, channel.uri, names, labels)
    if kind == IMAGES:
        lst = job.channels.get(f"{name}_lst")
        if lst is None:
            raise TrainingDataError(f"{job.source}: the {name} channel holds images but there is no {name}_lst channel")
        return lst_channel(name, _single(lst.uri, ".lst", f"{name}_lst"), channel.uri)
    if not is_uri(channel.uri) and not os.path.exists(channel.uri):
        raise InputNotFound(f"{channel.uri}: the {name} channel's folder is missing", path=channel.uri)
    return rec_channel(name, channel.uri)


def _single(uri: str, suffix: str, channel: str) -> str:
    """The one ``suffix`` file of a channel (``uri`` itself when it names one)."""
    if uri.lower().endswith(suffix):
        return uri
    found = [e.uri for e in list_channel(uri) if e.relative.lower().endswith(suffix)]
    if len(found) != 1:
        raise TrainingDataError(f"{uri}: expected one {suffix} file in the {channel} channel, found {len(found)}")
    return found[0]


def _names(manifest) -> tuple[str, ...]:
    from ..manifest.parse import parse_attribute_names

    return tuple(parse_attribute_names(manifest))


def _model(uri: str) -> str:
    if uri.endswith((".tar.gz", ".tgz")):
        return uri
    entries = list_channel(uri)
    archives = sorted(e.uri for e in entries if e.relative.endswith((".tar.gz", ".tgz")))
    if archives:
        return archives[0]
    if any(e.relative.endswith("-symbol.json") for e in entries):
        return uri
    raise InputNotFound(f"{uri}: the model channel holds no model.tar.gz", path=uri)
