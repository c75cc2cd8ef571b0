"""Who reads what: the reader of this process (DataLoader worker x distributed rank) among all."""
from __future__ import annotations

import os
from typing import NamedTuple

import torch.distributed
import torch.utils.data


class Reader(NamedTuple):
    """Reader ``index`` of ``count``: ``rank * num_workers + worker_id`` of ``world_size * num_workers``."""

    index: int
    count: int


def distributed_rank() -> tuple[int | None, int | None]:
    """``(rank, world_size)`` of this process: ``torch.distributed``'s when a process group is
    initialised, else ``RANK``/``WORLD_SIZE`` as ``torchrun`` sets them, else ``(None, None)``."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return None, None


def current_reader(rank: int | None = None, world_size: int | None = None) -> Reader:
    """This process's reader: the DataLoader worker (``get_worker_info``) within the rank (given,
    else :func:`distributed_rank`'s, else 0 of 1)."""
    if rank is None or world_size is None:
        rank, world_size = distributed_rank()
        if rank is None:
            rank, world_size = 0, 1
    info = torch.utils.data.get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return Reader(rank * workers + worker, world_size * workers)
