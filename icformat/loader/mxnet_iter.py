"""An ``mx.io.DataIter`` over an :class:`~icformat.loader.ImageLoader`, for ``Module.fit``.

MXNet is imported only when an iterator is made. Every batch has exactly ``batch_size`` samples,
as MXNet modules are bound to one shape: a short batch (the last one, or one that lost bad
records) is filled by repeating its first samples and ``pad`` says how many, as
``ImageRecordIter``'s ``round_batch`` does. Full-size batches reach MXNet without a copy (DLPack through
``mx.nd.from_numpy``); the loader never overwrites arrays MXNet still holds.
"""
from __future__ import annotations

import numpy as np

from ..mxnet_runtime import import_mxnet

_CLASS = None


def _full(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` grown to ``size`` rows by repeating it from the start."""
    if len(array) == size:
        return array
    return np.resize(array, (size, *array.shape[1:]))


def _iter_class():
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    mx = import_mxnet()

    class LoaderDataIter(mx.io.DataIter):
        """``mx.io.DataIter`` over an ImageLoader; ``reset()`` starts the loader's next epoch."""

        def __init__(self, loader, data_name: str = "data", label_name: str = "softmax_label", zero_copy: bool = True):
            super().__init__(loader.batch_size)
            self.loader = loader
            self.zero_copy = zero_copy
            c, h, w = loader.prep.data_shape
            width = loader.label_width or 1
            label_shape = (self.batch_size,) if width == 1 else (self.batch_size, width)
            self.provide_data = [mx.io.DataDesc(data_name, (self.batch_size, c, h, w), np.dtype(loader.prep.dtype))]
            self.provide_label = [mx.io.DataDesc(label_name, label_shape, np.float32)]
            self._epoch = None
            self._started = False

        def reset(self) -> None:
            if self._epoch is not None and not self._started:
                return  # nothing read yet: keep this epoch rather than skip it
            self._epoch = iter(self.loader)
            self._started = False

        def _array(self, array: np.ndarray):
            if self.zero_copy and array.flags.c_contiguous:
                # from_numpy's DLPack deleter takes the GIL; NumPy's own capsule (from_dlpack)
                # may be freed on an engine thread without it, which aborts the interpreter
                return mx.nd.from_numpy(array, zero_copy=True)
            return mx.nd.array(array, dtype=array.dtype)

        def next(self):
            if self._epoch is None:
                self.reset()
            batch = next(self._epoch)  # StopIteration ends the epoch, as MXNet expects
            self._started = True
            data, label = batch
            n = len(data)
            pad = self.batch_size - n + getattr(batch, "pad", 0)
            if n < self.batch_size:
                data, label = _full(data, self.batch_size), _full(label, self.batch_size)
            return mx.io.DataBatch(
                data=[self._array(data)], label=[self._array(label)], pad=pad, index=None,
                provide_data=self.provide_data, provide_label=self.provide_label,
            )

        def __next__(self):
            return self.next()

        def iter_next(self) -> bool:
            raise NotImplementedError("use next()")

        def close(self) -> None:
            self.loader.close()

    _CLASS = LoaderDataIter
    return _CLASS


def to_mxnet_iter(loader, *, data_name: str = "data", label_name: str = "softmax_label", zero_copy: bool = True):
    """Wrap ``loader`` as an ``mx.io.DataIter`` (``provide_data``/``provide_label``, ``reset``,
    ``next`` giving ``DataBatch`` with ``pad``)."""
    return _iter_class()(loader, data_name=data_name, label_name=label_name, zero_copy=zero_copy)
