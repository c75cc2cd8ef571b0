"""icformat's RecordIO against MXNet's own reader, writer and ImageRecordIter (skipped without mxnet)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from icformat.recordio import IndexedRecordFile, IRHeader, RecordReader, RecordWriter, pack, unpack

from .test_recordio import PAYLOADS


def _mx_write(mx, prefix, payloads, keys=None):
    writer = mx.recordio.MXIndexedRecordIO(f"{prefix}.idx", f"{prefix}.rec", "w")
    for i, p in enumerate(payloads):
        writer.write_idx(i if keys is None else keys[i], p)
    writer.close()


def test_bytes_identical_to_mxnet_writer(mx, tmp_path):
    keys = [7 * i + 1 for i in range(len(PAYLOADS))]
    _mx_write(mx, tmp_path / "m", PAYLOADS, keys)
    with RecordWriter(tmp_path / "i.rec", index=True) as writer:
        for k, p in zip(keys, PAYLOADS):
            writer.write(p, key=k)
    assert (tmp_path / "m.rec").read_bytes() == (tmp_path / "i.rec").read_bytes()
    assert (tmp_path / "m.idx").read_bytes() == (tmp_path / "i.idx").read_bytes()


def test_reads_what_mxnet_wrote_and_mxnet_reads_ours(mx, tmp_path):
    _mx_write(mx, tmp_path / "m", PAYLOADS)
    assert list(RecordReader(tmp_path / "m.rec")) == PAYLOADS
    with RecordWriter(tmp_path / "i.rec", index=True) as writer:
        for p in PAYLOADS:
            writer.write(p)
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / "i.idx"), str(tmp_path / "i.rec"), "r")
    assert [reader.read_idx(k) for k in reader.keys] == PAYLOADS
    reader.close()


@pytest.mark.parametrize("label", [4.0, [1.0, 0.0, 1.0, 1.0], np.arange(7, dtype=np.float32)])
def test_pack_matches_mxnet(mx, label):
    for id_ in (0, 3, 2**40):
        ours = pack(IRHeader(0, label, id_, 0), b"\xff\xd8image")
        theirs = mx.recordio.pack(mx.recordio.IRHeader(0, label, id_, 0), b"\xff\xd8image")
        assert ours == theirs
        h1, p1 = unpack(theirs)
        h2, p2 = mx.recordio.unpack(ours)
        assert h1.flag == h2.flag and h1.id == h2.id and bytes(p1) == p2
        assert np.array_equal(np.asarray(h1.label), np.asarray(h2.label))


def test_indexed_file_reads_mxnet_index(mx, tmp_path):
    keys = list(range(100, 100 + len(PAYLOADS)))
    _mx_write(mx, tmp_path / "m", PAYLOADS, keys)
    with IndexedRecordFile(tmp_path / "m.rec") as f:
        assert f.keys == keys
        assert all(f[k] == p for k, p in zip(keys, PAYLOADS))


@pytest.mark.parametrize("multi_label", [False, True])
def test_image_record_iter_reads_our_rec(mx, tmp_path, photos, multi_label):
    import simplejpeg

    names = sorted(photos)[:6]
    labels = {}
    with RecordWriter(tmp_path / "img.rec", index=True) as writer:
        for i, name in enumerate(names):
            image = np.ascontiguousarray(photos[name][:64, :64])
            jpeg = simplejpeg.encode_jpeg(image, quality=90, colorspace="RGB")
            label = [float(i % 2), float((i + 1) % 2), 1.0] if multi_label else float(i % 3)
            labels[i] = np.atleast_1d(np.asarray(label, dtype=np.float32))
            writer.write(pack(IRHeader(0, label, i, 0), jpeg), key=i)
    it = mx.io.ImageRecordIter(
        path_imgrec=str(tmp_path / "img.rec"),
        path_imgidx=str(tmp_path / "img.idx"),
        data_shape=(3, 64, 64),
        batch_size=2,
        label_width=3 if multi_label else 1,
        shuffle=False,
        preprocess_threads=1,
    )
    seen = 0
    for batch in it:
        got = batch.label[0].asnumpy().reshape(2, -1)
        for row in got:
            assert np.allclose(row, labels[seen])
            seen += 1
        assert batch.data[0].shape == (2, 3, 64, 64)
    assert seen == len(names)
