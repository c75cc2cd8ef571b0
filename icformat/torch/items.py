"""One record as a dataset item: ``(image, labels)``, the image decoded to RGB or left as bytes."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..image.decode import decode as decode_image
from ..recordio.header import split_record

Transform = Callable[[Any], Any] | None


class ItemMaker:
    """Turns a record's bytes into ``(transform(image), target_transform(labels))``; picklable
    when the transforms are (functions defined at the top of a module)."""

    def __init__(self, decode: bool = True, transform: Transform = None, target_transform: Transform = None):
        self.decode = decode
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, record, offset: int | None = None, path: str | None = None) -> tuple[Any, Any]:
        split = split_record(record, offset, path)
        image: np.ndarray | bytes = decode_image(split.image, color=1) if self.decode else bytes(split.image)
        labels = split.labels
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            labels = self.target_transform(labels)
        return image, labels
