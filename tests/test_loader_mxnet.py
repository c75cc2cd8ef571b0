"""The loader beside MXNet: the ``mx.io.DataIter`` adapter, and ImageRecordIter as an oracle."""
from __future__ import annotations

import numpy as np
import pytest

from icformat.loader import ImageLoader, to_mxnet_iter

from .test_loader import make_jpegs, write_rec

pytestmark = pytest.mark.mxnet


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> str:
    images = make_jpegs(20, seed=5, sizes=((64, 48), (48, 64)))
    return write_rec(str(tmp_path_factory.mktemp("mxrec") / "data.rec"), images, [float(i % 4) for i in range(20)])


def test_data_iter_adapter(mx, rec):
    loader = ImageLoader(rec, 8, (3, 32, 32), resize=40, augmentation_type="crop", num_workers=2)
    it = to_mxnet_iter(loader)
    assert isinstance(it, mx.io.DataIter)
    assert it.provide_data[0].shape == (8, 3, 32, 32) and it.provide_label[0].shape == (8,)
    for epoch in range(2):
        it.reset()
        batches = list(it)
        assert [b.pad for b in batches] == [0, 0, 4]
        for b in batches:
            assert b.data[0].shape == (8, 3, 32, 32) and b.label[0].shape == (8,)
        labels = np.concatenate([b.label[0].asnumpy()[: 8 - b.pad] for b in batches])
        assert sorted(labels.tolist()) == sorted(float(i % 4) for i in range(20))
    assert loader.stats.epochs == 2  # reset() before the first batch did not skip an epoch
    it.close()
    assert loader.closed


def test_adapter_feeds_a_module(mx, rec):
    """A tiny network trains for an epoch from the adapter, as Module.fit would use it."""
    loader = ImageLoader(rec, 4, (3, 32, 32), resize=40, num_workers=0, last_batch="pad")
    it = to_mxnet_iter(loader, zero_copy=False)
    data = mx.sym.var("data")
    net = mx.sym.FullyConnected(mx.sym.flatten(data / 255), num_hidden=4)
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    module = mx.mod.Module(net, context=mx.cpu())
    module.fit(it, num_epoch=1, optimizer_params={"learning_rate": 0.01})
    assert loader.stats.epochs == 1
    loader.close()


def test_centre_crop_close_to_image_record_iter(mx, rec):
    """No augmentation: resize + centre crop like ImageRecordIter (its own decoder and OpenCV
    resize), same records in the same order."""
    ours = ImageLoader(rec, 20, (3, 32, 32), resize=40, shuffle=False, num_workers=0)
    mine = next(iter(ours))
    ours.close()
    theirs = mx.io.ImageRecordIter(
        path_imgrec=rec, data_shape=(3, 32, 32), batch_size=20, resize=40, shuffle=False, preprocess_threads=1,
    )
    batch = theirs.next()
    data, label = batch.data[0].asnumpy(), batch.label[0].asnumpy()
    assert np.array_equal(label, mine.label)
    diffs = np.abs(data - mine.data).mean(axis=(1, 2, 3))
    assert diffs.max() < 3.0, diffs
    assert np.median(diffs) < 1.5, diffs


def test_zero_copy_into_mxnet(mx, rec):
    with ImageLoader(rec, 4, (3, 32, 32), resize=40, num_workers=0) as loader:
        data, _ = next(iter(loader))
        expected = data.copy()
        nd = mx.nd.from_numpy(data, zero_copy=True)
        del data
        for _ in loader:  # the slot behind nd is not reused while nd lives
            pass
        assert np.array_equal(nd.asnumpy(), expected)
