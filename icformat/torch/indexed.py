"""A map-style dataset over a ``.rec`` and its ``.idx``, local or ``s3://``."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch.utils.data

from ..io.paths import PathLike
from ..recordio.layout import layout_of
from ..recordio.random_access import IndexedRecordFile
from .items import ItemMaker, Transform


class RecordDataset(torch.utils.data.Dataset):
    """``dataset[i]`` is the ``i``-th record's ``(image, labels)``.

    ``idx`` defaults to the ``.idx`` beside ``rec`` (else the file is scanned once). ``keys``: the
    ``.idx`` keys of the records to read, in that order (default: every image record in ``.idx``
    order: an InsightFace face set's header and identity records are left out). ``key_type`` as ``MXIndexedRecordIO``'s.
    ``decode=False`` gives the image's bytes. ``transform`` gets the image, ``target_transform``
    the float32 labels. Local files are memory-mapped (``fork`` workers share the map); ``spawn``
    and ``forkserver`` workers get the path and index and open the file themselves.
    """

    def __init__(self, rec: PathLike, idx: PathLike | None = None, *, keys: Sequence | None = None,
                 key_type: Callable[[str], Any] | None = None, decode: bool = True,
                 transform: Transform = None, target_transform: Transform = None):
        self.records = IndexedRecordFile(rec, idx, key_type=key_type)
        if keys is not None:
            self.positions = [self.records.position(key) for key in keys]
        else:
            layout = layout_of(self.records)
            self.positions = None if layout.is_plain else layout.image_positions(self.records.keys).tolist()
        self.make_item = ItemMaker(decode, transform, target_transform)

    def __len__(self) -> int:
        return len(self.records) if self.positions is None else len(self.positions)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"{self.records.path}: record {i} of {len(self)}")
        position = i if self.positions is None else self.positions[i]
        return self.make_item(self.records.view_at(position), self.records.offsets[position], self.records.path)
