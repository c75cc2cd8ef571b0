"""preflight's per-image facts: the JPEG header shortcut gives what image_info gives."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from icformat.errors import ImageError
from icformat.image.decode import image_info
from icformat.preflight.data import ChannelData, Collector, header_size

from . import preflight_data as data


def _exif_jpeg(array: np.ndarray, orientation: int) -> bytes:
    image = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def _cases() -> list[bytes]:
    photo = np.asarray(Image.open(io.BytesIO(data.jpegs(1, seed=3, size=(50, 30))[0])))
    jpeg = data.jpegs(1, seed=4, size=(41, 23))[0]
    cases = [jpeg, _png(photo), jpeg[:200], b"", b"\xff\xd8garbage", b"not an image at all"]
    cases += [_exif_jpeg(photo, o) for o in range(1, 9)]
    return cases


@pytest.mark.parametrize("image", _cases())
def test_header_size_agrees_with_image_info(image):
    try:
        info = image_info(image)
        expected = (info.height, info.width, None)
    except ImageError as exc:
        expected = (-1, -1, str(exc))
    got = header_size(image)
    assert got[:2] == expected[:2]
    assert (got[2] is None) == (expected[2] is None)
    got_view = header_size(memoryview(image))
    assert got_view[:2] == expected[:2]


def test_collector_keeps_order_and_truncates():
    images = data.jpegs(3, seed=5)
    collector = Collector()
    for i, image in enumerate(images):
        assert collector.add(float(i), memoryview(image), 0, 100 * i) is None
    collector.add(9.0, images[0], 0, 999)
    collector.truncate(3)
    channel = collector.finish(ChannelData("train", "rec", files=["t.rec"]))
    assert channel.count == 3 and channel.single.tolist() == [0.0, 1.0, 2.0]
    assert channel.position.tolist() == [0, 100, 200] and channel.heights.tolist() == [40, 40, 40]
    assert len(set(channel.digests.tolist())) == 3 and channel.locate(2) == ("t.rec", None, 200)


def _records_with_problems() -> list[bytes]:
    import struct

    from icformat.recordio import IRHeader, pack

    image = data.jpegs(1, seed=6)[0]
    return [
        pack(IRHeader(0, 1.0, 0, 0), image),
        b"short",  # shorter than the 24-byte image header
        struct.pack("<IfQQ", 70_000, 0.0, 2, 0) + image,  # label count that cannot fit
        pack(IRHeader(0, float("nan"), 3, 0), image),
        pack(IRHeader(0, [1.0, float("inf")], 4, 0), image),
        pack(IRHeader(0, 2.0, 5, 0), b""),  # no image
        pack(IRHeader(0, 2.0, 6, 0), b"not an image"),
        pack(IRHeader(0, [0.0, 1.0, 1.0], 7, 0), image),
        pack(IRHeader(0, 0.0, 8, 0), image),
    ]


def _plain_scan(path: str) -> tuple[ChannelData, list[tuple[int | None, str]]]:
    """The oracle: every framed record (as verify_rec's walk hands them over) split by the plain
    per-record header codec into a Collector, and verify_rec's problems."""
    from icformat.errors import RecordIOError
    from icformat.recordio.header import split_record
    from icformat.recordio.verify import _MAX_LABELS, verify_rec

    collector = Collector()

    def gather(offset, record):
        try:
            parts = split_record(bytes(record), offset, path)
        except RecordIOError:
            return
        if parts.header.flag > _MAX_LABELS:
            return
        labels = parts.labels.tolist()
        collector.add(labels[0] if parts.header.flag == 0 else tuple(labels), parts.image, 0, offset)

    result = verify_rec(path, index=False, on_record=gather)
    return collector.finish(ChannelData("train", "rec", files=[path])), [(p.offset, p.message) for p in result.problems]


def _same_facts(scanned: ChannelData, plain: ChannelData) -> None:
    assert scanned.count == plain.count and scanned.position.tolist() == plain.position.tolist()
    assert scanned.heights.tolist() == plain.heights.tolist() and scanned.digests.tolist() == plain.digests.tolist()
    assert np.array_equal(scanned.single if scanned.multi is None else scanned.multi,
                          plain.single if plain.multi is None else plain.multi, equal_nan=True)


@pytest.mark.parametrize("count", [1, 3, 9])
def test_rec_scan_gives_what_verify_gives(tmp_path, count):
    """The channel scan: verify_rec's problems, and each record's facts as the plain header codec reads them."""
    from icformat.preflight.scan_rec import scan_rec_channel
    from icformat.recordio import RecordWriter

    path = str(tmp_path / "mixed.rec")
    with RecordWriter(path) as writer:
        for record in _records_with_problems()[:count]:
            writer.write(record)
    scanned = scan_rec_channel("train", [path])
    plain, problems = _plain_scan(path)
    assert [(f.offset, f.message) for f in scanned.findings if f.check != "image-header"] == problems
    _same_facts(scanned, plain)
    if count == 9:
        checks = {f.check for f in scanned.findings}
        assert checks == {"rec-record", "image-header"} and len(scanned.findings) >= 6


def test_rec_scan_resynchronises_on_broken_framing(tmp_path):
    from icformat.preflight.scan_rec import scan_rec_channel

    channels = data.rec_dataset(str(tmp_path))
    with open(channels["train"], "r+b") as f:
        content = f.read()
        second = content.index(b"\x0a\x23\xd7\xce", 8)
        f.seek(second + 4)
        f.write(b"\xff\xff\xff\x7f")  # a length running past the end of the file
    scanned = scan_rec_channel("train", [channels["train"]])
    plain, problems = _plain_scan(channels["train"])
    assert [(f.offset, f.message) for f in scanned.findings] == problems
    assert scanned.findings and scanned.findings[0].check == "rec-framing"
    _same_facts(scanned, plain)


MANIFEST_LINES = [
    {"source-ref": "s3://b/a.jpg", "class": "0"},
    {"source-ref": "s3://b/b.jpg", "class": "2"},
    {"source-ref": "s3://b/c.jpg"},
    {"source-ref": "", "class": "1"},
    {"source-ref": "s3://b/d.jpg", "class": None, "class-metadata": {"x": 1}},
    {"source-ref": "s3://b/e.jpg", "class": "7.5"},
    {"source-ref": "s3://b/f.jpg", "class": "1"},
    {"class": "1"},
]


@pytest.mark.parametrize("label_format, extra, arrow", [
    ("multi-hot", [], True), ("class-id", [], True),
    ("multi-hot", ['{"source-ref": "s3://b/g.jpg", "class": "[1, 0, 1]"}'], True),
    ("class-id", ['{"source-ref": "s3://b/g.jpg", "class": "[0, 2]"}'], True),
    ("multi-hot", ['{"source-ref": "s3://b/g.jpg", "class": 2}'], False),  # a number among strings
    ("multi-hot", ["not json at all"], False)])
def test_manifest_arrow_chunk_gives_what_lines_give(label_format, extra, arrow):
    import json

    from icformat.preflight.scan_manifest import _chunk_arrow, _chunk_python

    chunk = ("\n".join([json.dumps(r) for r in MANIFEST_LINES] + [""] + extra) + "\n").encode()
    plain = _chunk_python(chunk, 10, "m.manifest", "source-ref", "class", label_format, 3, {})
    fast = _chunk_arrow(chunk, 10, ("source-ref", "class"), label_format, 3, {})
    assert (fast is not None) == arrow  # refused: the line-by-line path is the answer
    if fast is None:
        return
    fast_labels = fast[1].tolist() if isinstance(fast[1], np.ndarray) else fast[1]
    assert fast[0] == plain[0] and fast_labels == plain[1] and fast[2].tolist() == plain[2].tolist()
    assert plain[2].tolist()[:3] == [10, 11, 16]
