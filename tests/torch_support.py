"""Functions that DataLoader workers and rank processes started by spawn or forkserver import by
name: kept in a module of their own, light to import (the test module pulls in much more)."""
from __future__ import annotations

import numpy as np
import torch
import torch.distributed
from torch.utils.data import DataLoader

from icformat.torch import RecordStreamDataset


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """CHW float in [0, 1]."""
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


def first_label(labels: np.ndarray) -> int:
    return int(labels[0])


def read_as_rank(rank: int, store: str, shards: str, answers) -> None:
    """One rank of a 2-process gloo group: the record numbers its DataLoader (2 workers) reads."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        dataset = RecordStreamDataset(shards, target_transform=first_label, split="records", decode=False)
        answers.put((rank, [int(n) for _, n in DataLoader(dataset, batch_size=None, num_workers=2)]))
    finally:
        torch.distributed.destroy_process_group()
