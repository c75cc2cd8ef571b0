"""SageMaker's training-container layout, so that a job runs locally exactly as in the service.

``ROOT/input/config/hyperparameters.json`` (strings), ``ROOT/input/config/inputdataconfig.json``
(per channel: ``ContentType``, ``TrainingInputMode`` File or Pipe, ``RecordWrapperType``), the
channels in ``ROOT/input/data/<channel>/`` (Pipe mode: the FIFOs ``ROOT/input/data/<channel>_<epoch>``),
the ``model`` channel for incremental training, and the artifact ``ROOT/model/model.tar.gz``.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from ..errors import InputNotFound, TrainingDataError
from ..io.sniff import read_json_object
from .data import Channel, lst_channel, pipe_channel, rec_channel

#: stand-in attribute names of a pipe-mode augmented manifest channel (image first, label second)
MANIFEST_PAIR = ("image-ref", "label")


@dataclass(frozen=True)
class SageMakerJob:
    """What ``--sagemaker-root`` describes."""

    hyperparameters: dict
    train: Channel
    validation: Channel | None
    model: str | None
    output: str


def read_json(path: str, what: str) -> dict:
    """A JSON object from ``path``; one-line errors for a missing file, a folder, another kind of
    file, bad JSON or another type (:func:`~icformat.io.sniff.read_json_object`)."""
    return read_json_object(path, what)


def read_sagemaker_root(root: str, *, attribute_names=None, label_format: str | None = None) -> SageMakerJob:
    """The job in SageMaker's folder layout under ``root``."""
    if not os.path.isdir(root):
        raise InputNotFound(f"{root}: no such folder (expected SageMaker's layout: input/config, input/data)", path=root)
    config = os.path.join(root, "input", "config")
    data = os.path.join(root, "input", "data")
    hyperparameters = read_json(os.path.join(config, "hyperparameters.json"), "hyperparameters")
    channels_path = os.path.join(config, "inputdataconfig.json")
    configs = read_json(channels_path, "input data config") if os.path.exists(channels_path) else _guess(data)
    if "train" not in configs:
        raise TrainingDataError(f"{channels_path}: no train channel (channels: {', '.join(sorted(configs)) or 'none'})")
    channels = {name: _channel(data, name, configs, attribute_names, label_format) for name in ("train", "validation")
                if name in configs}
    model = _model_archive(data) if "model" in configs else None
    return SageMakerJob(hyperparameters, channels["train"], channels.get("validation"), model,
                        os.path.join(root, "model", "model.tar.gz"))


def _guess(data: str) -> dict:
    """File-mode channels from the folders present, when there is no inputdataconfig.json."""
    if not os.path.isdir(data):
        raise InputNotFound(f"{data}: no channel folder (expected input/data/train ...)", path=data)
    return {name: {"TrainingInputMode": "File"} for name in os.listdir(data) if os.path.isdir(os.path.join(data, name))}


def _channel(data: str, name: str, configs: dict, attribute_names, label_format) -> Channel:
    config = configs[name] if isinstance(configs[name], dict) else {}
    content_type = config.get("ContentType")
    if config.get("TrainingInputMode", "File").lower() == "pipe":
        if attribute_names:
            names = _names(attribute_names)
        else:
            names = MANIFEST_PAIR if config.get("RecordWrapperType", "None") == "RecordIO" else None
        if label_format is None and names:
            from ..manifest.labels import label_format_from_content_type

            label_format = label_format_from_content_type(content_type)
        pipe_channel(name, data)  # checks the folder
        return Channel(name, "pipe", (data,), None, names, label_format)
    folder = os.path.join(data, name)
    lst_name = f"{name}_lst"
    if lst_name in configs:
        lsts = sorted(glob.glob(os.path.join(data, lst_name, "*.lst")))
        if len(lsts) != 1:
            raise TrainingDataError(f"{os.path.join(data, lst_name)}: expected one .lst file, found {len(lsts)}")
        return lst_channel(name, lsts[0], folder)
    if not os.path.isdir(folder):
        raise InputNotFound(f"{folder}: the {name} channel's folder is missing", path=folder)
    return rec_channel(name, folder)


def _names(manifest) -> tuple[str, ...]:
    from ..manifest.parse import parse_attribute_names

    return tuple(parse_attribute_names(manifest))


def _model_archive(data: str) -> str:
    folder = os.path.join(data, "model")
    archives = sorted(glob.glob(os.path.join(folder, "*.tar.gz")))
    if archives:
        return archives[0]
    if os.path.isdir(folder) and glob.glob(os.path.join(folder, "*-symbol.json")):
        return folder
    raise InputNotFound(f"{folder}: the model channel holds no model.tar.gz", path=folder)
