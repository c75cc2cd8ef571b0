"""Train on an InsightFace face set (``train.rec`` + ``train.idx``: MS1M, Glint360K...) with PyTorch
and no MXNet.

InsightFace's layout: record 0 is a header whose ``flag`` is 2 and whose ``label`` is
``[first identity record, end of the identity records]``; records 1 to ``label[0] - 1`` are the face
images (a JPEG each, its identity as the label); the identity records follow (``label`` = the range
of that identity's images). InsightFace's PyTorch dataset reads it through ``mx.recordio``; here
the same class runs with one import changed (:class:`MXFaceDataset`), and the training loop uses
``icformat.torch.RecordDataset``, which reads the same records faster, in any DataLoader worker.

    python examples/insightface_torch.py FACES_FOLDER --epochs 2
"""
from __future__ import annotations

import argparse
import numbers
import os

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from icformat.compat import recordio  # was: from mxnet import recordio
from icformat.torch import RecordDataset


class MXFaceDataset(Dataset):
    """InsightFace's ``MXFaceDataset`` (arcface_torch/dataset.py) as written for MXNet; only the
    imports changed (``mx.recordio`` -> ``icformat.compat.recordio``, ``mx.image.imdecode(...).asnumpy()``
    -> ``recordio.imdecode(...)``)."""

    def __init__(self, root_dir: str, transform=None):
        self.transform = transform
        self.imgrec = recordio.MXIndexedRecordIO(os.path.join(root_dir, "train.idx"), os.path.join(root_dir, "train.rec"), "r")
        header, _ = recordio.unpack(self.imgrec.read_idx(0))
        if header.flag > 0:
            self.header0 = (int(header.label[0]), int(header.label[1]))
            self.imgidx = np.array(range(1, int(header.label[0])))
        else:
            self.imgidx = np.array(list(self.imgrec.keys))

    def __getitem__(self, index):
        header, img = recordio.unpack(self.imgrec.read_idx(self.imgidx[index]))
        label = header.label
        if not isinstance(label, numbers.Number):
            label = label[0]
        sample = recordio.imdecode(img)
        if self.transform is not None:
            sample = self.transform(sample)
        return sample, torch.tensor(label, dtype=torch.long)

    def __len__(self):
        return len(self.imgidx)


def normalize(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 HxWx3 -> CHW float in [-1, 1], as arcface_torch normalizes."""
    return (torch.from_numpy(image).permute(2, 0, 1).float() / 255 - 0.5) / 0.5


def flip_and_normalize(image: np.ndarray) -> torch.Tensor:
    """A random horizontal flip, then :func:`normalize` (the training transform)."""
    if np.random.random() < 0.5:
        image = image[:, ::-1].copy()
    return normalize(image)


def identity(labels: np.ndarray) -> int:
    """The record's identity: its first label."""
    return int(labels[0])


def face_dataset(root_dir: str, transform=flip_and_normalize) -> RecordDataset:
    """The face images of the set at ``root_dir`` as ``(CHW tensor, identity)`` items (the dataset
    finds the InsightFace layout itself and leaves its header and identity records out)."""
    return RecordDataset(os.path.join(root_dir, "train.rec"), os.path.join(root_dir, "train.idx"),
                         transform=transform, target_transform=identity)


class TinyFaceNet(nn.Module):
    """A small embedding network and a softmax head over the identities (a stand-in for
    ResNet + ArcFace: the data path is the point here)."""

    def __init__(self, identities: int, embedding: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(32 * 16, embedding),
        )
        self.head = nn.Linear(embedding, identities)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train(root_dir: str, *, epochs: int = 2, batch_size: int = 16, num_workers: int = 2, seed: int = 0,
          multiprocessing_context: str | None = None) -> dict:
    """Train :class:`TinyFaceNet` on the face set; returns per-epoch mean losses and image counts."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    dataset = face_dataset(root_dir)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                        generator=torch.Generator().manual_seed(seed), multiprocessing_context=multiprocessing_context,
                        persistent_workers=num_workers > 0)
    identities = count_identities(root_dir)
    model = TinyFaceNet(identities)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses, seen = [], []
    for _ in range(epochs):
        total, count = 0.0, 0
        for images, labels in loader:
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            count += len(labels)
        losses.append(total / count)
        seen.append(count)
    return {"images": len(dataset), "identities": identities, "losses": losses, "seen": seen}


def count_identities(root_dir: str) -> int:
    """The number of identity records (``label[1] - label[0]`` of record 0's header)."""
    reader = recordio.MXIndexedRecordIO(os.path.join(root_dir, "train.idx"), os.path.join(root_dir, "train.rec"), "r")
    try:
        header, _ = recordio.unpack(reader.read_idx(0))
        return int(header.label[1] - header.label[0])
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="folder holding train.rec and train.idx")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=2)
    args = parser.parse_args(argv)
    result = train(args.root, epochs=args.epochs, batch_size=args.batch_size, num_workers=args.num_workers)
    for epoch, (loss, seen) in enumerate(zip(result["losses"], result["seen"]), 1):
        print(f"epoch {epoch}: {seen} images of {result['identities']} identities, mean loss {loss:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
