"""RecordIO core: byte-compatibility with mxnet.recordio, streaming, indexing, hostile input."""
from __future__ import annotations

import io
import os
import random
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icformat.errors import RecordIOError
from icformat.recordio import (
    MAGIC_BYTES,
    IndexedRecordFile,
    IRHeader,
    RecordReader,
    RecordWriter,
    pack,
    read_index,
    scan_offsets,
    unpack,
)

EDGE_PAYLOADS = [
    b"",
    b"a",
    b"ab",
    b"abc",
    b"abcd",
    MAGIC_BYTES,  # magic at offset 0
    b"ABCD" + MAGIC_BYTES + b"EF",  # aligned magic in the middle
    b"A" + MAGIC_BYTES + b"xyz",  # unaligned: not split
    MAGIC_BYTES * 3,
    b"abcd" + MAGIC_BYTES,  # magic at the very end
    b"ab" + MAGIC_BYTES + b"cd" + MAGIC_BYTES,
]


def _random_payloads(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        data = bytearray(rng.randbytes(rng.randint(0, 400)))
        for _ in range(rng.randint(0, 3)):
            if len(data) >= 4:
                p = rng.randint(0, len(data) - 4)
                data[p : p + 4] = MAGIC_BYTES
        out.append(bytes(data))
    return out


PAYLOADS = EDGE_PAYLOADS + _random_payloads(150)


def _write_ours(path, payloads, keys=None):
    with RecordWriter(path, index=True) as writer:
        for i, p in enumerate(payloads):
            writer.write(p, key=i if keys is None else keys[i])


def test_worked_bytes_from_the_reference(tmp_path):
    # section A3 of the reference: single label 3.0, id 7, JPEG stub
    record = pack(IRHeader(0, 3.0, 7, 0), b"\xff\xd8\xff")
    buf = io.BytesIO()
    with RecordWriter(buf) as writer:
        writer.write(record)
    assert buf.getvalue().hex() == (
        "0a23d7ce1b000000" "0000000000004040" "0700000000000000" "0000000000000000" "ffd8ff00"
    )
    buf = io.BytesIO()
    with RecordWriter(buf) as writer:
        writer.write(b"ABCD" + MAGIC_BYTES + b"EF")
    assert buf.getvalue().hex() == "0a23d7ce04000020414243440a23d7ce0200006045460000"


@pytest.mark.parametrize("source", ["path", "fileobj", "small-chunks"])
def test_round_trip(tmp_path, source):
    path = tmp_path / "a.rec"
    _write_ours(path, PAYLOADS)
    if source == "path":
        got = list(RecordReader(path))
    elif source == "fileobj":
        with open(path, "rb") as f:
            got = list(RecordReader(f))
    else:
        with open(path, "rb") as f:
            got = list(RecordReader(f, chunk_bytes=64))
    assert got == PAYLOADS


def test_views_and_offsets(tmp_path):
    path = tmp_path / "a.rec"
    _write_ours(path, PAYLOADS)
    with RecordReader(path) as reader:
        assert [bytes(v) for v in reader.iter_views()] == PAYLOADS
    keys, offsets = read_index(tmp_path / "a.idx")
    with RecordReader(path) as reader:
        assert [o for o, _ in reader.iter_with_offsets()] == offsets


def test_small_records_take_the_vectorised_path_and_stay_exact(tmp_path):
    payloads = [os.urandom(i % 50) for i in range(20000)] + EDGE_PAYLOADS + [os.urandom(10) for _ in range(500)]
    path = tmp_path / "small.rec"
    _write_ours(path, payloads)
    assert list(RecordReader(path, chunk_bytes=4096)) == payloads
    with open(path, "rb") as f:
        assert list(RecordReader(f, chunk_bytes=4096)) == payloads


def test_record_larger_than_the_window(tmp_path):
    payloads = [b"x" * 5000, os.urandom(70000), b"y"]
    path = tmp_path / "big.rec"
    _write_ours(path, payloads)
    assert list(RecordReader(path, chunk_bytes=1024)) == payloads
    with open(path, "rb") as f:
        assert list(RecordReader(f, chunk_bytes=1024)) == payloads


def test_indexed_access(tmp_path):
    path = tmp_path / "a.rec"
    keys = [1000 + 3 * i for i in range(len(PAYLOADS))]
    _write_ours(path, PAYLOADS, keys)
    with IndexedRecordFile(path) as f:
        assert len(f) == len(PAYLOADS)
        assert f.keys == keys
        order = list(range(len(PAYLOADS)))
        random.Random(3).shuffle(order)
        for i in order:
            assert f[keys[i]] == PAYLOADS[i]
            assert f.at(i) == PAYLOADS[i]
        with pytest.raises(KeyError):
            f[-5]
    os.remove(tmp_path / "a.idx")
    with IndexedRecordFile(path) as f:  # index rebuilt by scanning; keys are positions
        assert f.keys == list(range(len(PAYLOADS)))
        assert [f.at(i) for i in range(len(f))] == PAYLOADS


def test_scan_offsets_uses_image_ids_when_distinct(tmp_path):
    path = tmp_path / "img.rec"
    with RecordWriter(path) as writer:
        for i in (5, 1, 9):
            writer.write(pack(IRHeader(0, float(i % 2), i, 0), b"\xff\xd8data"))
    keys, offsets = scan_offsets(path)
    assert keys == [5, 1, 9]
    assert scan_offsets(path, key="position")[0] == [0, 1, 2]


@pytest.mark.parametrize(
    "label, flag",
    [(3.0, 0), (0, 0), ([1.0, 0.0, 1.0], 3), (np.array([2.5, 7.0], dtype=np.float32), 2)],
)
def test_pack_unpack(label, flag):
    record = pack(IRHeader(99, label, 12, 0), b"payload")  # flag is forced as MXNet does
    header, payload = unpack(record)
    assert header.flag == flag
    assert header.id == 12
    assert bytes(payload) == b"payload"
    if flag:
        assert np.array_equal(header.label, np.asarray(label, dtype=np.float32))
    else:
        assert header.label == float(label)


@given(st.binary(max_size=64), st.integers(0, 2**40), st.lists(st.floats(width=32, allow_nan=False), max_size=6))
def test_pack_unpack_property(payload, id_, labels):
    label = labels if len(labels) > 1 else (labels[0] if labels else 0.0)
    header, out = unpack(pack(IRHeader(0, label, id_, 0), payload))
    assert bytes(out) == payload and header.id == id_
    if len(labels) > 1:
        assert np.array_equal(header.label, np.asarray(labels, dtype=np.float32))


def test_refuses_oversized_payload(tmp_path):
    class Huge:
        def __len__(self):
            return 1 << 29

    with RecordWriter(tmp_path / "x.rec") as writer:
        with pytest.raises(RecordIOError, match="2\\^29"):
            writer.write(Huge())


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with RecordWriter(tmp_path / "x.rec", index=True) as writer:
            writer.write(b"abc")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- hostile input


def _read_all(data: bytes, chunk: int | None = None):
    return list(RecordReader(io.BytesIO(data), **({"chunk_bytes": chunk} if chunk else {})))


def test_bad_magic_names_offset():
    good = io.BytesIO()
    with RecordWriter(good) as w:
        w.write(b"abcd")
    data = good.getvalue() + b"\x00" * 12
    with pytest.raises(RecordIOError) as err:
        _read_all(data)
    assert err.value.offset == 12 and "magic" in str(err.value)


def test_truncated_record_and_header():
    good = io.BytesIO()
    with RecordWriter(good) as w:
        w.write(b"abcdefgh")
    data = good.getvalue()
    with pytest.raises(RecordIOError, match="truncated record"):
        _read_all(data[:-3])
    with pytest.raises(RecordIOError, match="truncated record header"):
        _read_all(data + data[:5])


def test_bad_cflag_sequences():
    frame = lambda cflag, payload: struct.pack("<II", 0xCED7230A, (cflag << 29) | len(payload)) + payload
    with pytest.raises(RecordIOError, match="without a starting part"):
        _read_all(frame(3, b"abcd"))
    with pytest.raises(RecordIOError, match="cflag sequence"):
        _read_all(frame(1, b"abcd") + frame(0, b"efgh"))
    with pytest.raises(RecordIOError):
        _read_all(frame(5, b"abcd"))


def test_huge_length_on_a_small_stream_allocates_nothing_big():
    data = struct.pack("<II", 0xCED7230A, (1 << 29) - 1) + b"x" * 100
    with pytest.raises(RecordIOError, match="truncated"):
        _read_all(data, chunk=64)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=64, max_value=256))
def test_fuzz_random_bytes_only_raise_recordio_error(data, chunk):
    for reader in (lambda: _read_all(data, chunk), lambda: _read_all(MAGIC_BYTES + data, chunk)):
        try:
            reader()
        except RecordIOError:
            pass


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_fuzz_mutated_valid_files(tmp_path_factory, data):
    buf = io.BytesIO()
    with RecordWriter(buf) as w:
        for p in EDGE_PAYLOADS:
            w.write(p)
    raw = bytearray(buf.getvalue())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    path = tmp_path_factory.mktemp("fuzz") / "f.rec"
    path.write_bytes(bytes(raw[:cut]))
    for read in (lambda: list(RecordReader(path)), lambda: _read_all(bytes(raw[:cut]), 64)):
        try:
            read()
        except RecordIOError:
            pass


def test_reads_from_a_fifo(tmp_path):
    import threading

    source = tmp_path / "a.rec"
    _write_ours(source, PAYLOADS)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as out:
            data = source.read_bytes()
            for i in range(0, len(data), 333):  # dribble: records arrive split across reads
                out.write(data[i : i + 333])
                out.flush()

    thread = threading.Thread(target=feed)
    thread.start()
    got = list(RecordReader(fifo, chunk_bytes=256))
    thread.join(timeout=10)
    assert got == PAYLOADS


def test_uniform_runs_of_small_records(tmp_path):
    rng = random.Random(5)
    payloads = [rng.randbytes(99) + b"\x00" for _ in range(3000)]  # trailing NUL bytes must survive
    payloads += [b"x" + MAGIC_BYTES + rng.randbytes(95) for _ in range(100)]  # unaligned magic, same size
    payloads += [b"abcd" + MAGIC_BYTES + b"efgh"]  # a multi-part record breaks the run
    payloads += [rng.randbytes(37) for _ in range(2000)] + [b""] * 50
    path = tmp_path / "u.rec"
    _write_ours(path, payloads)
    assert list(RecordReader(path, chunk_bytes=8192)) == payloads
    with open(path, "rb") as f:
        assert list(RecordReader(f, chunk_bytes=8192)) == payloads
    keys, offsets = read_index(tmp_path / "u.idx")
    assert [o for o, _ in RecordReader(path, chunk_bytes=8192).iter_with_offsets()] == offsets


def test_memory_stays_flat_on_a_large_file(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "large.rec"
    blob = os.urandom(1 << 20)
    with RecordWriter(path) as writer:
        for _ in range(256):  # 256 MiB
            writer.write(blob)
    script = (
        "import resource, sys\n"
        "from icformat.recordio import RecordReader\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "n = sum(1 for _ in RecordReader(sys.argv[1]))\n"
        "print(n, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True).stdout
    count, growth_mib = map(int, out.split())
    assert count == 256
    assert growth_mib < 100, f"resident memory grew by {growth_mib} MiB reading a 256 MiB file"
