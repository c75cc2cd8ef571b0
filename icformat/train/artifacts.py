"""``model.tar.gz`` as SageMaker's image-classification algorithm writes it.

The archive holds ``image-classification-symbol.json``, one or more
``image-classification-NNNN.params`` (NNNN: the 1-based epoch) and ``model-shapes.json``
(``[{"shape": [batch, C, H, W], "name": "data"}]``). This module reads and writes the archive
itself; it needs no MXNet.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass

from ..io.atomic import open_output
from ..io.paths import PathLike, is_uri, local_path
from ..io.streams import open_input
from ..errors import FormatError, InputNotFound

MODEL_PREFIX = "image-classification"
SYMBOL_FILE = f"{MODEL_PREFIX}-symbol.json"
SHAPES_FILE = "model-shapes.json"
_PARAMS_RE = re.compile(rf"^{MODEL_PREFIX}-(\d{{4}})\.params$")


def params_file(epoch: int) -> str:
    """``image-classification-0003.params`` for the 1-based ``epoch`` 3."""
    return f"{MODEL_PREFIX}-{epoch:04d}.params"


def shapes_json(data_shape: tuple[int, ...]) -> str:
    """The ``model-shapes.json`` text for an input of ``data_shape`` (batch, C, H, W)."""
    return json.dumps([{"shape": [int(d) for d in data_shape], "name": "data"}])


@dataclass(frozen=True)
class ModelFiles:
    """An extracted model: its folder, the checkpoint prefix and epoch MXNet loads, and the input shape."""

    folder: str
    prefix: str
    epoch: int
    data_shape: tuple[int, ...] | None
    epochs: tuple[int, ...]

    @property
    def symbol_path(self) -> str:
        return os.path.join(self.folder, SYMBOL_FILE)

    @property
    def params_path(self) -> str:
        return os.path.join(self.folder, params_file(self.epoch))

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """(C, H, W) from ``model-shapes.json``, when the archive has one."""
        return self.data_shape[1:] if self.data_shape else None


def write_model_tarball(dest: PathLike, folder: str, epochs: list[int], data_shape: tuple[int, ...]) -> None:
    """Archive the symbol, the params of ``epochs`` and the shapes from ``folder`` into ``dest``.

    ``dest`` (local or ``s3://``) appears only once complete: an interrupted run leaves the previous
    archive in place.
    """
    with tempfile.TemporaryDirectory() as tmp:
        shapes = os.path.join(tmp, SHAPES_FILE)
        with open(shapes, "w") as f:
            f.write(shapes_json(data_shape))
        members = [(os.path.join(folder, SYMBOL_FILE), SYMBOL_FILE), (shapes, SHAPES_FILE)]
        members += [(os.path.join(folder, params_file(e)), params_file(e)) for e in epochs]
        # float weights barely compress: gzip level 1 writes a ResNet-18 several times faster than 9
        with open_output(dest, "wb") as out, tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar:
            for path, name in members:
                tar.add(path, arcname=name)


def extract_model_tarball(src: PathLike, dest: str) -> ModelFiles:
    """Extract ``src`` (a ``model.tar.gz``, local or ``s3://``, or a folder already extracted) into
    ``dest`` and describe it. Members with absolute paths, ``..`` or links are refused."""
    name = os.fspath(src)
    if not is_uri(name) and os.path.isdir(name):
        return describe_model_folder(name, name)
    if not is_uri(name) and not os.path.exists(local_path(name)):
        raise InputNotFound(f"{name}: no such model archive", path=name)
    try:
        with open_input(name, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            for member in tar:
                _check_member(name, member)
                if member.isfile():
                    target = os.path.join(dest, member.name)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with tar.extractfile(member) as data, open(target, "wb") as out:
                        shutil.copyfileobj(data, out)
    except tarfile.TarError as exc:
        raise FormatError(f"not a model.tar.gz ({exc}); give the archive SageMaker or icformat train wrote",
                          path=name) from exc
    return describe_model_folder(dest, name)


def _check_member(archive: str, member: tarfile.TarInfo) -> None:
    parts = member.name.replace("\\", "/").split("/")
    if member.name.startswith(("/", "\\")) or ".." in parts or os.path.isabs(member.name):
        raise FormatError(f"refusing archive member {member.name!r}: it points outside the archive", path=archive)
    if not (member.isfile() or member.isdir()):
        raise FormatError(f"refusing archive member {member.name!r}: links and special files are not allowed",
                          path=archive)


def describe_model_folder(folder: str, source: str | None = None) -> ModelFiles:
    """The checkpoint in ``folder`` (the highest epoch when there are several)."""
    source = source or folder
    names = {os.path.relpath(os.path.join(root, f), folder): os.path.join(root, f)
             for root, _, files in os.walk(folder) for f in files}
    by_base = {os.path.basename(k): v for k, v in names.items()}
    if SYMBOL_FILE not in by_base:
        raise FormatError(f"no {SYMBOL_FILE} in the model; is this an image-classification model?", path=source)
    epochs = sorted(int(m.group(1)) for b in by_base if (m := _PARAMS_RE.match(b)))
    if not epochs:
        raise FormatError(f"no {MODEL_PREFIX}-NNNN.params in the model", path=source)
    home = os.path.dirname(by_base[SYMBOL_FILE])
    shape = None
    if SHAPES_FILE in by_base:
        try:
            with open(by_base[SHAPES_FILE]) as f:
                shape = tuple(int(d) for d in json.load(f)[-1]["shape"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise FormatError(f"bad {SHAPES_FILE}: {exc}", path=source) from exc
    return ModelFiles(home, os.path.join(home, MODEL_PREFIX), epochs[-1], shape, tuple(epochs))
