"""Batched writing (``RecordWriter.write_many``, ``WriteBatch``, ``frame_into``, ``writev_all``)
gives the bytes, offsets, ``.idx`` lines and errors of writing record by record."""
from __future__ import annotations

import io
import os
import random
import signal
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icformat.errors import RecordIOError, UsageError
from icformat.recordio import MAGIC_BYTES, RecordReader, RecordWriter
from icformat.recordio.framing import frame_in_place, frame_into, frame_record
from icformat.recordio.writer import unwritten, writev_all

SIZES = [0, 1, 2, 3, 4, 5, 24, 100, 511, 512, 513, 4091, 4092, 4095, 4096, 4097, 5001, 20000]


@st.composite
def payloads(draw) -> bytes:
    """Random bytes of sizes around every threshold of the writer, with the magic planted at
    aligned (a multi-part record) and unaligned (a whole record) offsets; empty payloads too."""
    size = draw(st.sampled_from(SIZES) | st.integers(0, 9000))
    data = bytearray(random.Random(draw(st.integers(0, 2**32))).randbytes(size))
    if size >= 4:
        for pos, aligned in draw(st.lists(st.tuples(st.integers(0, size - 4), st.booleans()), max_size=4)):
            pos = pos & ~3 if aligned else pos
            data[pos : pos + 4] = MAGIC_BYTES
    return bytes(data)


heads = st.one_of(
    st.just(b""),
    st.binary(min_size=24, max_size=24),
    st.lists(st.sampled_from([MAGIC_BYTES, b"\0\0\0\0", b"\x01\x02\x03\x04"]), min_size=1, max_size=8).map(b"".join),
    st.binary(min_size=1, max_size=7),  # an unaligned head
)
records = st.lists(st.tuples(payloads(), heads, st.one_of(st.none(), st.integers(0, 2**40))), max_size=12)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def one_by_one(path, items) -> list[int]:
    with RecordWriter(path, index=True) as writer:
        return [writer.write(head + payload, key) for payload, head, key in items]


def files(path) -> tuple[bytes, bytes]:
    return path.read_bytes(), path.with_suffix(".idx").read_bytes()


@SETTINGS
@given(items=records)
def test_write_many_matches_writing_one_by_one(tmp_path_factory, items):
    tmp = tmp_path_factory.mktemp("many")
    expected = one_by_one(tmp / "one.rec", items)
    with RecordWriter(tmp / "many.rec", index=True) as writer:
        got = writer.write_many([p for p, _, _ in items], keys=[k for _, _, k in items], heads=[h for _, h, _ in items])
    assert got == expected
    assert files(tmp / "many.rec") == files(tmp / "one.rec")
    assert [bytes(r) for r in RecordReader(tmp / "many.rec")] == [h + p for p, h, _ in items]


@SETTINGS
@given(items=records, flushes=st.lists(st.booleans(), max_size=12), writes=st.lists(st.booleans(), max_size=12))
def test_batch_added_flushed_and_mixed_with_write(tmp_path_factory, items, flushes, writes):
    """Records added to the batch, flushed at random points, with plain writes in between."""
    tmp = tmp_path_factory.mktemp("batch")
    expected = one_by_one(tmp / "one.rec", items)
    got = []
    with RecordWriter(tmp / "batch.rec", index=True) as writer:
        batch = writer.batch()
        for i, (payload, head, key) in enumerate(items):
            if i < len(writes) and writes[i]:
                got.append(writer.write(head + payload, key))  # writes what the batch holds first
            else:
                got.append(batch.add(payload, key, head))
            if i < len(flushes) and flushes[i]:
                batch.flush()
    assert got == expected
    assert files(tmp / "batch.rec") == files(tmp / "one.rec")


@SETTINGS
@given(items=records)
def test_file_objects_with_and_without_a_descriptor(tmp_path_factory, items):
    """A caller's BytesIO (one write per piece) and a caller's open file (gathered writes)."""
    tmp = tmp_path_factory.mktemp("objects")
    plain = io.BytesIO()
    writer = RecordWriter(plain)
    for payload, head, _ in items:
        writer.write(head + payload)
    writer.close()
    memory = io.BytesIO()
    RecordWriter(memory).write_many([p for p, _, _ in items], heads=[h for _, h, _ in items])
    with open(tmp / "caller.rec", "wb") as f:
        f.write(b"lead")  # a caller's buffered file object with a descriptor: written before...
        writer = RecordWriter(f)
        writer.write_many([p for p, _, _ in items], heads=[h for _, h, _ in items])
        writer.close()
        f.write(b"tail")  # ...and after the records, through the file object
        assert f.tell() == 8 + len(plain.getvalue())
    assert memory.getvalue() == plain.getvalue()
    assert (tmp / "caller.rec").read_bytes() == b"lead" + plain.getvalue() + b"tail"


@given(payload=payloads(), head=heads)
@settings(max_examples=200, deadline=None)
def test_frame_into_pieces_join_to_frame_record(payload, head):
    pieces: list = []
    size = frame_into(pieces, payload, head)
    joined = b"".join(bytes(p) for p in pieces)
    assert joined == frame_record(head + payload) and size == len(joined)
    view_pieces: list = []
    frame_into(view_pieces, memoryview(payload), head)  # views are framed alike
    assert b"".join(bytes(p) for p in view_pieces) == joined


@given(payload=payloads(), head=heads, at=st.integers(0, 64), slack=st.integers(0, 16))
@settings(max_examples=300, deadline=None)
def test_frame_in_place_is_frame_record_where_the_payload_lies(payload, head, at, slack):
    """A payload written into shared memory after room for its frame head and image header is
    framed there to exactly ``frame_record``'s bytes, stale bytes around it notwithstanding; where it
    cannot be (the magic at an aligned offset, an unaligned start, no room, a payload elsewhere or empty)
    nothing is claimed and ``frame_into`` takes it."""
    import mmap

    memory = mmap.mmap(-1, at + 8 + len(head) + len(payload) + 3 + slack)
    memory.write(b"\xa5" * len(memory))  # what an earlier run left
    buffer = memoryview(memory)
    start = at + 8 + len(head)
    buffer[start : start + len(payload)] = payload
    framed = frame_record(head + payload)
    size = frame_in_place(buffer, at, head, buffer[start : start + len(payload)])
    split = len(framed) != 8 + len(head) + len(payload) + (-(len(head) + len(payload)) & 3)
    fits = at + len(framed) <= len(memory)
    if at % 4 or split or not fits or not payload:  # an empty payload has no place to check
        assert size == 0
    else:
        assert size == len(framed) and bytes(buffer[at : at + size]) == framed
    elsewhere = bytearray(len(payload) + 1)
    if payload:
        assert frame_in_place(buffer, at, head, memoryview(elsewhere)[1:]) == 0
    buffer.release()
    memory.close()


def test_magic_at_aligned_offsets_and_empty_payloads_by_hand(tmp_path):
    big = bytearray(random.Random(1).randbytes(6000))
    big[4096:4100] = MAGIC_BYTES
    big[8:12] = MAGIC_BYTES
    items = [(b"", b"", None), (bytes(big), b"", 5), (MAGIC_BYTES * 3, b"", None), (b"x", MAGIC_BYTES, 7),
             (bytes(big), MAGIC_BYTES + b"\0" * 20, 8), (b"", b"", 9)]
    expected = one_by_one(tmp_path / "one.rec", items)
    with RecordWriter(tmp_path / "many.rec", index=True) as writer:
        assert writer.write_many([p for p, _, _ in items], [k for _, _, k in items], [h for _, h, _ in items]) == expected
    assert files(tmp_path / "many.rec") == files(tmp_path / "one.rec")
    rec = (tmp_path / "many.rec").read_bytes()
    assert rec.count(MAGIC_BYTES) > len(items)  # multi-part records: one head per part


class Huge:
    def __len__(self) -> int:
        return 1 << 29


def test_an_oversized_record_fails_as_write_does_after_the_records_before_it():
    plain, batched = io.BytesIO(), io.BytesIO()
    writer = RecordWriter(plain)
    writer.write(b"first")
    with pytest.raises(RecordIOError) as by_write:
        writer.write(Huge())
    batch_writer = RecordWriter(batched)
    with pytest.raises(RecordIOError) as by_batch:
        batch_writer.write_many([b"first", Huge(), b"never"])
    assert str(by_batch.value) == str(by_write.value) and "2^29" in str(by_batch.value)
    assert batched.getvalue() == plain.getvalue() == frame_record(b"first")
    assert batch_writer.count == 1


@given(st.lists(st.binary(max_size=20), max_size=8), st.data())
def test_unwritten_is_what_a_short_write_leaves(pieces, data):
    joined = b"".join(pieces)
    written = data.draw(st.integers(0, len(joined)))
    assert b"".join(bytes(p) for p in unwritten(list(pieces), written)) == joined[written:]


def test_writev_all_through_a_pipe_with_signals_and_many_pieces():
    """More pieces than IOV_MAX, more bytes than the pipe holds, a slow reader and a timer signal
    interrupting the writes (short writes): the reader gets every byte, in order."""
    rng = random.Random(3)
    pieces = [rng.randbytes(rng.randrange(0, 3000)) for _ in range(3000)]
    expected = b"".join(pieces)
    read_end, write_end = os.pipe()
    received = bytearray()

    def drain() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as f:
            while chunk := f.read(4096):
                received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    try:
        writev_all(write_end, list(pieces))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(write_end)
        reader.join()
    assert bytes(received) == expected


def test_batched_writer_matches_mxnet_writer(mx, tmp_path):
    """MXNet's own MXIndexedRecordIO and write_many: identical .rec and .idx, magic and empty payloads included."""
    rng = random.Random(7)
    items = []
    for i in range(40):
        data = bytearray(rng.randbytes(rng.choice([0, 1, 3, 600, 5000, 30000])))
        if len(data) >= 8 and i % 3 == 0:
            pos = rng.randrange(0, len(data) - 4) & ~3
            data[pos : pos + 4] = MAGIC_BYTES
        items.append(bytes(data))
    keys = [3 * i + 1 for i in range(len(items))]
    theirs = mx.recordio.MXIndexedRecordIO(str(tmp_path / "m.idx"), str(tmp_path / "m.rec"), "w")
    for key, payload in zip(keys, items):
        theirs.write_idx(key, payload)
    theirs.close()
    with RecordWriter(tmp_path / "i.rec", index=True) as writer:
        writer.write_many(items[:17], keys[:17])
        writer.write_many(items[17:], keys[17:])
    assert files(tmp_path / "i.rec") == files(tmp_path / "m.rec")


def test_repeated_small_payloads_across_flushes(tmp_path):
    """Small payloads (labels) repeat: each batch frames one once and reuses it, the magic included."""
    small = [b"0", b"1", b"", MAGIC_BYTES, b"0" * 64, b"1" * 65, bytearray(b"0"), memoryview(b"1")]
    items = [small[i % len(small)] for i in range(50)]
    expected = one_by_one(tmp_path / "one.rec", [(bytes(p), b"", None) for p in items])
    got = []
    with RecordWriter(tmp_path / "batch.rec", index=True) as writer:
        batch = writer.batch()
        for i, payload in enumerate(items):
            got.append(batch.add(payload))
            if i % 7 == 6:
                batch.flush()
    assert got == expected
    assert files(tmp_path / "batch.rec") == files(tmp_path / "one.rec")


@SETTINGS
@given(items=records, flush_every=st.integers(1, 5), as_views=st.booleans())
def test_add_framed_matches_writing_one_by_one(tmp_path_factory, items, flush_every, as_views):
    """Records framed elsewhere (im2rec's workers, as frame_into's pieces joined) and added with
    ``WriteBatch.add_framed`` (as bytes or as views of one shared buffer), flushed now and then:
    the bytes, offsets and ``.idx`` of writing them one by one."""
    tmp = tmp_path_factory.mktemp("framed")
    expected = one_by_one(tmp / "one.rec", items)
    framed = []
    for payload, head, _ in items:
        pieces: list = []
        frame_into(pieces, payload, head)
        framed.append(b"".join(pieces))
    shared = memoryview(b"".join(framed))
    offsets, at = [], 0
    with RecordWriter(tmp / "framed.rec", index=True) as writer:
        batch = writer.batch()
        for i, (record, (_, _, key)) in enumerate(zip(framed, items)):
            offsets.append(batch.add_framed(shared[at : at + len(record)] if as_views else record, key))
            at += len(record)
            if i % flush_every == 0:
                batch.flush()
    assert offsets == expected
    assert files(tmp / "framed.rec") == files(tmp / "one.rec")


@SETTINGS
@given(items=records, cuts=st.lists(st.integers(0, 12), max_size=4))
def test_add_framed_run_matches_writing_one_by_one(tmp_path_factory, items, cuts):
    """Runs of records framed one after the other in one buffer (im2rec's shared slots), each
    added with ``WriteBatch.add_framed_run`` and flushed: the bytes and ``.idx`` of writing them
    one by one; sizes that do not add up are refused."""
    tmp = tmp_path_factory.mktemp("run")
    one_by_one(tmp / "one.rec", items)
    framed = []
    for payload, head, _ in items:
        pieces: list = []
        frame_into(pieces, payload, head)
        framed.append(b"".join(pieces))
    bounds = sorted({0, len(items), *(c for c in cuts if c <= len(items))})
    with RecordWriter(tmp / "run.rec", index=True) as writer:
        batch = writer.batch()
        for start, stop in zip(bounds, bounds[1:]):
            block = memoryview(b"".join(framed[start:stop]))
            batch.add_framed_run(block, [len(r) for r in framed[start:stop]], [k for _, _, k in items[start:stop]])
            batch.flush()
        with pytest.raises(UsageError, match="adding up"):
            batch.add_framed_run(b"abcd", [3], [None])
    assert files(tmp / "run.rec") == files(tmp / "one.rec")
