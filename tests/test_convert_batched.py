"""manifest -> .rec and the pipe-mode stream write in batches: the bytes of writing row by row
(MXNet's own writer as the oracle), progress per batch, remembered labels equal to parsed ones,
and the rows before a failing one still reach a pipe reader."""
from __future__ import annotations

import io
import json
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icformat.convert import manifest_to_rec
from icformat.convert.manifest_to_lst import row_label
from icformat.errors import ManifestError
from icformat.manifest.parse import ManifestRow
from icformat.pipe import write_pipe_stream
from icformat.recordio import MAGIC_BYTES, IRHeader, RecordWriter, pack

NAMES = "source-ref,class"


def fake_jpegs(folder, count: int, size: int, seed: int = 0) -> list[str]:
    """JPEG-looking files (SOI marker, then random bytes) large enough to fill several batches;
    every third holds the magic at an aligned offset (a multi-part record), one is header-only."""
    rng = random.Random(seed)
    names = []
    for i in range(count):
        body = bytearray(b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randrange(size // 2, size) if i != 1 else 0))
        if i % 3 == 0 and len(body) > 64:
            pos = (rng.randrange(8, len(body) - 8) & ~3) - 24 - 4  # aligned in the record: after the 24-byte header
            body[pos + 4 : pos + 8] = MAGIC_BYTES
        name = f"img_{i:03d}.jpg"
        (folder / name).write_bytes(bytes(body))
        names.append(name)
    return names


def write_manifest(path, names, labels) -> str:
    path.write_text("".join(json.dumps({"source-ref": n, "class": c}) + "\n" for n, c in zip(names, labels)))
    return str(path)


def test_manifest_to_rec_over_several_batches_matches_mxnet_loop(mx, tmp_path):
    names = fake_jpegs(tmp_path, 12, 300_000)
    labels = [str(i % 4) for i in range(len(names))]
    manifest = write_manifest(tmp_path / "m.manifest", names, labels)
    progress = []
    stats = manifest_to_rec(manifest, str(tmp_path / "ours.rec"), attribute_names=NAMES, progress=progress.append)
    assert stats.records == len(names) and sum(progress) == len(names) and len(progress) > 1
    theirs = mx.recordio.MXIndexedRecordIO(str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), "w")
    for i, (name, label) in enumerate(zip(names, labels)):
        theirs.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(label), i, 0), (tmp_path / name).read_bytes()))
    theirs.close()
    assert (tmp_path / "ours.rec").read_bytes() == (tmp_path / "mx.rec").read_bytes()
    assert (tmp_path / "ours.idx").read_bytes() == (tmp_path / "mx.idx").read_bytes()
    assert (tmp_path / "ours.rec").read_bytes().count(MAGIC_BYTES) > len(names)  # multi-part records among them


def test_manifest_to_rec_matches_writing_row_by_row_in_the_core_env(tmp_path):
    names = fake_jpegs(tmp_path, 9, 400_000, seed=2)
    labels = ["[1, 0, 1]", "[0, 0, 0]", "[1, 1, 1]"] * 3
    manifest = write_manifest(tmp_path / "m.manifest", names, labels)
    manifest_to_rec(manifest, str(tmp_path / "ours.rec"), attribute_names=NAMES)
    with RecordWriter(tmp_path / "plain.rec", index=True) as writer:
        for i, (name, label) in enumerate(zip(names, labels)):
            vector = np.asarray(json.loads(label), np.float32)
            writer.write(pack(IRHeader(3, vector, i, 0), (tmp_path / name).read_bytes()), key=i)
    assert (tmp_path / "ours.rec").read_bytes() == (tmp_path / "plain.rec").read_bytes()
    assert (tmp_path / "ours.idx").read_bytes() == (tmp_path / "plain.idx").read_bytes()


def test_pipe_stream_over_several_batches_matches_mxnet_writer(mx, tmp_path):
    names = fake_jpegs(tmp_path, 12, 300_000, seed=1)
    labels = [i % 5 for i in range(len(names))]
    manifest = write_manifest(tmp_path / "m.manifest", names, labels)
    rows = []
    with open(tmp_path / "ours.stream", "wb") as out:  # a file object with a descriptor: gathered writes
        stats = write_pipe_stream(out, manifest, NAMES, on_row=rows.append)
    assert stats.rows == len(names) and stats.records == 2 * len(names) and sum(rows) == len(names) and len(rows) > 1
    theirs = mx.recordio.MXRecordIO(str(tmp_path / "mx.stream"), "w")
    for name, label in zip(names, labels):
        theirs.write((tmp_path / name).read_bytes())
        theirs.write(str(label).encode())
    theirs.close()
    assert (tmp_path / "ours.stream").read_bytes() == (tmp_path / "mx.stream").read_bytes()
    assert (tmp_path / "ours.stream").read_bytes().count(MAGIC_BYTES) > 2 * len(names)
    memory = io.BytesIO()
    write_pipe_stream(memory, manifest, NAMES)  # no descriptor: one write per piece
    assert memory.getvalue() == (tmp_path / "mx.stream").read_bytes()


def test_rows_before_an_unreadable_reference_still_reach_the_reader(tmp_path):
    names = fake_jpegs(tmp_path, 4, 2000)
    good = write_manifest(tmp_path / "good.manifest", names[:3], ["0", "1", "2"])
    bad = write_manifest(tmp_path / "bad.manifest", names[:3] + ["gone.jpg"], ["0", "1", "2", "3"])
    expected = io.BytesIO()
    write_pipe_stream(expected, good, NAMES)
    out = io.BytesIO()
    with pytest.raises(ManifestError, match=r"bad.manifest:4: cannot read 'gone.jpg'"):
        write_pipe_stream(out, bad, NAMES)
    assert out.getvalue() == expected.getvalue()


label_values = st.one_of(
    st.integers(-3, 12),
    st.sampled_from(["0", "1", "-0", "3.0", "2.5", " 2 ", "1e0", "x", "", "[1, 0, 1]", "[0, 2]", "[1, 0]", "[2, 2]", "[", "12"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.integers(0, 3), max_size=4),
)


def parsed(fn, row):
    try:
        value = fn(row)
    except ManifestError as exc:
        return "error", str(exc)
    if isinstance(value, np.ndarray):
        return "array", value.dtype.str, value.tolist()
    return "float", math.copysign(1.0, value), repr(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(label_values, min_size=1, max_size=8), st.sampled_from([None, "multi-hot", "class-id"]), st.sampled_from([None, 3, 10]))
def test_remembered_labels_are_the_parsed_labels(values, label_format, num_classes):
    """The fetcher's label cache (string and integer values) gives what row_label gives, errors included."""
    from icformat.convert.manifest_to_rec import _Fetcher

    fetcher = _Fetcher(("source-ref", "class"), "m.manifest", None, label_format, num_classes, "index", True)
    for line, value in enumerate(values + values, 1):  # every value twice: the second may come from the cache
        row = ManifestRow(line, ("a.jpg", value), {"source-ref": "a.jpg", "class": value})
        assert parsed(fetcher.label, row) == parsed(lambda r: row_label(r, label_format, num_classes, "m.manifest"), row)
