"""A SageMaker training job as preflight and ``icformat train`` see it: hyperparameters (each with
where its value came from), channels, and the input format.

Three ways in, one :class:`Job` out: command-line channels (``train=URI;content-type``), the
container layout (``/opt/ml``: ``input/config/*.json`` and ``input/data/<channel>``), or the JSON
body of a CreateTrainingJob or CreateHyperParameterTuningJob request (as the AWS CLI and the SageMaker
Python SDK write them). :func:`channel_format` is the one decision of a channel's input format.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from ..errors import FormatError, JobError
from ..io.sniff import read_json_object
from ..train.hyperparameters import parse_assignments

S3_PREFIX = "S3Prefix"
MANIFEST_FILE = "ManifestFile"
AUGMENTED_MANIFEST = "AugmentedManifestFile"
FULLY_REPLICATED = "FullyReplicated"
FILE, PIPE, FAST_FILE = "File", "Pipe", "FastFile"
RECORDIO_TYPE = "application/x-recordio"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")
MODEL_TYPE = "application/x-sagemaker-model"
_MANIFEST_SUFFIXES = (".manifest", ".jsonl", ".json", ".jsonlines")
#: the input formats, and the content types the documentation gives for each
RECORDIO, IMAGES, MANIFEST = "recordio", "images", "manifest"
DOCUMENTED_TYPES = {RECORDIO: (RECORDIO_TYPE,), IMAGES: IMAGE_TYPES, MANIFEST: (RECORDIO_TYPE,)}


@dataclass(frozen=True)
class Channel:
    """One input channel as ``InputDataConfig`` describes it."""

    name: str
    uri: str
    content_type: str | None = None
    data_type: str = S3_PREFIX
    attribute_names: tuple[str, ...] | None = ()  # None: not known (the container layout does not say)
    record_wrapper: str | None = None
    distribution: str = FULLY_REPLICATED
    input_mode: str | None = None
    compression: str | None = None

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower case (``""`` when not set)."""
        return (self.content_type or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class TuningRange:
    """One tuned hyperparameter of a tuning job: the values its trials can take at the extremes (both
    ends of an Integer or Continuous range, every Categorical value)."""

    name: str
    kind: str  # Integer, Continuous, Categorical
    values: tuple[str, ...]


@dataclass
class Job:
    """Hyperparameters (as SageMaker sends them: strings) and channels by name. ``sources`` says where
    each hyperparameter's value came from; ``tuning`` holds a tuning job's ranges; ``root`` is the
    container layout's folder when the job was read from one."""

    hyperparameters: dict[str, Any]
    channels: dict[str, Channel]
    input_mode: str = FILE
    instance_type: str | None = None
    instance_count: int = 1
    training_image: str | None = None
    source: str = ""
    hyperparameters_source: str | None = None
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    tuning: tuple[TuningRange, ...] = ()
    root: str | None = None

    def mode_of(self, channel: Channel) -> str:
        return channel.input_mode or self.input_mode

    def add_hyperparameters(self, values: Mapping[str, Any], source: str | Mapping[str, str]) -> None:
        """Merge ``values`` (they win), each from ``source`` (one for all, or one per name)."""
        for name, value in values.items():
            self.hyperparameters[name] = value
            self.sources[name] = source if isinstance(source, str) else source[name]

    def source_of(self, name: str) -> str | None:
        return self.sources.get(name, self.hyperparameters_source)

    def format_of(self, name: str) -> str | None:
        """The input format of channel ``name`` (None when there is no such channel)."""
        channel = self.channels.get(name)
        return None if channel is None else channel_format(self, channel)


def channel_format(job: Job, channel: Channel) -> str:
    """The one decision of a channel's input format, as SageMaker makes it: an AugmentedManifestFile
    channel is an augmented manifest whatever content type it declares; a channel with a ``<name>_lst``
    companion (or an image content type) is images + .lst; anything else is RecordIO. A content type
    outside the documented ones does not change the format (preflight warns about it)."""
    if channel.data_type == AUGMENTED_MANIFEST:
        return MANIFEST
    base = channel.name[:-4] if channel.name.endswith("_lst") else channel.name
    if channel.name.endswith("_lst") or f"{base}_lst" in job.channels or channel.media_type in IMAGE_TYPES:
        return IMAGES
    return RECORDIO


def parse_channel_option(text: str) -> tuple[str, str, str | None]:
    """``train=s3://b/train/;application/x-recordio`` -> ``("train", "s3://b/train/", "application/x-recordio")``."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise JobError(f"--channel {text!r}: write NAME=URI or NAME=URI;CONTENT-TYPE, e.g. train=s3://bucket/train/")
    uri, _, content_type = rest.partition(";")
    return name, uri.strip(), content_type.strip() or None


def job_from_channels(
    hyperparameters: Mapping[str, Any],
    channels: Iterable[str],
    *,
    input_mode: str = FILE,
    attribute_names: Sequence[str] = (),
    record_wrapper: str | None = None,
    distribution: str = FULLY_REPLICATED,
    hyperparameters_source: str | None = None,
) -> Job:
    """A job from ``--channel`` options. A channel whose URI is one JSON Lines file and that has
    ``attribute_names`` is an augmented manifest (wrapped in RecordIO unless ``record_wrapper``
    says ``None``)."""
    built: dict[str, Channel] = {}
    for text in channels:
        name, uri, content_type = parse_channel_option(text)
        if name in built:
            raise JobError(f"--channel {name} is given twice")
        channel = Channel(name, uri, content_type or _default_content_type(name, uri, attribute_names),
                          distribution=distribution, input_mode=None)
        if name != "model" and attribute_names and _looks_like_manifest(uri):
            wrapper = "RecordIO" if record_wrapper is None else (None if record_wrapper == "None" else record_wrapper)
            channel = replace(channel, data_type=AUGMENTED_MANIFEST, attribute_names=tuple(attribute_names),
                              record_wrapper=wrapper)
        built[name] = channel
    job = Job({}, built, input_mode=input_mode, source="command line", hyperparameters_source=hyperparameters_source)
    job.add_hyperparameters(hyperparameters, hyperparameters_source or "command line")
    return job


def _default_content_type(name: str, uri: str, attribute_names: Sequence[str]) -> str:
    if name == "model":
        return MODEL_TYPE
    if name.endswith("_lst") or uri.lower().endswith(".lst"):
        return IMAGE_TYPES[0]
    return RECORDIO_TYPE


def _looks_like_manifest(uri: str) -> bool:
    lowered = uri.lower().rstrip("/")
    return lowered.endswith(_MANIFEST_SUFFIXES) or (not lowered.endswith((".rec", ".lst")) and "." in lowered.rsplit("/", 1)[-1])


# -- CreateTrainingJob request -------------------------------------------------------------------


def job_from_request(path: str) -> Job:
    """A job from the JSON body of a CreateTrainingJob request, or of a CreateHyperParameterTuningJob
    request (its TrainingJobDefinition: channels and StaticHyperParameters, with the tuned ranges in
    ``job.tuning``), local path or ``s3://``."""
    body = _json_object(path, "CreateTrainingJob request")
    if "TrainingJobDefinition" in body or "TrainingJobDefinitions" in body:
        return _tuning_job(body, path)
    return _training_job(body, path, "HyperParameters", tuple())


def _training_job(body: dict, path: str, hp_key: str, tuning: tuple) -> Job:
    spec = body.get("AlgorithmSpecification") or {}
    resources = body.get("ResourceConfig") or body.get("HyperParameterTuningResourceConfig") or {}
    configs = body.get("InputDataConfig")
    if not isinstance(configs, list) or not configs:
        raise JobError(f"{path}: no InputDataConfig list; the request must name its channels")
    mode = spec.get("TrainingInputMode") or FILE
    channels = {}
    for number, config in enumerate(configs, 1):
        channel = _channel_from_config(config, path, number)
        channels[channel.name] = channel
    hyperparameters = body.get(hp_key) or {}
    if not isinstance(hyperparameters, dict):
        raise JobError(f"{path}: {hp_key} must be an object of strings")
    where = f"{path} ({hp_key})"
    job = Job({}, channels, input_mode=mode, instance_type=resources.get("InstanceType"),
              instance_count=int(resources.get("InstanceCount") or 1), training_image=spec.get("TrainingImage"),
              source=path, hyperparameters_source=where, tuning=tuning)
    job.add_hyperparameters(hyperparameters, where)
    return job


def _tuning_job(body: dict, path: str) -> Job:
    definition = body.get("TrainingJobDefinition")
    if definition is None:
        definitions = body.get("TrainingJobDefinitions") or []
        if len(definitions) != 1:
            raise JobError(f"{path}: {len(definitions)} TrainingJobDefinitions; preflight checks a tuning job of one")
        definition = definitions[0]
    if not isinstance(definition, dict):
        raise JobError(f"{path}: TrainingJobDefinition must be an object")
    config = body.get("HyperParameterTuningJobConfig") or {}
    ranges = definition.get("HyperParameterRanges") or config.get("ParameterRanges") or {}
    return _training_job(definition, path, "StaticHyperParameters", _tuning_ranges(ranges, path))


def _tuning_ranges(ranges: Any, path: str) -> tuple[TuningRange, ...]:
    if not isinstance(ranges, dict):
        raise JobError(f"{path}: ParameterRanges must be an object")
    found = []
    for kind in ("Integer", "Continuous", "Categorical"):
        for item in ranges.get(f"{kind}ParameterRanges") or []:
            if not isinstance(item, dict) or not item.get("Name"):
                raise JobError(f"{path}: each of {kind}ParameterRanges needs a Name")
            values = (item.get("Values") or []) if kind == "Categorical" else [item.get("MinValue"), item.get("MaxValue")]
            found.append(TuningRange(item["Name"], kind, tuple(str(v) for v in values if v is not None)))
    return tuple(found)


def _channel_from_config(config: Any, path: str, number: int) -> Channel:
    where = f"{path}: InputDataConfig[{number - 1}]"
    if not isinstance(config, dict) or not config.get("ChannelName"):
        raise JobError(f"{where}: each channel needs a ChannelName and a DataSource")
    source = (config.get("DataSource") or {})
    s3 = source.get("S3DataSource")
    if not isinstance(s3, dict) or not s3.get("S3Uri"):
        kinds = ", ".join(source) or "nothing"
        raise JobError(f"{where} ({config['ChannelName']}): DataSource has {kinds}; preflight reads S3DataSource channels")
    return Channel(
        name=config["ChannelName"],
        uri=s3["S3Uri"],
        content_type=config.get("ContentType"),
        data_type=s3.get("S3DataType") or S3_PREFIX,
        attribute_names=tuple(s3.get("AttributeNames") or ()),
        record_wrapper=None if config.get("RecordWrapperType") in (None, "None") else config["RecordWrapperType"],
        distribution=s3.get("S3DataDistributionType") or FULLY_REPLICATED,
        input_mode=config.get("InputMode"),
        compression=None if config.get("CompressionType") in (None, "None") else config["CompressionType"],
    )


# -- the container layout ----------------------------------------------------------------------------


def job_from_sagemaker_root(root: str, *, attribute_names: Sequence[str] = ()) -> Job:
    """A job from the container layout: ``ROOT/input/config/{hyperparameters,inputdataconfig}.json``
    and ``ROOT/input/data/<channel>`` (ROOT is ``/opt/ml`` in a real container)."""
    config_dir = os.path.join(root, "input", "config")
    data_dir = os.path.join(root, "input", "data")
    if not os.path.isdir(config_dir):
        raise JobError(f"{root}: no input/config folder; give the folder that holds input/config and input/data (/opt/ml)")
    hyperparameters = _read_json(os.path.join(config_dir, "hyperparameters.json"), required=True)
    configs = _read_json(os.path.join(config_dir, "inputdataconfig.json"), required=False)
    if configs:  # SageMaker names every channel there
        names = set(configs)
    else:  # no inputdataconfig.json: File-mode channels, one per folder
        configs = {}
        names = {n for n in (os.listdir(data_dir) if os.path.isdir(data_dir) else ()) if os.path.isdir(os.path.join(data_dir, n))}
    channels, modes = {}, set()
    for name in sorted(names):
        config = configs.get(name) or {}
        mode = config.get("TrainingInputMode")
        modes.add(mode or FILE)
        uri = os.path.join(data_dir, name)
        if not os.path.exists(uri) and os.path.exists(f"{uri}_0"):
            uri = f"{uri}_0"  # Pipe mode: the channel's first FIFO
        content_type = config.get("ContentType") or _default_content_type(name, uri, ())
        wrapper = None if config.get("RecordWrapperType") in (None, "None") else config["RecordWrapperType"]
        channel = Channel(name, uri, content_type, distribution=config.get("S3DistributionType") or FULLY_REPLICATED,
                          record_wrapper=wrapper, input_mode=mode)
        if name != "model" and (wrapper == "RecordIO" or (attribute_names and os.path.isfile(uri))):
            # inputdataconfig.json has no S3DataType: a RecordIO-wrapped channel is an augmented manifest
            channel = replace(channel, data_type=AUGMENTED_MANIFEST,
                              attribute_names=tuple(attribute_names) if attribute_names else None)
        channels[name] = channel
    mode = PIPE if modes == {PIPE} else FILE
    where = os.path.join(config_dir, "hyperparameters.json")
    job = Job({}, channels, input_mode=mode, source=root, hyperparameters_source=where, root=root)
    job.add_hyperparameters(hyperparameters, where)
    return job


def _read_json(path: str, required: bool) -> Any:
    if not os.path.exists(path):
        if required:
            raise JobError(f"{path}: missing; the container layout needs input/config/hyperparameters.json")
        return None
    return _json_object(path, os.path.basename(path))


def _json_object(path: str, what: str) -> dict:
    """The one JSON reader (:func:`~icformat.io.sniff.read_json_object`), its format errors as
    ``JobError``: a job that cannot be read is not checked (exit status 2)."""
    try:
        return read_json_object(path, what)
    except FormatError as exc:
        raise JobError(str(exc)) from None


def read_hyperparameters_file(path: str) -> dict[str, Any]:
    """``hp.json``: a JSON object of hyperparameters (strings, as SageMaker sends them, or numbers)."""
    data = _json_object(path, "hyperparameters")
    if isinstance(data, dict):  # a request body: take its hyperparameters
        definition = data.get("TrainingJobDefinition")
        for found in (data.get("HyperParameters"), data.get("StaticHyperParameters"),
                      definition.get("StaticHyperParameters") if isinstance(definition, dict) else None):
            if isinstance(found, dict):
                data = found
                break
    if not isinstance(data, dict):
        raise JobError(f"{path}: expected a JSON object of hyperparameters, e.g. {{\"num_classes\": \"10\"}}")
    return data


def gather_hyperparameters(hp_file: str | None, assignments: Iterable[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The values of ``--hyperparameters FILE`` then ``--hp NAME=VALUE`` (which win), and where each
    came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if hp_file:
        for name, value in read_hyperparameters_file(hp_file).items():
            values[name], sources[name] = value, hp_file
    for name, value in parse_assignments(assignments).items():
        values[name], sources[name] = value, "--hp"
    return values, sources


def relocate_channels(job: Job, items: Iterable[str]) -> None:
    """``NAME=PATH[;TYPE]`` items: read channel NAME from PATH (a local copy of its S3 data) instead
    of its S3Uri, optionally with another content type."""
    for text in items:
        name, uri, content_type = parse_channel_option(text)
        if name not in job.channels:
            raise JobError(f"--channel-path {text!r}: the job has no channel {name!r} (it has {', '.join(job.channels)})")
        channel = job.channels[name]
        job.channels[name] = replace(channel, uri=uri, content_type=content_type or channel.content_type)


def read_job(*, hp_file: str | None = None, assignments: Sequence[str] = (), channels: Sequence[str] = (),
             request: str | None = None, sagemaker_root: str | None = None, channel_paths: Sequence[str] = (),
             input_mode: str = FILE, attribute_names: Sequence[str] = (), record_wrapper: str | None = None,
             distribution: str = FULLY_REPLICATED) -> Job:
    """The one reading of a job description for ``preflight`` and ``train``: ``--channel`` options,
    a request (``--training-job-request``) or the container layout (``--sagemaker-root``), then
    ``--hyperparameters FILE`` and ``--hp`` on top, each value remembering its source."""
    if sum(bool(x) for x in (channels, request, sagemaker_root)) != 1:
        raise JobError("give the job one way: --channel options, --training-job-request FILE or --sagemaker-root DIR")
    values, sources = gather_hyperparameters(hp_file, assignments)
    if request:
        job = job_from_request(request)
    elif sagemaker_root:
        job = job_from_sagemaker_root(sagemaker_root, attribute_names=attribute_names)
    else:
        job = job_from_channels({}, channels, input_mode=input_mode, attribute_names=attribute_names,
                                record_wrapper=record_wrapper, distribution=distribution,
                                hyperparameters_source=hp_file or ("--hp" if assignments else None))
    job.add_hyperparameters(values, sources)
    relocate_channels(job, channel_paths)
    return job
