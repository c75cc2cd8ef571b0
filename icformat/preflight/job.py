"""A SageMaker training job as preflight sees it: hyperparameters and channels.

Three ways in, one :class:`Job` out: command-line channels (``train=URI;content-type``), the
container layout (``/opt/ml``: ``input/config/*.json`` and ``input/data/<channel>``), or the JSON
body of a CreateTrainingJob request (as the AWS CLI and SDK write it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from ..errors import FormatError, JobError
from ..io.sniff import read_json_object

S3_PREFIX = "S3Prefix"
MANIFEST_FILE = "ManifestFile"
AUGMENTED_MANIFEST = "AugmentedManifestFile"
FULLY_REPLICATED = "FullyReplicated"
FILE, PIPE, FAST_FILE = "File", "Pipe", "FastFile"
RECORDIO_TYPE = "application/x-recordio"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")
MODEL_TYPE = "application/x-sagemaker-model"
_MANIFEST_SUFFIXES = (".manifest", ".jsonl", ".json", ".jsonlines")


@dataclass(frozen=True)
class Channel:
    """One input channel as ``InputDataConfig`` describes it."""

    name: str
    uri: str
    content_type: str | None = None
    data_type: str = S3_PREFIX
    attribute_names: tuple[str, ...] = ()
    record_wrapper: str | None = None
    distribution: str = FULLY_REPLICATED
    input_mode: str | None = None
    compression: str | None = None

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower case (``""`` when not set)."""
        return (self.content_type or "").split(";")[0].strip().lower()


@dataclass
class Job:
    """Hyperparameters (as SageMaker sends them: strings) and channels by name."""

    hyperparameters: dict[str, Any]
    channels: dict[str, Channel]
    input_mode: str = FILE
    instance_type: str | None = None
    instance_count: int = 1
    training_image: str | None = None
    source: str = ""
    hyperparameters_source: str | None = None
    notes: list[str] = field(default_factory=list)

    def mode_of(self, channel: Channel) -> str:
        return channel.input_mode or self.input_mode


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
    return Job(dict(hyperparameters), built, input_mode=input_mode, source="command line",
               hyperparameters_source=hyperparameters_source)


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
    """A job from the JSON body of a CreateTrainingJob request (local path or ``s3://``)."""
    body = _json_object(path, "CreateTrainingJob request")
    spec = body.get("AlgorithmSpecification") or {}
    resources = body.get("ResourceConfig") or {}
    configs = body.get("InputDataConfig")
    if not isinstance(configs, list) or not configs:
        raise JobError(f"{path}: no InputDataConfig list; the request must name its channels")
    mode = spec.get("TrainingInputMode") or FILE
    channels = {}
    for number, config in enumerate(configs, 1):
        channel = _channel_from_config(config, path, number)
        channels[channel.name] = channel
    hyperparameters = body.get("HyperParameters") or {}
    if not isinstance(hyperparameters, dict):
        raise JobError(f"{path}: HyperParameters must be an object of strings")
    return Job(hyperparameters, channels, input_mode=mode, instance_type=resources.get("InstanceType"),
               instance_count=int(resources.get("InstanceCount") or 1), training_image=spec.get("TrainingImage"),
               source=path, hyperparameters_source=f"{path} (HyperParameters)")


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
    configs = _read_json(os.path.join(config_dir, "inputdataconfig.json"), required=False) or {}
    names = set(configs) | (set(os.listdir(data_dir)) if os.path.isdir(data_dir) else set())
    names = {n for n in names if not _is_pipe_name(n, configs)}
    channels, modes = {}, set()
    for name in sorted(names):
        config = configs.get(name) or {}
        mode = config.get("TrainingInputMode")
        modes.add(mode or FILE)
        uri = os.path.join(data_dir, name)
        if not os.path.exists(uri) and os.path.exists(f"{uri}_0"):
            uri = f"{uri}_0"  # Pipe mode: the channel's first FIFO
        content_type = config.get("ContentType") or _default_content_type(name, uri, ())
        channel = Channel(name, uri, content_type, distribution=config.get("S3DistributionType") or FULLY_REPLICATED,
                          record_wrapper=None if config.get("RecordWrapperType") in (None, "None") else config["RecordWrapperType"],
                          input_mode=mode)
        if attribute_names and os.path.isfile(uri):
            channel = replace(channel, data_type=AUGMENTED_MANIFEST, attribute_names=tuple(attribute_names))
        channels[name] = channel
    mode = PIPE if modes == {PIPE} else FILE
    return Job(hyperparameters, channels, input_mode=mode, source=root,
               hyperparameters_source=os.path.join(config_dir, "hyperparameters.json"))


def _is_pipe_name(name: str, configs: dict) -> bool:
    """``train_0``, ``train_1``: the FIFOs of a Pipe-mode channel, not channels of their own."""
    base, _, epoch = name.rpartition("_")
    return bool(base) and epoch.isdigit() and base in configs and name not in configs


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
    if isinstance(data, dict) and isinstance(data.get("HyperParameters"), dict):
        data = data["HyperParameters"]  # a request body given by mistake: take its hyperparameters
    return data
