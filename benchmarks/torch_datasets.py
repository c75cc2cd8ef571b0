#!/usr/bin/env python3
"""icformat.torch in a DataLoader: images/s of the map-style RecordDataset over a ``.rec`` against an
ImageFolder over the same JPEGs (same transform, same workers), and of the iterable
RecordStreamDataset (one process, RGB arrays) against reading the same ``.rec`` with MXNet as
InsightFace does (``mxnet.recordio`` read + unpack + ``mx.image.imdecode``).

The anchor for the first figure is torchvision's ``ImageFolder`` as it works: one file per image,
opened and decoded by PIL (``pil_loader``: ``Image.open(f).convert("RGB")``). torchvision itself
cannot be installed beside the CPU torch 2.13.0 wheel here (its PyPI build needs CUDA's torch), so
the anchor is that same code on torch's ``Dataset`` (:class:`ImageFolderLike`). Torch runs in the
core environment (numpy 2); MXNet's anchor in the full one: this script runs each part where its
library is and puts the figures side by side.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np

from icformat.benchmarks._report import PACKAGE_ROOT, Report, emit  # noqa: E402

from icformat import samples  # noqa: E402
from icformat.recordio.header import IRHeader, pack  # noqa: E402
from icformat.recordio.writer import RecordWriter  # noqa: E402

CROP = 224


def build(work: str, count: int) -> tuple[str, str]:
    """The ImageNet-like JPEG folder and a ``.rec`` + ``.idx`` of the same bytes (label: class)."""
    root = os.path.join(work, "images")
    paths = samples.imagenet_like_corpus(root, count)
    rec = os.path.join(work, "train.rec")
    if not os.path.exists(rec):
        classes = sorted(os.listdir(root))
        with RecordWriter(rec, index=True) as writer:
            for i, rel in enumerate(paths):
                with open(os.path.join(root, rel), "rb") as f:
                    writer.write(pack(IRHeader(0, float(classes.index(rel.split(os.sep)[0])), i, 0), f.read()))
    return root, rec


def center_crop_tensor(image: np.ndarray):
    """The one transform both datasets use: a 224x224 centre crop as a CHW uint8 tensor (what
    torchvision's v2 ``CenterCrop`` + ``PILToTensor`` give; scaling to float is left to the GPU)."""
    import torch

    h, w = image.shape[:2]
    top, left = (h - CROP) // 2, (w - CROP) // 2
    crop = np.ascontiguousarray(image[top : top + CROP, left : left + CROP].transpose(2, 0, 1))
    return torch.from_numpy(crop)


def first_label(labels: np.ndarray) -> int:
    return int(labels[0])


def _image_folder_like():
    import torch.utils.data
    from PIL import Image

    class ImageFolderLike(torch.utils.data.Dataset):
        """torchvision's ImageFolder: sorted class folders, one JPEG per item through PIL."""

        def __init__(self, root: str, transform):
            self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
            self.samples = [(os.path.join(root, c, n), i) for i, c in enumerate(self.classes)
                            for n in sorted(os.listdir(os.path.join(root, c)))]
            self.transform = transform

        def __len__(self) -> int:
            return len(self.samples)

        def __getitem__(self, i: int):
            path, target = self.samples[i]
            with open(path, "rb") as f:
                image = Image.open(f).convert("RGB")
            return self.transform(np.asarray(image)), target

    return ImageFolderLike


def _rate(loader, epochs: int) -> float:
    """Images per second over the best of ``epochs`` epochs (after one warm-up epoch)."""
    best = float("inf")
    count = 0
    for epoch in range(epochs + 1):
        start = time.perf_counter()
        count = sum(len(labels) if hasattr(labels, "__len__") else 1 for _, labels in loader)
        if epoch:
            best = min(best, time.perf_counter() - start)
    return count / best


def _decode_rates(root: str, count: int = 128) -> tuple[float, float]:
    """Images/s of decoding alone, one process: icformat's decoder (libjpeg-turbo through
    simplejpeg) and PIL's (ImageFolder's loader): the limit of the first figure's ratio."""
    import io

    from PIL import Image

    from icformat.image.decode import decode

    files = []
    for folder, _, names in sorted(os.walk(root)):
        files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".jpg")]
    data = [open(path, "rb").read() for path in files[:count]]

    def rate(fn) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for jpeg in data:
                fn(jpeg)
            best = min(best, time.perf_counter() - start)
        return len(data) / best

    return rate(decode), rate(lambda jpeg: np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")))


def torch_part(root: str, rec: str, quick: bool) -> dict:
    """The figures measured with torch (core environment)."""
    from torch.utils.data import DataLoader

    from icformat.torch import RecordDataset, RecordStreamDataset

    epochs = 1 if quick else 2
    loader_args = dict(batch_size=32, num_workers=2, persistent_workers=True)
    ours = DataLoader(RecordDataset(rec, transform=center_crop_tensor, target_transform=first_label), **loader_args)
    folder = DataLoader(_image_folder_like()(root, center_crop_tensor), **loader_args)
    stream = DataLoader(RecordStreamDataset(rec, target_transform=first_label), batch_size=None, num_workers=0)
    figures = {"map": _rate(ours, epochs), "folder": _rate(folder, epochs), "stream": _rate(stream, epochs)}
    figures["decode"], figures["pil"] = _decode_rates(root)
    return figures


def mxnet_part(rec: str, quick: bool) -> float:
    """Images/s of MXNet as InsightFace's PyTorch dataset uses it: ``recordio.read`` + ``unpack`` +
    ``mx.image.imdecode(...).asnumpy()`` (RGB), one process."""
    import mxnet as mx
    from mxnet import recordio

    best = float("inf")
    count = 0
    for epoch in range((1 if quick else 2) + 1):
        start = time.perf_counter()
        reader = recordio.MXRecordIO(rec, "r")
        count = 0
        while (record := reader.read()) is not None:
            _, image = recordio.unpack(record)
            mx.image.imdecode(image).asnumpy()
            count += 1
        reader.close()
        if epoch:
            best = min(best, time.perf_counter() - start)
    return count / best


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _core_python() -> str | None:
    from icformat.benchmarks._models import core_python

    return core_python()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few images, one epoch: a smoke run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--torch-part", action="store_true", help=argparse.SUPPRESS)  # run by the full env's run
    args = parser.parse_args()
    count = 128 if args.quick else 512
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = args.dir if args.torch_part and args.dir else tmp
        root, rec = build(work, count)
        if args.torch_part:
            print(json.dumps(torch_part(root, rec, args.quick)))
            return
        if _has("torch"):
            figures = torch_part(root, rec, args.quick)
        else:
            core = _core_python()
            if core is None:
                raise SystemExit("torch is not installed here and there is no core environment (.venv-core) to run it in")
            cmd = [core, "-m", "icformat.benchmarks.torch_datasets", "--torch-part", "--dir", work] + (["--quick"] if args.quick else [])
            done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=PACKAGE_ROOT)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
        report = Report(f"icformat.torch datasets in a DataLoader ({count} ImageNet-sized JPEGs, {CROP}px centre crop)")
        report.add("RecordDataset, 2 workers", figures["map"], "img/s", "ImageFolder-like, PIL", figures["folder"], target=">= 1.5x")
        report.add("decode alone, 1 process", figures["decode"], "img/s", "PIL (ImageFolder's loader)", figures["pil"])
        if _has("mxnet"):
            report.add("RecordStreamDataset, 1 process, decoded", figures["stream"], "img/s", "mxnet.recordio+mx.image.imdecode",
                       mxnet_part(rec, args.quick))
    emit([report], args.json)


if __name__ == "__main__":
    main()
