"""The worked example (examples/insightface_torch.py) on an InsightFace-layout face set built here
from real face photos (the LFW faces scikit-image ships): InsightFace's own dataset class with the
drop-in import, icformat.torch's dataset, and a PyTorch training loop; no MXNet."""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.torch_env import require_torch

require_torch()

from examples import insightface_torch as example  # noqa: E402
from icformat.compat import recordio  # noqa: E402

IDENTITIES, PER_IDENTITY = 10, 8


def face_photos() -> np.ndarray:
    """80 real faces (LFW, 25x25 gray, in scikit-image's wheel) as 112x112 RGB, InsightFace's size."""
    from PIL import Image
    from skimage.data import lfw_subset

    faces = (lfw_subset()[: IDENTITIES * PER_IDENTITY] * 255).round().astype(np.uint8)  # the first 100 are faces
    return np.stack([np.asarray(Image.fromarray(face).resize((112, 112), Image.BICUBIC).convert("RGB")) for face in faces])


def write_face_set(folder: str) -> None:
    """train.rec/.idx as InsightFace's tools write them: header record 0, images 1..N (label: the
    identity), then one record per identity (label: the range of its images)."""
    faces = face_photos()
    images = len(faces)
    writer = recordio.MXIndexedRecordIO(os.path.join(folder, "train.idx"), os.path.join(folder, "train.rec"), "w")
    writer.write_idx(0, recordio.pack(recordio.IRHeader(2, [images + 1, images + 1 + IDENTITIES], 0, 0), b""))
    for i, face in enumerate(faces):
        bgr = np.ascontiguousarray(face[:, :, ::-1])
        writer.write_idx(i + 1, recordio.pack_img(recordio.IRHeader(0, float(i // PER_IDENTITY), i + 1, 0), bgr, quality=95))
    for ident in range(IDENTITIES):
        first = 1 + ident * PER_IDENTITY
        writer.write_idx(images + 1 + ident, recordio.pack(recordio.IRHeader(2, [first, first + PER_IDENTITY], 0, 0), b""))
    writer.close()


@pytest.fixture(scope="module")
def face_set(tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("faces"))
    write_face_set(folder)
    return folder


def test_insightface_dataset_class_and_icformat_dataset_agree(face_set):
    theirs = example.MXFaceDataset(face_set, transform=example.normalize)
    ours = example.face_dataset(face_set, transform=example.normalize)
    assert len(theirs) == len(ours) == IDENTITIES * PER_IDENTITY and theirs.header0 == (81, 91)
    for i in (0, 9, 79):
        (a, label_a), (b, label_b) = theirs[i], ours[i]
        assert a.shape == (3, 112, 112) and bool((a == b).all()) and int(label_a) == label_b == i // PER_IDENTITY
    assert example.count_identities(face_set) == IDENTITIES


def test_training_loop_reads_every_face_each_epoch(face_set, capsys):
    result = example.train(face_set, epochs=3, batch_size=16, num_workers=2)
    assert result["images"] == 80 and result["identities"] == IDENTITIES and result["seen"] == [80, 80, 80]
    assert all(np.isfinite(result["losses"])) and result["losses"][-1] < result["losses"][0]
    assert example.main([face_set, "--epochs", "1", "--num-workers", "0"]) == 0
    assert "epoch 1: 80 images of 10 identities" in capsys.readouterr().out
