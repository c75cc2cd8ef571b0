"""The pipe-mode byte stream, to the byte: augmented manifests wrapped in RecordIO, .rec passed through."""
from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icformat.errors import FormatError, IcformatError, ManifestError
from icformat.pipe import iter_stream, write_pipe_stream
from icformat.pipe.wrap import write_records
from icformat.recordio import MAGIC_BYTES, IRHeader, RecordReader, RecordWriter, pack


def read_records(src) -> list[bytes]:
    """Every record of a .rec (path, URI or file object), the reader closed afterwards."""
    with RecordReader(src) as reader:
        return list(reader)


def frame(payload: bytes, cflag: int = 0) -> bytes:
    """One RecordIO record as the reference spells it out (section 2.5)."""
    return MAGIC_BYTES + struct.pack("<I", (cflag << 29) | len(payload)) + payload + b"\0" * (-len(payload) % 4)


def manifest(tmp_path, records, name="m.manifest") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def stream_bytes(*args, **kwargs) -> bytes:
    out = io.BytesIO()
    write_pipe_stream(out, *args, **kwargs)
    return out.getvalue()


def test_label_record_for_class_0_is_exactly_the_reference_bytes(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0JPEGDATA")
    data = stream_bytes(manifest(tmp_path, [{"source-ref": "a.jpg", "class": "0"}]), attribute_names="source-ref,class")
    image_record = frame(b"\xff\xd8\xff\xe0JPEGDATA")
    assert data[: len(image_record)] == image_record
    assert data[len(image_record):] == bytes.fromhex("0a 23 d7 ce 01 00 00 00 30 00 00 00")


def test_stream_of_real_photos_in_attribute_names_order(tmp_path, photo_tree):
    paths = sorted(os.path.join(c, f) for c in os.listdir(photo_tree) for f in os.listdir(os.path.join(photo_tree, c)))
    records = [{"class": p.split("/")[0][-1], "source-ref": os.path.join(photo_tree, p), "class-metadata": {"x": 1}} for p in paths]
    data = stream_bytes(manifest(tmp_path, records), "source-ref,class")
    expected = b"".join(frame(Path(os.path.join(photo_tree, p)).read_bytes()) + frame(p.split("/")[0][-1].encode()) for p in paths)
    assert data == expected
    assert read_records(io.BytesIO(data))[:2] == [Path(os.path.join(photo_tree, paths[0])).read_bytes(), b"0"]


@pytest.mark.parametrize(
    "value, payload",
    [
        ("0", b"0"),
        (0, b"0"),
        ("12", b"12"),
        ("[1, 0, 1]", b"[1, 0, 1]"),
        ([1, 0, 8], b"[1, 0, 8]"),
        ([], b"[]"),
        (2.5, b"2.5"),
        ("\u00e9t\u00e9", "\u00e9t\u00e9".encode()),
    ],
)
def test_label_string_forms(tmp_path, value, payload):
    # UNCONFIRMED in SageMaker's documentation; our documented choice (see icformat.pipe.wrap).
    (tmp_path / "a.jpg").write_bytes(b"img")
    data = stream_bytes(manifest(tmp_path, [{"source-ref": "a.jpg", "class": value}]), "source-ref,class")
    assert data == frame(b"img") + frame(payload)


def test_payload_holding_the_magic_is_split_as_dmlc_does(tmp_path):
    image = b"\xff\xd8\xff\xe0" + MAGIC_BYTES + b"abcd" + MAGIC_BYTES + b"xy"
    (tmp_path / "a.jpg").write_bytes(image)
    data = stream_bytes(manifest(tmp_path, [{"source-ref": "a.jpg", "class": "1"}]), "source-ref,class")
    expected = frame(b"\xff\xd8\xff\xe0", 1) + frame(b"abcd", 2) + frame(b"xy", 3) + frame(b"1")
    assert data == expected
    assert list(iter_stream(io.BytesIO(data), attribute_names=2, decode_labels=False)) == [(image, b"1")]
    # Not 4-byte aligned: no split.
    unaligned = b"\xff\xd8" + MAGIC_BYTES + b"zz"
    (tmp_path / "b.jpg").write_bytes(unaligned)
    data = stream_bytes(manifest(tmp_path, [{"source-ref": "b.jpg", "class": "1"}], "b.manifest"), "source-ref,class")
    assert data == frame(unaligned) + frame(b"1")


@pytest.mark.mxnet
def test_split_payload_reads_back_with_mxnet(tmp_path, mx):
    image = b"\xff\xd8\xff\xe0" + MAGIC_BYTES * 3 + b"tail!"
    (tmp_path / "a.jpg").write_bytes(image)
    out = str(tmp_path / "stream.rec")
    write_pipe_stream(out, manifest(tmp_path, [{"source-ref": "a.jpg", "class": "[1, 0]"}]), "source-ref,class")
    reader = mx.recordio.MXRecordIO(out, "r")
    assert [reader.read(), reader.read(), reader.read()] == [image, b"[1, 0]", None]


def test_recordio_sources_pass_through_unchanged(tmp_path):
    rec = str(tmp_path / "a.rec")
    with RecordWriter(rec) as w:
        for i in range(5):
            w.write(pack(IRHeader(0, float(i), i, 0), b"\xff\xd8" + bytes([i]) * (i + 3)))
    other = str(tmp_path / "b.rec")
    with RecordWriter(other) as w:
        w.write(b"x" * 100)
    raw = Path(rec).read_bytes() + Path(other).read_bytes()
    assert stream_bytes([rec, other]) == raw
    assert list(iter_stream(io.BytesIO(raw))) == read_records(rec) + [b"x" * 100]


def test_an_empty_rec_is_an_error(tmp_path):
    rec = tmp_path / "empty.rec"
    rec.write_bytes(b"")
    with pytest.raises(IcformatError, match="empty.rec@0: empty file"):
        stream_bytes(str(rec))


@pytest.mark.parametrize("damage", ["cut", "magic"])
def test_a_damaged_rec_fails_naming_the_byte_offset(tmp_path, damage):
    from icformat.recordio import RecordWriter

    rec = tmp_path / "ok.rec"
    with RecordWriter(rec) as writer:
        heads = [writer.write(bytes(range(i, i + 50))) for i in range(3)]
    data = bytearray(rec.read_bytes())
    if damage == "cut":
        data = data[:-10]
    else:
        data[heads[1]] ^= 0xFF
    bad = tmp_path / "bad.rec"
    bad.write_bytes(bytes(data))
    with pytest.raises(IcformatError, match=rf"bad.rec@{heads[2] if damage == 'cut' else heads[1]}: (truncated|bad magic)"):
        stream_bytes(str(bad))


def test_a_manifest_without_attribute_names_is_refused(tmp_path):
    path = manifest(tmp_path, [{"source-ref": "a.jpg", "class": "0"}])
    with pytest.raises(IcformatError, match="not a RecordIO file .*--attribute-names"):
        stream_bytes(path)


def test_unreadable_reference_names_the_line(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"img")
    path = manifest(tmp_path, [{"source-ref": "a.jpg", "class": "0"}, {"source-ref": "missing.jpg", "class": "1"}])
    with pytest.raises(ManifestError, match=r"m.manifest:2: cannot read 'missing.jpg': no such file"):
        stream_bytes(path, "source-ref,class")
    dest = tmp_path / "out" / "stream.bin"
    with pytest.raises(ManifestError):
        write_pipe_stream(str(dest), path, "source-ref,class")
    assert not dest.parent.exists() or os.listdir(dest.parent) == []


def test_order_is_kept_with_parallel_fetches(tmp_path):
    records = []
    for i in range(60):
        (tmp_path / f"{i}.jpg").write_bytes(os.urandom(i * 37 % 500 + 1))
        records.append({"source-ref": f"{i}.jpg", "class": str(i % 7)})
    path = manifest(tmp_path, records)
    pairs = list(iter_stream(io.BytesIO(stream_bytes(path, "source-ref,class", workers=8)), attribute_names="source-ref,class"))
    assert [label for _, label in pairs] == [float(i % 7) for i in range(60)]
    assert [image for image, _ in pairs] == [(tmp_path / f"{i}.jpg").read_bytes() for i in range(60)]
    assert stream_bytes(path, "source-ref,class", workers=1) == stream_bytes(path, "source-ref,class", workers=8)


def test_iter_stream_pairs_and_labels(tmp_path):
    data = frame(b"img0") + frame(b"0") + frame(b"img1") + frame(b"[0, 2]")
    pairs = list(iter_stream(io.BytesIO(data), attribute_names=2, label_format="class-id", num_classes=3))
    assert pairs[0] == (b"img0", 0.0)
    assert pairs[1][0] == b"img1"
    np.testing.assert_array_equal(pairs[1][1], [1, 0, 1])
    assert list(iter_stream(io.BytesIO(data), attribute_names=["source-ref", "class"], decode_labels=False))[1] == (b"img1", b"[0, 2]")
    assert list(iter_stream(io.BytesIO(data), attribute_names=1)) == [(b"img0",), (b"0",), (b"img1",), (b"[0, 2]",)]
    assert list(iter_stream(io.BytesIO(data))) == [b"img0", b"0", b"img1", b"[0, 2]"]


def test_iter_stream_errors(tmp_path):
    with pytest.raises(FormatError, match="ends in the middle of manifest row 1: 1 of 2 records"):
        list(iter_stream(io.BytesIO(frame(b"img") + frame(b"0") + frame(b"img")), attribute_names=2))
    with pytest.raises(FormatError, match="row 0: bad label record cat: label \"cat\" is neither"):
        list(iter_stream(io.BytesIO(frame(b"img") + frame(b"cat")), attribute_names=2))
    with pytest.raises(FormatError, match="is a JSON text file .*, not a RecordIO file"):  # a manifest, not its stream
        list(iter_stream(io.BytesIO(b"{not a stream}"), attribute_names=2))
    with pytest.raises(FormatError, match="bad magic"):
        list(iter_stream(io.BytesIO(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09"), attribute_names=2))


def test_cli_pipe_write(tmp_path, capsys):
    from icformat.cli import main

    (tmp_path / "a.jpg").write_bytes(b"img")
    path = manifest(tmp_path, [{"source-ref": "a.jpg", "class": "0"}])
    out = str(tmp_path / "stream.bin")
    assert main(["pipe", "write", path, "-o", out, "--attribute-names", "source-ref,class"]) == 0
    assert Path(out).read_bytes() == frame(b"img") + frame(b"0")
    assert "2 records" in capsys.readouterr().out
    assert main(["pipe", "write", path, "-o", out]) == 1
    assert "not a RecordIO file" in capsys.readouterr().err


payloads = st.lists(
    st.lists(st.one_of(st.binary(max_size=9), st.just(MAGIC_BYTES)), max_size=6).map(b"".join),
    min_size=0,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(payloads)
def test_property_stream_round_trips_any_payloads(items):
    out = io.BytesIO()
    stats = write_records(out, items)
    data = out.getvalue()
    assert stats.records == len(items) and stats.bytes == len(data) and len(data) % 4 == 0
    assert list(iter_stream(io.BytesIO(data))) == items
    if items:  # the same stream twice, read as rows of len(items) attributes
        rows = list(iter_stream(io.BytesIO(data * 2), attribute_names=len(items), decode_labels=False))
        assert rows == [tuple(items)] * 2
