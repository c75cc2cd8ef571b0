"""An iterable dataset over a RecordIO dataset read front to back: one ``.rec``, a folder or prefix
of shards (local or ``s3://``), several of those, or a stream."""
from __future__ import annotations

import os
from typing import Any, BinaryIO, Iterator, Sequence

import torch.utils.data

from ..errors import UsageError
from ..io.paths import PathLike, is_fifo
from ..recordio.layout import PLAIN_LAYOUT, detect_layout
from ..recordio.reader import RecordReader
from ..recordio.shards import list_rec_shards
from .items import ItemMaker, Transform
from .split import Reader, current_reader, distributed_rank

SPLITS = ("auto", "shards", "records")


class RecordStreamDataset(torch.utils.data.IterableDataset):
    """Every record of ``source`` once per epoch, as ``(image, labels)``, split between all readers
    (DataLoader workers on every distributed rank) so that none is lost or repeated.

    ``split="shards"`` gives each reader whole shards (reader ``i`` of ``n`` takes shards ``i``,
    ``i + n``...): each file is read once, but readers get as many records as their shards hold.
    ``split="records"`` has every reader walk every shard and keep records ``i``, ``i + n``...
    (only its own are decoded): balanced, for fewer shards than readers. ``"auto"`` takes shards when
    there are at least as many shards as readers. ``rank``/``world_size`` default to those of
    ``torch.distributed`` (or ``torchrun``'s variables) where the dataset is made, which its
    DataLoader workers inherit. A stream (a FIFO or a file object) has one reader only. The header
    and identity records of an InsightFace face set (found through its ``.idx``) are left out.
    """

    def __init__(self, source: PathLike | BinaryIO | Sequence[PathLike], *, decode: bool = True,
                 transform: Transform = None, target_transform: Transform = None, split: str = "auto",
                 rank: int | None = None, world_size: int | None = None):
        if split not in SPLITS:
            raise UsageError(f"split={split!r}: use one of {', '.join(SPLITS)}")
        self.shards = _shards(source)
        self.split = split
        if rank is None or world_size is None:
            rank, world_size = distributed_rank()
        self.rank, self.world_size = rank, world_size
        self.make_item = ItemMaker(decode, transform, target_transform)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        reader = current_reader(self.rank, self.world_size)
        if reader.count > 1 and any(hasattr(s, "read") or is_fifo(s) for s in self.shards):
            raise UsageError(f"a stream has one reader only, but {reader.count} read this dataset "
                             "(DataLoader workers x ranks); use num_workers=0 and one rank, or files")
        by_shards = self.split == "shards" or (self.split == "auto" and len(self.shards) >= reader.count)
        if by_shards:
            for shard in self.shards[reader.index :: reader.count]:
                yield from self._items(shard, Reader(0, 1))
            return
        first = 0  # the dataset-wide number of the shard's first record
        for shard in self.shards:
            first = yield from self._items(shard, reader, first)

    def _items(self, shard, reader: Reader, first: int = 0) -> Iterator[tuple[Any, Any]]:
        """The items of one shard whose dataset-wide record number ``first + i`` falls to ``reader``;
        returns the number after the shard's last record."""
        path = _name(shard)
        layout = PLAIN_LAYOUT if hasattr(shard, "read") else detect_layout(shard)
        with RecordReader(shard) as records:
            for batch in records.iter_batches():
                start = (reader.index - first) % reader.count
                offsets = batch.file_offsets
                header = layout.is_header_offset(offsets)
                for i in range(start, len(batch), reader.count):
                    if not header[i]:
                        yield self.make_item(batch[i], int(offsets[i]), path)
                first += len(batch)
        return first


def _shards(source) -> list:
    """The ordered list of shards (paths, URIs, or one file object) of ``source``."""
    if hasattr(source, "read"):
        return [source]
    if isinstance(source, (str, os.PathLike)):
        return list_rec_shards(source)
    return [shard for item in source for shard in list_rec_shards(item)]


def _name(shard) -> str | None:
    return getattr(shard, "name", None) if hasattr(shard, "read") else os.fspath(shard)
