"""Checks on the job description alone (no data read): channels present, content types, input
modes, distribution, record wrapping, instance type, and ``resize`` for image content types."""
from __future__ import annotations

from .findings import BAD_MAGIC, EMPTY_BATCH, ERROR, HYPERPARAMETER_REJECTED, INVALID_LST, WARNING, Finding
from .hyperparameters import Settings
from .job import (DOCUMENTED_TYPES, FAST_FILE, FILE, FULLY_REPLICATED, IMAGES, MANIFEST, MANIFEST_FILE, MODEL_TYPE,
                  PIPE, RECORDIO_TYPE, Channel, Job, channel_format)

DATA_CHANNELS = ("train", "validation")
KNOWN_CHANNELS = DATA_CHANNELS + ("train_lst", "validation_lst", "model")
GPU_FAMILIES = ("ml.p2.", "ml.p3.", "ml.p3dn.", "ml.p4d.", "ml.p4de.", "ml.p5.", "ml.g4dn.", "ml.g5.", "ml.g6.")
CPU_FAMILIES = ("ml.m", "ml.c", "ml.t", "ml.r", "ml.x", "ml.z", "ml.inf", "ml.trn")
NO_DATA = "the job failing: the algorithm finds no data for this channel"


def check_job_config(job: Job, settings: Settings) -> list[Finding]:
    """Every problem visible in the job description itself. The input format of each channel is
    :func:`~icformat.preflight.job.channel_format`'s decision, the one ``icformat train`` uses too."""
    findings = _channel_set(job)
    for channel in job.channels.values():
        findings += _channel_settings(job, channel)
    findings += _formats_agree(job)
    if any(job.format_of(n) == IMAGES for n in DATA_CHANNELS):
        findings += _image_input(job, settings)
    findings += _instance(job)
    return findings


def _channel_set(job: Job) -> list[Finding]:
    findings = []
    for name in DATA_CHANNELS:
        if name not in job.channels:
            findings.append(Finding(ERROR, "channels", f"no {name} channel", f"add a {name} channel",
                                    NO_DATA, name))
    for name in job.channels:
        if name not in KNOWN_CHANNELS:
            findings.append(Finding(WARNING, "channels", f"channel {name!r} is not one image classification reads "
                                    f"({', '.join(KNOWN_CHANNELS)}); it is ignored", "rename or drop it", "", name))
    return findings


def _channel_settings(job: Job, channel: Channel) -> list[Finding]:
    name, mode, findings = channel.name, job.mode_of(channel), []
    if mode not in (FILE, PIPE, FAST_FILE):
        findings.append(Finding(ERROR, "input-mode", f"input mode {mode!r} is not File, Pipe or FastFile",
                                "use File or Pipe", "CreateTrainingJob refusing the request", name))
    if channel.distribution != FULLY_REPLICATED:
        pipe = " Pipe mode with RecordIO needs it." if mode == PIPE else ""
        findings.append(Finding(ERROR, "distribution", f"S3DataDistributionType is {channel.distribution}; image "
                                f"classification supports only FullyReplicated.{pipe}",
                                "set S3DataDistributionType=FullyReplicated", BAD_MAGIC if mode == PIPE else NO_DATA, name))
    if name == "model":
        if channel.media_type and channel.media_type != MODEL_TYPE:
            findings.append(Finding(WARNING, "content-type", f"content type {channel.content_type!r} for the model channel",
                                    f"set ContentType={MODEL_TYPE}", "", name))
        return findings
    if channel.data_type == MANIFEST_FILE:
        return findings
    kind = channel_format(job, channel)
    if kind == MANIFEST:
        return findings + _augmented(job, channel)
    if channel.record_wrapper:
        findings.append(Finding(ERROR, "record-wrapper", f"RecordWrapperType={channel.record_wrapper} on an {channel.data_type} "
                                "channel wraps each whole object in one record", "drop RecordWrapperType (None)",
                                BAD_MAGIC, name))
    if "label-format" in (channel.content_type or ""):
        findings.append(Finding(WARNING, "content-type", "label-format applies to augmented manifests only; it is ignored here",
                                "drop '; label-format=...'", "", name))
    return findings + _content_type(channel, mode, kind)


def _content_type(channel: Channel, mode: str, kind: str) -> list[Finding]:
    name, findings = channel.name, []
    media = channel.media_type
    if media not in DOCUMENTED_TYPES[kind]:
        what = "images + .lst" if kind == IMAGES else "RecordIO"
        shown = f"content type {channel.content_type!r}" if media else "no content type"
        findings.append(Finding(WARNING, "content-type", f"{shown}: the documentation gives "
                                f"{' or '.join(DOCUMENTED_TYPES[kind])} for {what} channels; the channel is read as {what} "
                                f"({'its _lst channel decides' if kind == IMAGES else 'no _lst channel'})",
                                f"set ContentType={DOCUMENTED_TYPES[kind][0]}", "", name))
    if name.endswith("_lst"):
        if mode == PIPE:
            findings.append(Finding(ERROR, "input-mode", ".lst channels are read in File mode only",
                                    "use File mode, or pack RecordIO (icformat im2rec) for Pipe mode", INVALID_LST.format(channel=name[:-4]), name))
        return findings
    if kind == IMAGES and mode == PIPE:
        findings.append(Finding(ERROR, "input-mode", "image files with .lst are read in File mode only; in Pipe mode the "
                                "raw image bytes reach the algorithm without RecordIO framing",
                                "use File mode, or pack RecordIO (icformat im2rec)", BAD_MAGIC, name))
    return findings


def _augmented(job: Job, channel: Channel) -> list[Finding]:
    name, findings = channel.name, []
    if channel.attribute_names is not None and not channel.attribute_names:  # None: not known here
        findings.append(Finding(ERROR, "attribute-names", "an augmented manifest channel without AttributeNames",
                                "set AttributeNames to the image attribute then the label, e.g. [\"source-ref\", \"class\"]",
                                EMPTY_BATCH, name))
    if channel.record_wrapper != "RecordIO":
        findings.append(Finding(ERROR, "record-wrapper", "an augmented manifest needs RecordWrapperType=RecordIO for "
                                "image classification", "set RecordWrapperType=RecordIO", BAD_MAGIC, name))
    if channel.media_type != RECORDIO_TYPE:
        findings.append(Finding(WARNING, "content-type", f"content type {channel.content_type!r}: the documentation gives "
                                f"{RECORDIO_TYPE} for augmented manifests (whether image classification accepts another is "
                                "not confirmed); the channel is read as an augmented manifest", f"set ContentType={RECORDIO_TYPE}",
                                "", name))
    if job.mode_of(channel) != PIPE:
        findings.append(Finding(WARNING, "input-mode", "image classification documents augmented manifests in Pipe mode",
                                "use TrainingInputMode=Pipe", "", name))
    return findings


def _formats_agree(job: Job) -> list[Finding]:
    train, validation = job.channels.get("train"), job.channels.get("validation")
    if not train or not validation:
        return []
    kinds = {c.name: channel_format(job, c) for c in (train, validation)}
    if kinds["train"] == kinds["validation"]:
        return []
    return [Finding(ERROR, "content-type", f"train is {kinds['train']} but validation is {kinds['validation']}",
                    "give both channels the same content type and format", NO_DATA, "validation")]


def _image_input(job: Job, settings: Settings) -> list[Finding]:
    findings = []
    for name in DATA_CHANNELS:
        channel = job.channels.get(name)
        if channel and job.format_of(name) == IMAGES and f"{name}_lst" not in job.channels:
            findings.append(Finding(ERROR, "channels", f"{name} holds images (content type {channel.content_type}) "
                                    f"but there is no {name}_lst channel", f"add a {name}_lst channel with the .lst file "
                                    "(icformat lst make)", INVALID_LST.format(channel=name), f"{name}_lst"))
    train, validation = job.channels.get("train"), job.channels.get("validation")
    if train and validation and job.format_of("train") == IMAGES and train.uri.rstrip("/") == validation.uri.rstrip("/"):
        findings.append(Finding(WARNING, "channels", "train and validation images are in the same folder; the "
                                "documentation asks for different S3 folders", "put the validation images in their "
                                "own folder", "", "validation", validation.uri))
    if "resize" not in job.hyperparameters:
        findings.append(Finding(ERROR, "hyperparameters", "resize is required with image content types "
                                "(application/x-image)", "set resize (the shorter side in pixels, at least the "
                                "height and width of image_shape)", HYPERPARAMETER_REJECTED, path=job.source_of("resize")))
    return findings


def _instance(job: Job) -> list[Finding]:
    findings = []
    kind = job.instance_type or ""
    if kind and not kind.startswith(GPU_FAMILIES) and kind.startswith(CPU_FAMILIES):
        findings.append(Finding(ERROR, "instance", f"instance type {kind} has no GPU; image classification trains "
                                "on GPU instances only (P2, P3, G4dn, G5)", "use e.g. ml.p3.2xlarge or ml.g4dn.xlarge",
                                "CreateTrainingJob refusing the instance type for this algorithm"))
    image = job.training_image or ""
    if image and "image-classification" not in image:
        findings.append(Finding(WARNING, "training-image", f"training image {image} is not the image-classification "
                                "algorithm; these checks are for that algorithm", "", ""))
    return findings
