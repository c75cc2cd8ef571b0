"""Small real datasets for the preflight tests: JPEGs cut from the sample photos, packed into .rec
files, listed in .lst files or referenced from augmented manifests. Each builder makes a dataset
that passes; the tests then give it exactly one problem."""
from __future__ import annotations

import json
import os

import numpy as np
import simplejpeg

from icformat import samples
from icformat.lst import write_lst
from icformat.lst.parse import LstTable
from icformat.recordio import IRHeader, RecordWriter, pack
from icformat.train.artifacts import SYMBOL_FILE, params_file, write_model_tarball

CLASSES = 3
TRAIN_PER_CLASS = 4
VAL_PER_CLASS = 2
SIZE = (48, 40)  # width, height of the images: above image_shape 3,32,32

HP = {"num_classes": "3", "num_training_samples": "12", "mini_batch_size": "4", "image_shape": "3,32,32",
      "epochs": "2", "num_layers": "18"}


def jpegs(count: int, *, seed: int, size: tuple[int, int] = SIZE) -> list[bytes]:
    """``count`` distinct JPEGs (real photo crops) of ``size`` (width, height)."""
    return [simplejpeg.encode_jpeg(np.ascontiguousarray(a), quality=85, colorspace="RGB")
            for _, a in samples.iter_variants(count, seed=seed, size=size)]


def write_rec(path: str, labels: list, images: list[bytes]) -> str:
    """A .rec of ``images`` with ``labels`` (a number, or a list for multi-label records)."""
    with RecordWriter(path) as writer:
        for i, (label, image) in enumerate(zip(labels, images)):
            writer.write(pack(IRHeader(0, label if not isinstance(label, list) else np.asarray(label, "f4"), i, 0), image))
    return path


def balanced(per_class: int, classes: int = CLASSES) -> list[float]:
    return [float(i % classes) for i in range(per_class * classes)]


def rec_dataset(root: str, *, train_labels=None, val_labels=None, train_images=None, val_images=None) -> dict[str, str]:
    """``train.rec`` and ``validation.rec`` under ``root``; returns channel name -> path."""
    os.makedirs(root, exist_ok=True)
    train_labels = train_labels if train_labels is not None else balanced(TRAIN_PER_CLASS)
    val_labels = val_labels if val_labels is not None else balanced(VAL_PER_CLASS)
    train_images = train_images if train_images is not None else jpegs(len(train_labels), seed=1)
    val_images = val_images if val_images is not None else jpegs(len(val_labels), seed=2)
    return {"train": write_rec(os.path.join(root, "train.rec"), train_labels, train_images),
            "validation": write_rec(os.path.join(root, "validation.rec"), val_labels, val_images)}


def image_tree(root: str, count: int, *, seed: int, classes: int = CLASSES, size=SIZE) -> tuple[list[str], list[float]]:
    """``count`` JPEG files in ``class_k`` folders under ``root``; returns relative paths and labels."""
    paths, labels = [], []
    for i, data in enumerate(jpegs(count, seed=seed, size=size)):
        label = i % classes
        rel = f"class_{label}/img_{i:04d}.jpg"
        os.makedirs(os.path.join(root, f"class_{label}"), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
        paths.append(rel)
        labels.append(float(label))
    return paths, labels


def write_list(path: str, paths: list[str], labels: list[float]) -> str:
    table = LstTable(np.arange(len(paths), dtype=np.int64), np.asarray(labels, dtype=np.float64).reshape(-1, 1),
                     list(paths), np.arange(1, len(paths) + 1, dtype=np.int64), path)
    write_lst(path, table)
    return path


def lst_dataset(root: str) -> dict[str, str]:
    """Images + .lst channels: train/, validation/, train_lst/train.lst, validation_lst/validation.lst."""
    channels = {}
    for name, count, seed in (("train", CLASSES * TRAIN_PER_CLASS, 1), ("validation", CLASSES * VAL_PER_CLASS, 2)):
        folder = os.path.join(root, name)
        paths, labels = image_tree(folder, count, seed=seed)
        os.makedirs(os.path.join(root, f"{name}_lst"), exist_ok=True)
        write_list(os.path.join(root, f"{name}_lst", f"{name}.lst"), paths, labels)
        channels[name] = folder
        channels[f"{name}_lst"] = os.path.join(root, f"{name}_lst")
    return channels


def manifest_dataset(root: str, *, label_attr: str = "class") -> dict[str, str]:
    """``train.manifest`` and ``validation.manifest`` whose ``source-ref`` point at real JPEGs."""
    channels = {}
    for name, count, seed in (("train", CLASSES * TRAIN_PER_CLASS, 1), ("validation", CLASSES * VAL_PER_CLASS, 2)):
        paths, labels = image_tree(os.path.join(root, name), count, seed=seed)
        lines = [{"source-ref": os.path.join(root, name, p), label_attr: str(int(l))} for p, l in zip(paths, labels)]
        channels[name] = write_lines(os.path.join(root, f"{name}.manifest"), lines)
    return channels


def write_lines(path: str, records: list[dict]) -> str:
    with open(path, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    return path


def write_hp(path: str, **changes) -> str:
    hp = dict(HP)
    for name, value in changes.items():
        if value is None:
            hp.pop(name, None)
        else:
            hp[name] = str(value)
    with open(path, "w") as f:
        json.dump(hp, f)
    return path


def resnet_symbol(num_classes: int, units: tuple[int, ...] = (2, 2, 2, 2), bottleneck: bool = False) -> str:
    """The node names of SageMaker's ResNet symbol JSON: stem, ``stageS_unitU_*`` units, ``fc``
    (3 stages: the small-image layout, whose stem is a 3x3 convolution)."""
    kernel = "(3, 3)" if len(units) == 3 else "(7, 7)"
    nodes = [{"op": "null", "name": "data", "inputs": []},
             {"op": "Convolution", "name": "conv0", "attrs": {"kernel": kernel, "num_filter": "64"}, "inputs": []}]
    convs = ("conv1", "conv2", "conv3") if bottleneck else ("conv1", "conv2")
    for stage, count in enumerate(units, 1):
        for unit in range(1, count + 1):
            for conv in ("bn1",) + convs:
                nodes.append({"op": "Convolution" if conv.startswith("conv") else "BatchNorm",
                              "name": f"stage{stage}_unit{unit}_{conv}", "inputs": []})
    nodes.append({"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": str(num_classes)}, "inputs": []})
    nodes.append({"op": "SoftmaxOutput", "name": "softmax", "inputs": []})
    return json.dumps({"nodes": nodes, "arg_nodes": [0], "heads": [[len(nodes) - 1, 0, 0]],
                       "attrs": {"mxnet_version": ["int", 10300]}})


def model_tarball(dest: str, folder: str, *, num_classes: int = CLASSES, units=(2, 2, 2, 2), bottleneck=False,
                  shape=(3, 32, 32)) -> str:
    """A model.tar.gz as SageMaker writes it (symbol, params, shapes) for a ResNet of ``units``."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, SYMBOL_FILE), "w") as f:
        f.write(resnet_symbol(num_classes, units, bottleneck))
    with open(os.path.join(folder, params_file(1)), "wb") as f:
        f.write(b"\x00" * 16)
    write_model_tarball(dest, folder, [1], (4,) + tuple(shape))
    return dest


def undecodable(jpeg: bytes) -> bytes:
    """``jpeg`` with a bogus Huffman table: its header still reads, but no decoder makes an image of it
    (unlike a JPEG cut short, which decodes with a warning, as MXNet decodes it)."""
    at = jpeg.find(b"\xff\xc4")
    return jpeg[:at + 5] + b"\xff" * 16 + jpeg[at + 21:]
