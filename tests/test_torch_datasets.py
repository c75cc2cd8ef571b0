"""icformat.torch: the map-style and iterable datasets in a real ``torch.utils.data.DataLoader``
(2 workers under fork, spawn and forkserver; 2 ranks): every record exactly once per epoch."""
from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from tests.torch_env import require_torch

require_torch()

import torch  # noqa: E402
from torch.utils.data import DataLoader, DistributedSampler  # noqa: E402

from icformat import samples
from icformat.errors import UsageError
from icformat.image.decode import decode
from icformat.image.encode import encode_jpeg
from icformat.recordio.header import IRHeader, pack
from icformat.recordio.writer import RecordWriter
from icformat.torch import RecordDataset, RecordStreamDataset
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)
from tests.torch_support import first_label, read_as_rank, to_tensor

COUNT = 24
METHODS = ["fork", "spawn", "forkserver"]


@pytest.fixture(scope="module")
def images():
    return [encode_jpeg(array, 90) for _, array in samples.iter_variants(COUNT, seed=3, size=(32, 24))]


def _write(path, images, numbers):
    with RecordWriter(str(path), index=True) as writer:
        for n in numbers:
            writer.write(pack(IRHeader(0, [n, n % 3], n, 0), images[n]), key=n)


@pytest.fixture(scope="module")
def rec(tmp_path_factory, images):
    path = tmp_path_factory.mktemp("rec") / "train.rec"
    _write(path, images, range(COUNT))
    return str(path)


@pytest.fixture(scope="module")
def shards(tmp_path_factory, images):
    folder = tmp_path_factory.mktemp("shards")
    for s in range(3):
        _write(folder / f"train-{s:05d}-of-00003.rec", images, range(s * 8, s * 8 + 8))
    return str(folder)


def _numbers(loader) -> list[int]:
    got = []
    for images, labels in loader:
        assert images.shape[1:] == (3, 24, 32) and images.dtype == torch.float32
        got += [int(n) for n in labels]
    return got


def test_map_style_items(rec, images):
    dataset = RecordDataset(rec)
    assert len(dataset) == COUNT
    image, labels = dataset[5]
    assert image.dtype == np.uint8 and np.array_equal(image, decode(images[5])) and labels.tolist() == [5, 2]
    raw = RecordDataset(rec, decode=False, keys=[7, 3], target_transform=first_label)
    assert len(raw) == 2 and raw[0] == (images[7], 7) and raw[1] == (images[3], 3)
    with pytest.raises(IndexError):
        raw[2]
    with pytest.raises(KeyError, match="no record with key 99"):
        RecordDataset(rec, keys=[99])


@pytest.mark.parametrize("method", METHODS)
def test_map_style_in_a_dataloader(rec, method):
    dataset = RecordDataset(rec, transform=to_tensor, target_transform=first_label)
    loader = DataLoader(dataset, batch_size=5, shuffle=True, num_workers=2, multiprocessing_context=method,
                        persistent_workers=True)
    for _ in range(2):  # two epochs
        assert sorted(_numbers(loader)) == list(range(COUNT))


@pytest.mark.parametrize("method", METHODS)
def test_iterable_in_a_dataloader(shards, method):
    for split in ("shards", "records") if method == "fork" else ("records",):  # workers start fast under fork
        dataset = RecordStreamDataset(shards, transform=to_tensor, target_transform=first_label, split=split)
        loader = DataLoader(dataset, batch_size=5, num_workers=2, multiprocessing_context=method)
        assert sorted(_numbers(loader)) == list(range(COUNT))


def test_two_ranks_two_workers_each(rec, shards):
    """Every record once over 2 ranks x 2 fork workers: DistributedSampler for the map-style dataset,
    the rank given to the iterable one (as torch.distributed would give it)."""
    dataset = RecordDataset(rec, transform=to_tensor, target_transform=first_label)
    mapped, streamed = [], []
    for rank in range(2):
        sampler = DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=True, seed=1)
        mapped.append(_numbers(DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=2)))
        for split in ("shards", "records"):
            stream = RecordStreamDataset(shards, transform=to_tensor, target_transform=first_label, split=split,
                                         rank=rank, world_size=2)
            streamed.append(_numbers(DataLoader(stream, batch_size=4, num_workers=2)))
    assert len(mapped[0]) == len(mapped[1]) and sorted(mapped[0] + mapped[1]) == list(range(COUNT))
    assert sorted(streamed[0] + streamed[2]) == sorted(streamed[1] + streamed[3]) == list(range(COUNT))


def test_ranks_of_a_real_process_group(shards, tmp_path):
    """Two processes in a gloo process group: the dataset takes its rank from torch.distributed."""
    spawn = multiprocessing.get_context("spawn")
    answers = spawn.Queue()
    ranks = [spawn.Process(target=read_as_rank, args=(r, str(tmp_path / "store"), shards, answers)) for r in range(2)]
    for process in ranks:
        process.start()
    got = dict(answers.get(timeout=240) for _ in ranks)
    for process in ranks:
        process.join(60)
        assert process.exitcode == 0
    assert len(got[0]) == len(got[1]) == COUNT // 2 and sorted(got[0] + got[1]) == list(range(COUNT))


@pytest.mark.parametrize("readers", [1, 2, 3, 4, 5, 7])
def test_every_split_reads_each_record_once(shards, readers):
    for split in ("auto", "shards", "records"):
        got = []
        for rank in range(readers):
            dataset = RecordStreamDataset([shards], decode=False, target_transform=first_label, split=split,
                                          rank=rank, world_size=readers)
            got += [n for _, n in dataset]
        assert sorted(got) == list(range(COUNT)), (split, readers)


def test_a_stream_has_one_reader(shards, tmp_path):
    path = os.path.join(shards, "train-00001-of-00003.rec")
    with open(path, "rb") as stream:
        assert [n for _, n in RecordStreamDataset(stream, decode=False, target_transform=first_label)] == list(range(8, 16))
    with open(path, "rb") as stream:
        with pytest.raises(UsageError, match="a stream has one reader only, but 2 read"):
            list(RecordStreamDataset(stream, rank=0, world_size=2))
    with pytest.raises(UsageError, match="split='rows'"):
        RecordStreamDataset(shards, split="rows")


def test_map_style_on_s3(s3_bucket, rec, images):
    from icformat.io import s3

    for ext in (".rec", ".idx"):
        with open(rec[:-4] + ext, "rb") as f:
            s3.put(f"s3://{s3_bucket}/faces/train{ext}", f.read())
    dataset = RecordDataset(f"s3://{s3_bucket}/faces/train.rec", decode=False)
    assert len(dataset) == COUNT and [dataset[i][0] for i in (0, 23, 11)] == [images[0], images[23], images[11]]
    loader = DataLoader(RecordDataset(f"s3://{s3_bucket}/faces/train.rec", transform=to_tensor, target_transform=first_label),
                        batch_size=6, num_workers=2, multiprocessing_context="fork")
    assert sorted(_numbers(loader)) == list(range(COUNT))


def test_iterable_over_an_s3_prefix(s3_bucket, shards):
    from icformat.io import s3

    for name in sorted(os.listdir(shards)):
        with open(os.path.join(shards, name), "rb") as f:
            s3.put(f"s3://{s3_bucket}/sets/{name}", f.read())
    dataset = RecordStreamDataset(f"s3://{s3_bucket}/sets/train", transform=to_tensor, target_transform=first_label)
    assert len(dataset.shards) == 3
    assert sorted(_numbers(DataLoader(dataset, batch_size=4, num_workers=2))) == list(range(COUNT))


@pytest.mark.parametrize("header_first", [False, True])
def test_both_datasets_leave_out_an_insightface_sets_header_records(tmp_path, header_first):
    """A face set in InsightFace's layout: both datasets give its image records only, found from the
    ``.idx`` (no ``keys`` given), with each image's identity."""
    rec = str(tmp_path / "train.rec")
    made = samples.write_insightface_rec(rec, identities=4, header_first=header_first)
    want = sorted(made["labels"].items())
    mapped = RecordDataset(rec, target_transform=first_label)
    assert len(mapped) == len(want)
    assert sorted(zip(made["labels"], (mapped[i][1] for i in range(len(mapped))))) == want
    streamed = [label for _, label in RecordStreamDataset(rec, target_transform=first_label)]
    assert sorted(streamed) == sorted(label for _, label in want)
