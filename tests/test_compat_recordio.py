"""The ``mxnet.recordio`` drop-in (``icformat.compat.recordio``) without MXNet: MXNet 1.9.1's own
``tests/python/unittest/test_recordio.py`` ported (the first three tests), then each behaviour of
its API that user code relies on."""
from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import random
import string
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from icformat.compat import recordio
from icformat.errors import RecordIOError, UsageError
from icformat.image.decode import decode
from icformat.image.encode import encode_jpeg, encode_png

N = 255


# --- MXNet's test_recordio.py, with `mx.recordio` replaced by the drop-in -----------------------

def test_recordio(tmp_path):
    frec = str(tmp_path / "a.rec")
    writer = recordio.MXRecordIO(frec, "w")
    for i in range(N):
        writer.write(bytes(str(chr(i)), "utf-8"))
    del writer

    reader = recordio.MXRecordIO(frec, "r")
    for i in range(N):
        res = reader.read()
        assert res == bytes(str(chr(i)), "utf-8")


def test_indexed_recordio(tmp_path):
    fidx, frec = str(tmp_path / "a.idx"), str(tmp_path / "a.rec")
    writer = recordio.MXIndexedRecordIO(fidx, frec, "w")
    for i in range(N):
        writer.write_idx(i, bytes(str(chr(i)), "utf-8"))
    del writer

    reader = recordio.MXIndexedRecordIO(fidx, frec, "r")
    keys = reader.keys
    assert sorted(keys) == [i for i in range(N)]
    random.shuffle(keys)
    for i in keys:
        res = reader.read_idx(i)
        assert res == bytes(str(chr(i)), "utf-8")


def test_recordio_pack_label():
    rng = random.Random(0)
    for i in range(1, N, 7):  # MXNet runs every i in 1..254 (64,770 packs); every 7th keeps it quick
        for j in range(N):
            content = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(j)).encode("utf-8")
            label = np.random.uniform(size=i).astype(np.float32)
            header = (0, label, 0, 0)
            s = recordio.pack(header, content)
            rheader, rcontent = recordio.unpack(s)
            assert (label == rheader.label).all()
            assert content == rcontent


# --- the rest of the API ------------------------------------------------------------------------

def _records(count=10):
    return [b"record-%03d" % i * (i + 1) for i in range(count)]


def _write_indexed(tmp_path, keys, key_type=int):
    fidx, frec = str(tmp_path / "a.idx"), str(tmp_path / "a.rec")
    writer = recordio.MXIndexedRecordIO(fidx, frec, "w", key_type=key_type)
    for key, record in zip(keys, _records(len(keys))):
        writer.write_idx(key, record)
    writer.close()
    return fidx, frec


def test_read_gives_none_at_the_end_and_reset_starts_again(tmp_path):
    frec = str(tmp_path / "a.rec")
    with_multipart = _records() + [b"\x0a\x23\xd7\xce" * 40]  # the magic inside: a multi-part record
    writer = recordio.MXRecordIO(frec, "w")
    for record in with_multipart:
        writer.write(record)
    writer.close()
    reader = recordio.MXRecordIO(frec, "r")
    assert [reader.read() for _ in range(len(with_multipart))] == with_multipart
    assert reader.read() is None and reader.read() is None
    reader.reset()
    assert reader.read() == with_multipart[0]
    reader.close()
    reader.close()  # twice is fine, as in MXNet


def test_tell_seek_keys_and_idx(tmp_path):
    fidx, frec = str(tmp_path / "a.idx"), str(tmp_path / "a.rec")
    writer = recordio.MXIndexedRecordIO(fidx, frec, "w")
    positions = []
    for i, record in enumerate(_records()):
        positions.append(writer.tell())
        writer.write_idx(i * 10, record)
    end = writer.tell()
    writer.close()
    assert positions[0] == 0 and end == os.path.getsize(frec)
    assert open(fidx).read() == "".join(f"{i * 10}\t{p}\n" for i, p in enumerate(positions))

    reader = recordio.MXIndexedRecordIO(fidx, frec, "r")
    assert reader.keys == [i * 10 for i in range(10)]
    assert reader.idx == {i * 10: p for i, p in enumerate(positions)}
    reader.seek(30)
    assert reader.read() == _records()[3] and reader.read() == _records()[4]  # reading goes on from there
    assert reader.read_idx(90) == _records()[9] and reader.read() is None
    with pytest.raises(KeyError):
        reader.read_idx(5)


def test_string_keys_with_key_type_str(tmp_path):
    keys = ["007", "a key with spaces", "8"]
    fidx, frec = _write_indexed(tmp_path, keys, key_type=str)
    reader = recordio.MXIndexedRecordIO(fidx, frec, "r", key_type=str)
    assert reader.keys == keys
    assert reader.read_idx("007") == _records()[0] and reader.read_idx("a key with spaces") == _records()[1]
    as_ints = recordio.MXIndexedRecordIO(str(tmp_path / "b.idx"), frec, "w")
    as_ints.write_idx("007", b"x")  # key_type=int turns "007" into 7, as MXNet does
    as_ints.close()
    assert open(tmp_path / "b.idx").read() == "7\t0\n"


def test_wrong_mode_and_bad_flag(tmp_path):
    fidx, frec = _write_indexed(tmp_path, range(3))
    reader = recordio.MXIndexedRecordIO(fidx, frec, "r")
    with pytest.raises(UsageError, match="opened with flag 'r'; cannot write"):
        reader.write(b"x")
    with pytest.raises(UsageError, match="cannot write"):
        reader.tell()
    with pytest.raises(ValueError, match="Invalid flag x"):
        recordio.MXRecordIO(frec, "x")
    writer = recordio.MXRecordIO(str(tmp_path / "w.rec"), "w")
    with pytest.raises(UsageError, match="cannot read"):
        writer.read()
    with pytest.raises(TypeError, match="takes bytes"):
        writer.write("text")
    writer.close()


def test_damaged_file_names_the_offset(tmp_path):
    frec = str(tmp_path / "a.rec")
    writer = recordio.MXRecordIO(frec, "w")
    for record in _records(3):
        writer.write(record)
    writer.close()
    with open(frec, "r+b") as f:
        f.seek(os.path.getsize(frec) - 20)
        f.truncate()
    reader = recordio.MXRecordIO(frec, "r")
    reader.read(), reader.read()
    with pytest.raises(RecordIOError, match=r"a\.rec@\d+: truncated record"):
        reader.read()


def test_writer_completes_its_file_when_the_script_just_ends(tmp_path):
    script = textwrap.dedent(f"""
        from icformat.compat import recordio
        writer = recordio.MXIndexedRecordIO({str(tmp_path / 'a.idx')!r}, {str(tmp_path / 'a.rec')!r}, 'w')
        for i in range(5):
            writer.write_idx(i, b'record %d' % i)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    assert sorted(os.listdir(tmp_path)) == ["a.idx", "a.rec"]
    reader = recordio.MXIndexedRecordIO(str(tmp_path / "a.idx"), str(tmp_path / "a.rec"), "r")
    assert [reader.read_idx(i) for i in range(5)] == [b"record %d" % i for i in range(5)]


def test_garbage_collection_closes(tmp_path):
    writer = recordio.MXRecordIO(str(tmp_path / "a.rec"), "w")
    writer.write(b"abc")
    del writer
    gc.collect()
    assert os.listdir(tmp_path) == ["a.rec"]


def _read_keys(reader, keys):
    return [reader.read_idx(k) for k in keys]


def test_pickling_reopens_in_spawned_workers(tmp_path):
    fidx, frec = _write_indexed(tmp_path, range(10))
    reader = recordio.MXIndexedRecordIO(fidx, frec, "r")
    reader.read_idx(2)
    copy = pickle.loads(pickle.dumps(reader))
    assert copy.is_open and copy.keys == reader.keys and copy.read_idx(4) == _records()[4]
    assert reader.read_idx(5) == _records()[5]  # pickling closed it (as MXNet does); seek reopens it
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        got = pool.starmap(_read_keys, [(reader, [1, 2]), (reader, [9])])
    assert got == [_records()[1:3], [_records()[9]]]


def _read_after_fork(reader, answers):
    try:
        reader.read()
    except RuntimeError as exc:
        answers.put(str(exc))
    else:
        answers.put("read")


def test_forked_process_may_not_go_on_reading(tmp_path):
    frec = str(tmp_path / "a.rec")
    writer = recordio.MXRecordIO(frec, "w")
    writer.write(b"x")
    writer.close()
    reader = recordio.MXRecordIO(frec, "r")
    fork = multiprocessing.get_context("fork")
    answers = fork.Queue()
    child = fork.Process(target=_read_after_fork, args=(reader, answers))  # inherited, not pickled
    child.start()
    assert answers.get(timeout=60) == "Forbidden operation in multiple processes"
    child.join()
    assert reader.read() == b"x"  # the parent goes on


def test_pack_and_unpack_headers():
    header = recordio.IRHeader(9, 3.5, 12345, 7)
    packed = recordio.pack(header, b"img")
    assert len(packed) == 24 + 3
    got, payload = recordio.unpack(packed)
    assert got == (0, 3.5, 12345, 7) and payload == b"img"  # a scalar label forces flag 0
    got, payload = recordio.unpack(recordio.pack((0, [1, 2, 3], 5, 0), b"img"))
    assert got.flag == 3 and got.label.dtype == np.float32 and list(got.label) == [1, 2, 3] and payload == b"img"


@pytest.fixture(scope="module")
def photo():
    from icformat import samples

    return samples.sample_photos()["astronaut"][::4, ::4].copy()  # RGB


def test_pack_img_takes_bgr_and_unpack_img_gives_bgr(photo):
    """Item 7: OpenCV's BGR order on both sides; icformat.image's RGB is the other way round."""
    bgr = np.ascontiguousarray(photo[:, :, ::-1])
    header = recordio.IRHeader(0, 1.0, 0, 0)
    _, payload = recordio.unpack(recordio.pack_img(header, bgr, img_fmt=".png"))
    assert np.array_equal(decode(payload), photo)  # stored as the right colours
    _, back = recordio.unpack_img(recordio.pack_img(header, bgr, img_fmt=".png"))
    assert np.array_equal(back, bgr)
    assert not np.array_equal(back, photo)


def test_unpack_img_iscolor(photo):
    header = recordio.IRHeader(0, 1.0, 0, 0)
    record = recordio.pack(header, encode_jpeg(photo, 95))
    as_stored = recordio.unpack_img(record)[1]
    color = recordio.unpack_img(record, 1)[1]
    gray = recordio.unpack_img(record, 0)[1]
    assert as_stored.shape == color.shape == photo.shape and gray.shape == photo.shape[:2]
    assert np.array_equal(color, decode(encode_jpeg(photo, 95))[:, :, ::-1])
    assert np.array_equal(gray, decode(encode_jpeg(photo, 95), color=0))
    rgba = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])
    unchanged = recordio.unpack_img(recordio.pack(header, encode_png(rgba)), -1)[1]
    assert unchanged.shape[2] == 4 and np.array_equal(unchanged, rgba[:, :, [2, 1, 0, 3]])
    assert recordio.unpack_img(recordio.pack(header, b"not an image"))[1] is None  # OpenCV returns None


def test_pack_img_quality_and_format(photo):
    bgr = np.ascontiguousarray(photo[:, :, ::-1])
    header = recordio.IRHeader(0, [1, 2], 3, 0)
    small, large = (recordio.unpack(recordio.pack_img(header, bgr, quality=q))[1] for q in (20, 98))
    assert small[:2] == large[:2] == b"\xff\xd8" and len(small) < len(large)
    png = recordio.unpack(recordio.pack_img(header, bgr, quality=9, img_fmt=".PNG"))[1]
    assert png.startswith(b"\x89PNG")
    with pytest.raises(UsageError, match="img_fmt '.webp'"):
        recordio.pack_img(header, bgr, img_fmt=".webp")


def test_imdecode_as_mxnet_image(photo):
    jpeg = encode_jpeg(photo, 90)
    rgb = recordio.imdecode(jpeg)
    assert rgb.shape == photo.shape and rgb.dtype == np.uint8 and np.array_equal(rgb, decode(jpeg))
    assert np.array_equal(recordio.imdecode(jpeg, to_rgb=False), rgb[:, :, ::-1])
    assert recordio.imdecode(jpeg, flag=0).shape == photo.shape[:2] + (1,)
