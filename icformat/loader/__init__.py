"""Fast image-classification batches from RecordIO, ``.lst`` + images, or pipe-mode streams.

``ImageLoader`` decodes with libjpeg-turbo (at a reduced DCT scale when the output allows),
resamples only the pixels it keeps, and does all of it in worker processes writing into shared
memory; ``GpuImageLoader`` decodes with nvJPEG and augments on the GPU (falling back to the CPU
loader, with a warning, where there is no GPU); ``to_mxnet_iter`` wraps a loader as an
``mx.io.DataIter``.

    from icformat.loader import ImageLoader

    with ImageLoader("train.rec", 128, (3, 224, 224), resize=256, augmentation_type="crop") as loader:
        for epoch in range(10):
            for data, label in loader:      # data: 128 x 3 x 224 x 224 float32, label: (128,)
                ...                         # e.g. torch.from_dlpack(data), mx.nd.from_numpy(data)
"""
from .augment import Plan, frame_size, plan_sample
from .batch import BadRecordWarning, Batch, LoaderStats
from .gpu import GpuFallbackWarning, GpuImageLoader
from ..errors import BadRecordError
from .loader import ImageLoader
from .options import AUGMENTATION_TYPES, Augmentation, Preprocess, make_preprocess
from .sampler import epoch_order, part_order
from .workers import StartMethodWarning
from ..errors import WorkerError, WorkerTimeout


def to_mxnet_iter(loader, **kwargs):
    """An ``mx.io.DataIter`` over ``loader`` (imports MXNet; see :mod:`icformat.loader.mxnet_iter`)."""
    from .mxnet_iter import to_mxnet_iter as make

    return make(loader, **kwargs)


__all__ = [
    "ImageLoader",
    "GpuImageLoader",
    "GpuFallbackWarning",
    "Batch",
    "BadRecordError",
    "BadRecordWarning",
    "LoaderStats",
    "WorkerError",
    "WorkerTimeout",
    "StartMethodWarning",
    "Augmentation",
    "AUGMENTATION_TYPES",
    "Preprocess",
    "make_preprocess",
    "Plan",
    "plan_sample",
    "frame_size",
    "epoch_order",
    "part_order",
    "to_mxnet_iter",
]
