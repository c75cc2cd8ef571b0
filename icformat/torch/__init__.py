"""PyTorch datasets over RecordIO (the ``torch`` extra): :class:`RecordDataset`, map-style over a
``.rec`` + ``.idx`` (local or ``s3://``), and :class:`RecordStreamDataset`, iterable over a ``.rec``,
a folder or prefix of shards, or a stream, split across DataLoader workers and distributed ranks.

Items are ``(image, labels)``: the image decoded to an RGB ``uint8`` array (HxWx3), or its raw bytes
with ``decode=False`` for your own transform; ``labels`` a float32 array (the record's one label, or
its ``flag`` labels). Both pickle, so they work with ``fork``, ``spawn`` and ``forkserver`` workers.
"""
from ..errors import MissingDependencyError

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - the message is the point
    raise MissingDependencyError("icformat.torch needs PyTorch: pip install 'icformat[torch]'") from exc

from .indexed import RecordDataset
from .streaming import RecordStreamDataset

__all__ = ["RecordDataset", "RecordStreamDataset"]
