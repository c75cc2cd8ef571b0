"""The ``mxnet.recordio`` drop-in against MXNet 1.9.1 itself (full environment): the same public
names and signatures; files written by either are read by the other and are byte-identical (plain,
indexed, multi-label and image records); images decode to the same arrays."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from icformat.compat import recordio

pytestmark = pytest.mark.mxnet

PUBLIC = ["MXRecordIO", "MXIndexedRecordIO", "IRHeader", "pack", "unpack", "pack_img", "unpack_img"]


def _signature(obj):
    return str(inspect.signature(obj)).replace("'", "")


def test_same_names_and_signatures(mx):
    for name in PUBLIC:
        assert hasattr(recordio, name), name
    for name in ("pack", "unpack", "pack_img", "unpack_img"):
        ours = inspect.signature(getattr(recordio, name))
        theirs = inspect.signature(getattr(mx.recordio, name))
        assert [(p.name, p.default) for p in ours.parameters.values()] == [(p.name, p.default) for p in theirs.parameters.values()]
    for cls in ("MXRecordIO", "MXIndexedRecordIO"):
        ours, theirs = getattr(recordio, cls), getattr(mx.recordio, cls)
        assert [p.name for p in inspect.signature(ours).parameters.values()] == [p.name for p in inspect.signature(theirs).parameters.values()]
        public = {n for n in dir(theirs) if not n.startswith("_")}
        assert public <= set(dir(ours)), public - set(dir(ours))
    assert recordio.IRHeader._fields == mx.recordio.IRHeader._fields


def _records():
    rng = np.random.default_rng(0)
    records = [b"", b"a", b"ab", b"abc", b"abcd", b"\x0a\x23\xd7\xce" * 3 + b"tail"]  # padding; the magic inside
    records += [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(1, 3000, 30)]
    return records


def _labelled(module):
    """Multi-label and single-label records packed by ``module.pack``."""
    return [module.pack(module.IRHeader(0, [i, i + 0.5, -1.25] if i % 2 else float(i), i, 0), b"payload %d" % i) for i in range(20)]


def _write_plain(module, path, records):
    writer = module.MXRecordIO(path, "w")
    for record in records:
        writer.write(record)
    writer.close()


def _write_indexed(module, idx, rec, records, keys):
    writer = module.MXIndexedRecordIO(idx, rec, "w")
    for key, record in zip(keys, records):
        writer.write_idx(key, record)
    writer.close()


@pytest.mark.parametrize("kind", ["plain", "multi-label"])
def test_plain_files_byte_identical_and_read_by_each_other(mx, tmp_path, kind):
    records = _records() if kind == "plain" else _labelled(mx.recordio)
    if kind == "multi-label":
        assert _labelled(recordio) == records
    _write_plain(mx.recordio, str(tmp_path / "mx.rec"), records)
    _write_plain(recordio, str(tmp_path / "ours.rec"), records)
    assert (tmp_path / "mx.rec").read_bytes() == (tmp_path / "ours.rec").read_bytes()
    for reader_module, name in ((recordio, "mx.rec"), (mx.recordio, "ours.rec")):
        reader = reader_module.MXRecordIO(str(tmp_path / name), "r")
        assert [reader.read() for _ in records] == records and reader.read() is None
        reader.close()
    if kind == "multi-label":
        for record in records:
            (h1, p1), (h2, p2) = mx.recordio.unpack(record), recordio.unpack(record)
            assert (h1.flag, h1.id, h1.id2, p1) == (h2.flag, h2.id, h2.id2, p2)
            assert np.array_equal(np.asarray(h1.label), np.asarray(h2.label))


def test_indexed_files_byte_identical_and_read_by_each_other(mx, tmp_path):
    records = _labelled(mx.recordio) + _records()
    keys = list(range(0, 3 * len(records), 3))
    _write_indexed(mx.recordio, str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), records, keys)
    _write_indexed(recordio, str(tmp_path / "ours.idx"), str(tmp_path / "ours.rec"), records, keys)
    for ext in (".rec", ".idx"):
        assert (tmp_path / f"mx{ext}").read_bytes() == (tmp_path / f"ours{ext}").read_bytes()
    ours = recordio.MXIndexedRecordIO(str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), "r")
    theirs = mx.recordio.MXIndexedRecordIO(str(tmp_path / "ours.idx"), str(tmp_path / "ours.rec"), "r")
    assert ours.keys == theirs.keys and ours.idx == theirs.idx
    order = list(reversed(keys))
    assert [ours.read_idx(k) for k in order] == [theirs.read_idx(k) for k in order]
    ours.seek(keys[5])
    theirs.seek(keys[5])
    assert [ours.read() for _ in range(4)] == [theirs.read() for _ in range(4)]


def test_string_keys_read_by_each_other(mx, tmp_path):
    keys = ["007", "a key with spaces", "x"]
    records = [b"r0", b"r1", b"r2"]
    writer = recordio.MXIndexedRecordIO(str(tmp_path / "a.idx"), str(tmp_path / "a.rec"), "w", key_type=str)
    for key, record in zip(keys, records):
        writer.write_idx(key, record)
    writer.close()
    theirs = mx.recordio.MXIndexedRecordIO(str(tmp_path / "a.idx"), str(tmp_path / "a.rec"), "r", key_type=str)
    ours = recordio.MXIndexedRecordIO(str(tmp_path / "a.idx"), str(tmp_path / "a.rec"), "r", key_type=str)
    assert ours.keys == theirs.keys == keys
    assert [ours.read_idx(k) for k in keys] == [theirs.read_idx(k) for k in keys] == records


@pytest.fixture(scope="module")
def bgr(photos):
    return np.ascontiguousarray(photos["astronaut"][::2, ::2, ::-1])


@pytest.mark.parametrize("img_fmt", [".jpg", ".png"])
def test_image_records_read_by_each_other(mx, tmp_path, bgr, img_fmt):
    header = mx.recordio.IRHeader(0, [3, 1], 42, 0)
    ours_packed = recordio.pack_img(header, bgr, quality=90 if img_fmt == ".jpg" else 3, img_fmt=img_fmt)
    theirs_packed = mx.recordio.pack_img(header, bgr, quality=90 if img_fmt == ".jpg" else 3, img_fmt=img_fmt)
    _write_indexed(recordio, str(tmp_path / "a.idx"), str(tmp_path / "a.rec"), [ours_packed, theirs_packed], [0, 1])
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / "a.idx"), str(tmp_path / "a.rec"), "r")
    for key, packed in enumerate((ours_packed, theirs_packed)):
        record = reader.read_idx(key)
        assert record == packed
        for iscolor in (-1, 1, 0):
            (h1, img1), (h2, img2) = mx.recordio.unpack_img(record, iscolor), recordio.unpack_img(record, iscolor)
            assert h1.id == h2.id == 42 and list(h1.label) == list(h2.label) == [3, 1]
            assert img1.shape == img2.shape and img1.dtype == img2.dtype
            if img_fmt == ".png" and iscolor == 0:  # gray from colour: libpng's rounding, not Pillow's
                assert np.abs(img1.astype(int) - img2).max() <= 1
            else:
                assert np.array_equal(img1, img2), (key, iscolor)
        _, payload = recordio.unpack(record)
        for flag in (1, 0):
            assert np.array_equal(mx.image.imdecode(payload, flag=flag).asnumpy(), recordio.imdecode(payload, flag=flag)) or (
                img_fmt == ".png" and flag == 0)
        assert np.array_equal(mx.image.imdecode(payload, to_rgb=0).asnumpy(), recordio.imdecode(payload, to_rgb=False))
    if img_fmt == ".png":  # lossless: both encoders store the same pixels
        assert np.array_equal(recordio.unpack_img(ours_packed)[1], bgr)
