"""Record batches (``RecordReader.iter_batches``) against the plain sequential parser, the per-record
iterator and mxnet.recordio: the same records, and the same error after the same records."""
from __future__ import annotations

import io
import os
import struct
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from icformat.errors import RecordIOError
from icformat.recordio import MAGIC_BYTES, HEADER_SIZE, IRHeader, RecordReader, RecordWriter, pack, split_record
from icformat.recordio.batch import RecordBatch
from icformat.recordio.header import HEADER, unpack_columns
from icformat.recordio.scan import scan_sequential

SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                    deadline=None)


@st.composite
def payloads(draw) -> bytes:
    """0..300 bytes, sometimes holding the magic at aligned offsets (a multi-part record) or unaligned."""
    data = bytearray(draw(st.binary(min_size=0, max_size=300)))
    for _ in range(draw(st.integers(0, 3))):
        if len(data) >= 4:
            at = draw(st.integers(0, len(data) - 4))
            if draw(st.booleans()):
                at &= ~3  # aligned: the writer splits the record there
            data[at : at + 4] = MAGIC_BYTES
    return bytes(data)


record_lists = st.lists(payloads(), max_size=40)
limits = st.tuples(st.none() | st.integers(1, 50), st.none() | st.integers(1, 2000))


def _encode(records: list[bytes]) -> bytes:
    buf = io.BytesIO()
    with RecordWriter(buf) as writer:
        for r in records:
            writer.write(r)
    return buf.getvalue()


def _plain(data: bytes) -> tuple[list[int], list[bytes], RecordIOError | None]:
    """The plain path: the sequential parser, one record at a time over the whole file."""
    view = memoryview(data)
    offsets, records, errors = [], [], []
    pos = 0
    while pos < len(data) and not errors:
        got_offsets, got, pos = scan_sequential(view, pos, len(data), 0, final=True, path=None, max_records=1, errors=errors)
        offsets += got_offsets
        records += [bytes(p) for p in got]
    return offsets, records, errors[0] if errors else None


def _drain(batches) -> tuple[list[int], list[bytes], RecordIOError | None, list[RecordBatch]]:
    offsets, records, seen = [], [], []
    try:
        for batch in batches:
            seen.append(batch)
            offsets += batch.file_offsets.tolist()
            records += batch.to_list()
    except RecordIOError as exc:
        return offsets, records, exc, seen
    return offsets, records, None, seen


def _drain_records(iterator) -> tuple[list[int], list[bytes], RecordIOError | None]:
    offsets, records = [], []
    try:
        for offset, record in iterator:
            offsets.append(offset)
            records.append(bytes(record))
    except RecordIOError as exc:
        return offsets, records, exc
    return offsets, records, None


def _same_error(got: RecordIOError | None, want: RecordIOError | None, path: str | None = None) -> None:
    if want is None:
        assert got is None, f"unexpected error {got}"
        return
    assert got is not None, f"expected {want}"
    assert type(got) is type(want)
    assert (got.reason, got.offset) == (want.reason, want.offset)
    assert got.path == path


def _readers(path, data: bytes, chunk: int):
    """Makers of readers of the same bytes as a local file (mmap) and as a stream (file object)."""
    return [(lambda: RecordReader(path, chunk_bytes=chunk), str(path)),
            (lambda: RecordReader(io.BytesIO(data), chunk_bytes=chunk), None)]


def _check_all(tmp_path_factory, data: bytes, chunk: int, max_records, max_bytes) -> None:
    want_offsets, want, want_error = _plain(data)
    path = tmp_path_factory.mktemp("batch") / "f.rec"
    path.write_bytes(data)
    for make, name in _readers(path, data, chunk):
        with make() as reader:
            offsets, records, error, batches = _drain(reader.iter_batches(max_records=max_records, max_bytes=max_bytes))
            assert records == want and offsets == want_offsets
            _same_error(error, want_error, name)
            _full_but_the_last(batches, max_records, max_bytes)
            for batch in batches:
                assert 1 <= len(batch) <= (max_records or len(batch))
                assert len(batch) == 1 or max_bytes is None or batch.nbytes <= max_bytes
                assert [bytes(v) for v in batch] == batch.to_list() == [bytes(batch[i]) for i in range(len(batch))]
                assert list(batch.iter_bytes()) == batch.to_list()
        for copy in (True, False):
            with make() as reader:
                offsets, records, error = _drain_records(reader.iter_with_offsets(copy=copy))
            assert records == want and offsets == want_offsets
            _same_error(error, want_error, name)
        for plain in (lambda r: iter(r), lambda r: r.iter_views()):
            with make() as reader:
                _, records, error = _drain_records(enumerate(plain(reader)))
            assert records == want
            _same_error(error, want_error, name)


def _full_but_the_last(batches: list[RecordBatch], max_records, max_bytes) -> None:
    """Every batch but the last (and the one before an error) is full: ``max_records`` records, or
    the next record would not have fitted in ``max_bytes``."""
    if max_records is None and max_bytes is None:
        return
    for batch, after in zip(batches, batches[1:]):
        full = len(batch) == max_records or (max_bytes is not None and batch.nbytes + int(after.lengths[0]) > max_bytes)
        assert full, (len(batch), batch.nbytes, max_records, max_bytes)


@SETTINGS
@given(record_lists, limits, st.integers(64, 600))
def test_batches_equal_the_plain_parser_and_the_iterator(tmp_path_factory, records, limit, chunk):
    data = _encode(records)
    assert _plain(data)[1] == records
    _check_all(tmp_path_factory, data, chunk, *limit)


@SETTINGS
@given(record_lists, limits, st.integers(64, 600), st.data())
def test_truncated_files(tmp_path_factory, records, limit, chunk, data):
    raw = _encode(records)
    cut = data.draw(st.integers(0, len(raw)))
    _check_all(tmp_path_factory, raw[:cut], chunk, *limit)


@SETTINGS
@given(record_lists, limits, st.integers(64, 600), st.data())
def test_overwritten_bytes(tmp_path_factory, records, limit, chunk, data):
    raw = bytearray(_encode(records))
    assume(len(raw) >= 4)
    at = data.draw(st.integers(0, len(raw) - 4))
    raw[at : at + 4] = data.draw(st.binary(min_size=4, max_size=4) | st.just(MAGIC_BYTES) | st.just(struct.pack("<I", 3 << 29)))
    _check_all(tmp_path_factory, bytes(raw), chunk, *limit)


@SETTINGS
@given(record_lists, limits, st.integers(64, 600), st.binary(min_size=1, max_size=40))
def test_junk_appended(tmp_path_factory, records, limit, chunk, junk):
    _check_all(tmp_path_factory, _encode(records) + junk, chunk, *limit)


def test_many_small_records_take_the_vectorised_path(tmp_path):
    rng = np.random.default_rng(1)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 150, 30000)]
    records[5000] = b"abcd" + MAGIC_BYTES + b"efgh"  # a multi-part record inside a run
    records[20000:20003] = [MAGIC_BYTES * 3, b"", b"x" + MAGIC_BYTES]
    data = _encode(records)
    path = tmp_path / "small.rec"
    path.write_bytes(data)
    for limit in [(None, None), (1000, None), (None, 70_000), (7, 500)]:
        _check_all_once(path, data, records, *limit)
    # damage deep inside a vectorised run: every record before it still comes out
    broken = bytearray(data)
    head = _plain(data)[0][15000]
    broken[head : head + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(broken))
    want_offsets, want, want_error = _plain(bytes(broken))
    assert want_error is not None and len(want) == 15000
    with RecordReader(path, chunk_bytes=1 << 16) as reader:
        offsets, got, error, _ = _drain(reader.iter_batches(max_records=256))
    assert got == want and offsets == want_offsets
    _same_error(error, want_error, str(path))


def _check_all_once(path, data, records, max_records, max_bytes):
    for reader in (RecordReader(path, chunk_bytes=1 << 16), RecordReader(io.BytesIO(data), chunk_bytes=1 << 16), RecordReader(path)):
        with reader:
            _, got, error, batches = _drain(reader.iter_batches(max_records=max_records, max_bytes=max_bytes))
        assert error is None and got == records
        if max_records is not None and max_bytes is None:  # full batches but the last one
            assert all(len(b) == max_records for b in batches[:-1])


def test_batches_stay_valid_and_headers_decode(tmp_path):
    path = tmp_path / "img.rec"
    records = [pack(IRHeader(0, float(i % 7), i, 3 * i), os.urandom(i % 90)) for i in range(5000)]
    with RecordWriter(path) as writer:
        for r in records:
            writer.write(r)
    with RecordReader(path, chunk_bytes=1 << 15) as reader:
        batches = list(reader.iter_batches(max_records=512))
        assert [bytes(v) for b in batches for v in b] == records  # earlier batches still readable
        ids = np.concatenate([b.headers().id for b in batches])
        labels = np.concatenate([b.labels(1) for b in batches])
    assert ids.tolist() == list(range(5000))
    assert labels[:, 0].tolist() == [float(i % 7) for i in range(5000)]


def test_batches_from_a_fifo(tmp_path):
    records = [os.urandom(n % 200) for n in range(3000)] + [b"ab" + MAGIC_BYTES + b"cd" + MAGIC_BYTES]
    data = _encode(records)[:-3]  # the last record is cut short
    want_offsets, want, want_error = _plain(data)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as out:
            for i in range(0, len(data), 777):
                out.write(data[i : i + 777])
                out.flush()

    thread = threading.Thread(target=feed)
    thread.start()
    with RecordReader(fifo, chunk_bytes=4096) as reader:
        offsets, got, error, _ = _drain(reader.iter_batches(max_records=100))
    thread.join(timeout=10)
    assert got == want and offsets == want_offsets and want_error is not None
    _same_error(error, want_error, str(fifo))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=40),  # mostly no valid header
    st.builds(lambda flag, label, id_, id2, tail: HEADER.pack(flag, label, id_, id2) + tail,
              st.integers(0, 6) | st.integers(0, 2**32 - 1), st.floats(width=32), st.integers(0, 2**64 - 1),
              st.integers(0, 2**64 - 1), st.binary(max_size=40)),
), max_size=30), st.integers(0, 7))
def test_vectorised_header_codec_equals_split_record(records, lead):
    buffer = b"\x00" * lead + b"".join(records)
    lengths = np.array([len(r) for r in records], dtype=np.int64)
    offsets = lead + np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64) if records else np.zeros(0, np.int64)
    columns = unpack_columns(buffer, offsets, lengths)
    file_offsets = offsets * 10
    first_error = None
    for i, record in enumerate(records):
        try:
            split = split_record(record, int(file_offsets[i]), "f.rec")
        except RecordIOError as exc:
            assert not columns.fits[i]
            assert columns.has_header[i] == (len(record) >= HEADER_SIZE)
            mine = columns.error(i, lengths, file_offsets, "f.rec")
            assert (mine.reason, mine.offset, mine.path) == (exc.reason, exc.offset, exc.path)
            first_error = first_error or exc
            continue
        assert columns.fits[i] and columns.has_header[i]
        assert np.array_equal(columns.labels_of(buffer, offsets, i), split.labels, equal_nan=True)
        assert columns.labels_of(buffer, offsets, i).dtype == split.labels.dtype
        assert (columns.flag[i], columns.id[i], columns.id2[i]) == (split.header.flag, split.header.id, split.header.id2)
        raw_label = HEADER.unpack_from(record)[1]
        assert np.array_equal(columns.label[i:i + 1], np.array([raw_label], np.float32), equal_nan=True)
        start, length = int(columns.image_offsets[i]), int(columns.image_lengths[i])
        assert buffer[start : start + length] == bytes(split.image)
    if first_error is None:
        columns.check(lengths, file_offsets, "f.rec")
        widths = {len(split_record(r).labels) for r in records}
        if len(widths) == 1:
            from icformat.recordio.header import label_rows

            rows = label_rows(buffer, offsets, columns, widths.pop())
            for i, record in enumerate(records):
                assert np.array_equal(rows[i], split_record(record).labels, equal_nan=True)
    else:
        with pytest.raises(RecordIOError) as err:
            columns.check(lengths, file_offsets, "f.rec")
        assert (err.value.reason, err.value.offset, err.value.path) == (first_error.reason, first_error.offset, first_error.path)


def test_mxnet_reads_the_same_records(mx, tmp_path):
    rng = np.random.default_rng(2)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 300, 4000)]
    records += [MAGIC_BYTES * 2, b"", b"abcd" + MAGIC_BYTES + b"ef", b"x" + MAGIC_BYTES]
    writer = mx.recordio.MXRecordIO(str(tmp_path / "m.rec"), "w")
    for r in records:
        writer.write(r)
    writer.close()
    reader = mx.recordio.MXRecordIO(str(tmp_path / "m.rec"), "r")
    theirs = []
    while (r := reader.read()) is not None:
        theirs.append(r)
    reader.close()
    assert theirs == records
    for max_records in (None, 1, 333):
        with RecordReader(tmp_path / "m.rec", chunk_bytes=1 << 14) as ours:
            assert [r for b in ours.iter_batches(max_records=max_records) for r in b.to_list()] == theirs


@SETTINGS
@given(record_lists, limits)
def test_mxnet_oracle_on_random_record_lists(mx, tmp_path_factory, records, limit):
    path = tmp_path_factory.mktemp("mx") / "m.rec"
    writer = mx.recordio.MXRecordIO(str(path), "w")
    for r in records:
        writer.write(r)
    writer.close()
    reader = mx.recordio.MXRecordIO(str(path), "r")
    theirs = []
    while (r := reader.read()) is not None:
        theirs.append(r)
    reader.close()
    with RecordReader(path, chunk_bytes=256) as ours:
        assert [r for b in ours.iter_batches(*limit) for r in b.to_list()] == theirs == records


# ---- the commands that walk every record through batches, against per-record oracles ----------

IMAGE_STARTS = [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP", b"xyz"]


@st.composite
def image_records(draw) -> bytes:
    """Image records with single, multi, non-finite or zero labels, empty images, and records with
    no usable header (too short, a label count that does not fit)."""
    kind = draw(st.sampled_from(["single", "multi", "short", "bad-flag", "raw"]))
    image = draw(st.sampled_from(IMAGE_STARTS)) + draw(st.binary(max_size=20))
    id_ = draw(st.integers(0, 50))
    if kind == "single":
        label = draw(st.sampled_from([0.0, 1.0, 2.0, 2.5, -0.0, float("nan"), float("inf")]))
        return pack(IRHeader(0, label, id_, 0), image)
    if kind == "multi":
        labels = draw(st.lists(st.sampled_from([0.0, 1.0, 0.5, float("nan")]), min_size=1, max_size=4))
        return pack(IRHeader(0, labels, id_, 0), image)
    if kind == "short":
        return draw(st.binary(max_size=23))
    if kind == "bad-flag":
        return HEADER.pack(draw(st.integers(1, 2**32 - 1)), 0.0, id_, 0) + draw(st.binary(max_size=8))
    return draw(st.binary(max_size=60))


def _write(path, records) -> None:
    with RecordWriter(path) as writer:
        for r in records:
            writer.write(r)


def _info_oracle(records: list[bytes]) -> dict:
    """rec info's counts, record by record through split_record (its plain path)."""
    from collections import Counter

    from icformat.recordio.info import _label_key, payload_format
    from icformat.recordio.info import split_record as info_split

    widths, histogram, formats = Counter(), Counter(), Counter()
    for record in records:
        _, labels, image = info_split(record)
        if labels is None:
            widths["none"] += 1
        else:
            widths[len(labels)] += 1
            if len(labels) == 1:
                histogram[_label_key(labels[0])] += 1
            else:
                for k, v in enumerate(labels):
                    if v:
                        histogram[k] += 1
        formats[payload_format(image)] += 1
    return {"widths": {str(k): v for k, v in sorted(widths.items(), key=lambda kv: str(kv[0]))},
            "histogram": {str(k): v for k, v in sorted(histogram.items(), key=lambda kv: str(kv[0]))},
            "formats": dict(formats.most_common()), "payload_bytes": sum(map(len, records))}


@SETTINGS
@given(st.lists(image_records(), max_size=30))
def test_rec_info_counts_equal_the_per_record_oracle(tmp_path_factory, records):
    from icformat.recordio import info as info_module

    path = tmp_path_factory.mktemp("info") / "i.rec"
    _write(path, records)
    got = info_module.rec_info(path)
    want = _info_oracle(records)
    assert got.records == len(records) and got.payload_bytes == want["payload_bytes"]
    assert got.label_widths == want["widths"]
    assert dict(sorted(got.label_histogram.items())) == dict(sorted(want["histogram"].items()))
    assert list(got.formats.items()) == list(want["formats"].items())  # same counts, same order


def _verify_oracle(path, data: bytes):
    """rec verify's problems walking record by record with the plain parser (and resynchronising)."""
    from icformat.problems import error as problem
    from icformat.recordio.verify import _check_image_header, _headerless_problems, _next_head

    name = str(path)
    problems, headerless, offsets = [], [], []
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        try:
            got_offsets, got, nxt = scan_sequential(view, pos, len(data), 0, final=True, path=name, max_records=1)
        except RecordIOError as exc:
            problems.append(problem(name, "framing", exc.reason, offset=exc.offset))
            resync = _next_head(data, (exc.offset or pos) + 4, len(data))
            if resync is None:
                break
            problems.append(problem(name, "resynchronised", f"resynchronised: next record head after {resync - pos:,} skipped bytes",
                                    offset=resync))
            pos = resync
            continue
        _check_image_header(name, got_offsets[0], got[0], False, problems, headerless)
        offsets.append(got_offsets[0])
        pos = nxt
    problems += _headerless_problems(name, headerless, len(offsets))
    problems.sort(key=lambda p: (p.path != name, p.offset if p.offset is not None else -1, p.line or 0))
    return problems, offsets


@SETTINGS
@given(st.lists(image_records(), max_size=30), st.data())
def test_rec_verify_and_index_equal_the_per_record_oracles(tmp_path_factory, records, data):
    from icformat.recordio import scan_offsets, verify_rec
    from icformat.recordio.header import record_id

    raw = bytearray(_encode(records))
    if raw and data.draw(st.booleans()):  # damage: the walk resynchronises
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at : at + 4] = data.draw(st.binary(min_size=1, max_size=4))
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("verify") / "v.rec"
    path.write_bytes(bytes(raw))
    want, _ = _verify_oracle(path, bytes(raw))
    if raw:
        assert verify_rec(path, index=False).problems == want
    want_offsets, want_records, want_error = _plain(bytes(raw))
    for key in ("auto", "id", "position"):
        ids = [record_id(r) for r in want_records]
        try:
            got = scan_offsets(path, key=key)
        except RecordIOError as exc:
            if want_error is not None and (key != "id" or None not in ids):
                _same_error(exc, want_error, str(path))
            else:
                assert key == "id" and None in ids
                assert exc.offset == want_offsets[ids.index(None)]
            continue
        assert want_error is None
        distinct = None not in ids and len(set(ids)) == len(ids)
        keys = ids if key == "id" or (key == "auto" and distinct) else list(range(len(ids)))
        assert got == (keys, want_offsets)
