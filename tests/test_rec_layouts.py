"""InsightFace's ``.rec`` layout (MS1M, Glint360K: record 0 announces the image and identity keys)
recognised by ``rec info``, ``rec verify``, ``rec extract``, the loader and ``loader run``; face
sets built from real photos as face2rec2.py writes them, MXNet's recordio as the oracle."""
from __future__ import annotations

import json
import os
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

from icformat.cli import main
from icformat.im2rec.pack import PackOptions
from icformat.im2rec.run import pack_lst
from icformat.loader.loader import ImageLoader
from icformat.recordio.extract import extract_rec
from icformat.recordio.header import IRHeader, pack, split_record
from icformat.recordio.index import read_index, write_index
from icformat.recordio.info import rec_info
from icformat.recordio.layout import INSIGHTFACE, PLAIN, announced_layout, detect_layout
from icformat.recordio.reader import RecordReader
from icformat.recordio.verify import verify_rec
from icformat.recordio.writer import RecordWriter
from icformat.samples import write_insightface_rec, write_photo_tree


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> dict:
    """Face sets in InsightFace's layout: ``scalar`` (one label per image, header after the images,
    as face2rec2 orders them), ``pairs`` (face2rec2's ``(identity, 1)`` labels) and ``first``
    (header record first)."""
    folder = tmp_path_factory.mktemp("faces")
    sets = {}
    for name, options in (("scalar", {}), ("pairs", {"pair_labels": True, "seed": 1}), ("first", {"header_first": True, "seed": 2})):
        path = str(folder / f"{name}.rec")
        sets[name] = (path, write_insightface_rec(path, identities=6, per_identity=(3, 6), size=64, **options))
    return sets


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def test_detect_layout_reads_the_announced_ranges(faces):
    path, made = faces["scalar"]
    layout = detect_layout(path)
    n, k = made["images"], made["identities"]
    assert layout.kind == INSIGHTFACE
    assert (layout.images, layout.identities) == (range(1, n + 1), range(n + 1, n + 1 + k))
    assert layout.header_records == k + 1
    keys, offsets = read_index(path[:-4] + ".idx")
    headers = sorted(o for key, o in zip(keys, offsets) if key == 0 or key > n)
    assert layout.header_offsets.tolist() == headers
    assert layout.is_header_offset(np.asarray(offsets)).sum() == k + 1
    assert layout.image_positions(keys).tolist() == [i for i, key in enumerate(keys) if 1 <= key <= n]


def test_without_idx_the_header_must_come_first(faces, tmp_path):
    for name, kind in (("scalar", PLAIN), ("first", INSIGHTFACE)):
        rec = tmp_path / f"{name}.rec"
        rec.write_bytes(open(faces[name][0], "rb").read())  # no .idx beside it
        assert detect_layout(str(rec)).kind == kind


def test_plain_files_stay_plain(tmp_path, photo_tree):
    """An im2rec file, and a multi-label file whose record 0 has two labels (and an image)."""
    from icformat.lst.make import make_lst

    make_lst(str(tmp_path / "plain"), photo_tree, recursive=True)
    pack_lst(str(tmp_path / "plain.lst"), photo_tree, str(tmp_path / "plain"), options=PackOptions(pass_through=True), num_workers=1)
    assert detect_layout(str(tmp_path / "plain.rec")).kind == PLAIN
    jpeg = open(os.path.join(photo_tree, "class_0", "img_00000.jpg"), "rb").read()
    with RecordWriter(tmp_path / "multi.rec", index=True) as writer:
        for key in range(3):
            writer.write(pack(IRHeader(2, np.array([1, 3], np.float32), key, 0), jpeg), key=key)
    assert detect_layout(str(tmp_path / "multi.rec")).kind == PLAIN
    assert announced_layout(pack(IRHeader(2, np.array([5, 3], np.float32), 0, 0), b"")) is None  # end before start
    assert announced_layout(pack(IRHeader(2, np.array([1.5, 3], np.float32), 0, 0), b"")) is None


@pytest.mark.parametrize("as_json", [False, True])
def test_rec_info_names_the_layout_and_counts_images_only(faces, capsys, as_json):
    path, made = faces["scalar"]
    identities = Counter(made["labels"].values())
    code, out, _ = run(capsys, "rec", "info", path, *(["--json"] if as_json else []))
    assert code == 0
    if as_json:
        info = json.loads(out)
        assert info["records"] == made["images"] + made["identities"] + 1
        assert info["layout"]["kind"] == INSIGHTFACE
        assert (info["layout"]["images"], info["layout"]["identities"]) == (made["images"], made["identities"])
        assert info["label_widths"] == {"1": made["images"]} and info["label_kind"] == "single"
        assert info["label_histogram"] == {str(k): v for k, v in sorted(identities.items())}
        assert info["formats"] == {"jpeg": made["images"]}
    else:
        assert f"InsightFace face set: {made['images']} images" in out and f"{made['identities']} identities" in out
        assert "labels of the image records: single" in out
        assert "payload formats: jpeg: " in out and "empty" not in out


def test_rec_info_library_counts_pairs_of_labels(faces):
    path, made = faces["pairs"]
    info = rec_info(path)
    assert info.label_widths == {"2": made["images"]}  # (identity, 1) per image; the headers are not counted
    assert info.label_histogram == {"0": made["images"] - Counter(made["labels"].values())[0], "1": made["images"]}


@pytest.mark.parametrize("as_json", [False, True])
def test_rec_verify_accepts_the_header_records(faces, capsys, as_json):
    for name in ("scalar", "pairs", "first"):
        path, made = faces[name]
        code, out, _ = run(capsys, "rec", "verify", path, *(["--json"] if as_json else []))
        assert code == 0, out
        if as_json:
            result = json.loads(out)
            assert result["problems"] == [] and result["records"] == made["images"] + made["identities"] + 1
            assert result["layout"]["kind"] == INSIGHTFACE and result["layout"]["header_records"] == made["identities"] + 1
        else:
            assert "OK; layout: InsightFace face set" in out and "empty image" not in out


def test_rec_verify_reports_missing_image_keys_and_strange_identity_records(faces, tmp_path):
    path, made = faces["scalar"]
    keys, offsets = read_index(path[:-4] + ".idx")
    rec = tmp_path / "cut.rec"
    rec.write_bytes(open(path, "rb").read())
    kept = [(k, o) for k, o in zip(keys, offsets) if k not in (2, 3)]
    write_index(tmp_path / "cut.idx", [k for k, _ in kept], [o for _, o in kept])
    problems = verify_rec(str(rec)).problems
    missing = [p for p in problems if p.code == "missing-image-keys"]
    assert len(missing) == 1 and missing[0].severity == "error" and "2 of the image keys" in missing[0].message
    # an identity key whose record holds an image: a warning (readers never look at it)
    jpeg = bytes(split_record(next(iter(RecordReader(path)))).image)
    odd = tmp_path / "odd.rec"
    with RecordWriter(odd, index=True) as writer:
        for record, key in zip(RecordReader(path), keys):
            if key == made["images"] + 1:  # the first identity record
                record = pack(IRHeader(0, 0.0, key, 0), jpeg)
            writer.write(record, key=key)
    result = verify_rec(str(odd))
    assert [p.code for p in result.problems] == ["not-identity-record"] and result.ok


def test_a_plain_file_with_empty_images_still_says_so(tmp_path):
    with RecordWriter(tmp_path / "e.rec", index=True) as writer:
        for key in range(3):
            writer.write(pack(IRHeader(2, np.array([1, 2], np.float32), key + 1, 0), b""), key=key + 1)
    result = verify_rec(str(tmp_path / "e.rec"))
    assert result.layout == {"kind": PLAIN} and [p.code for p in result.problems] == ["empty-image"] * 3


@pytest.mark.parametrize("as_json", [False, True])
def test_loader_run_loads_the_images_only(faces, capsys, as_json):
    path, made = faces["scalar"]
    args = ["loader", "run", path, "--data-shape", "3,64,64", "--batch-size", "8", "--num-workers", "0"]
    code, out, _ = run(capsys, *args, *(["--json"] if as_json else []))
    assert code == 0, out
    if as_json:
        report = json.loads(out)
        assert report["images"] == made["images"] and report["skipped"] == 0 and report["label_width"] == 1
        assert report["layouts"][0]["kind"] == INSIGHTFACE
    else:
        assert f": {made['images']} images in" in out and "skipped records: 0" in out and "header records not loaded" in out


def test_loader_label_width_option(faces, capsys):
    path, made = faces["pairs"]
    common = ["loader", "run", path, "--data-shape", "3,64,64", "--batch-size", "8", "--num-workers", "0", "--json"]
    code, out, _ = run(capsys, *common)
    assert code == 0 and json.loads(out)["label_width"] == 2 and json.loads(out)["images"] == made["images"]
    code, out, _ = run(capsys, *common, "--label-width", "1")  # the records hold 2: every one is skipped, and said
    report = json.loads(out)
    assert code == 1 and report["images"] == 0 and report["skipped"] == made["images"]
    assert "record has 2 label(s), the loader expects 1" in report["errors"][0]


def test_loader_library_reads_every_image_once_with_its_identity(faces):
    for name in ("scalar", "first"):
        path, made = faces[name]
        labels = []
        with ImageLoader(path, 4, (3, 32, 32), resize=32, num_workers=0, shuffle=True, seed=3) as loader:
            for batch in loader:
                labels += batch.label.reshape(-1).astype(int).tolist()
        assert sorted(labels) == sorted(made["labels"].values())


@pytest.mark.parametrize("as_json", [False, True])
def test_extract_then_repack_is_byte_identical(faces, tmp_path, capsys, as_json):
    for name in ("scalar", "pairs", "first"):
        path, made = faces[name]
        out_dir = tmp_path / f"{name}-{as_json}"
        code, out, _ = run(capsys, "rec", "extract", path, out_dir, *(["--json"] if as_json else []))
        assert code == 0
        if as_json:
            result = json.loads(out)
            assert result["records"] == made["images"] + made["identities"] + 1 and result["multi_label"]
            assert result["layout"]["kind"] == INSIGHTFACE and result["inexact"] == 0
            assert result["label_widths"] == ({"2": result["records"]} if name == "pairs" else
                                              {"1": made["images"], "2": made["identities"] + 1})
        else:
            assert "layout: InsightFace face set" in out and "--pass-through --pack-label" in out
        lst = out_dir / f"{name}.lst"
        code, _, err = run(capsys, "im2rec", lst, out_dir, "--pass-through", "--pack-label", "-o", tmp_path / f"re-{name}")
        assert code == 0 and "warning" not in err
        for ext in (".rec", ".idx"):
            assert (tmp_path / f"re-{name}{ext}").read_bytes() == open(path[:-4] + ext, "rb").read()


def test_extract_library_reports_what_im2rec_cannot_write_back(tmp_path, photos):
    """A single label stored after the header (flag 1): extracted, counted as inexact."""
    import simplejpeg

    jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(photos["astronaut"][:64, :64]), colorspace="RGB")
    with RecordWriter(tmp_path / "one.rec", index=True) as writer:
        writer.write(pack(IRHeader(1, np.array([3], np.float32), 0, 0), jpeg), key=0)
        writer.write(pack(IRHeader(0, 2.0, 1, 0), jpeg), key=1)
    result = extract_rec(tmp_path / "one.rec", str(tmp_path / "out"))
    assert (result.records, result.inexact, result.multi_label, result.label_widths) == (2, 1, False, {"1": 2})


def test_pass_through_packs_empty_files_with_a_note_unless_they_are_header_records(tmp_path, capsys):
    root = tmp_path / "root"
    write_photo_tree(str(root), classes=1, per_class=1)
    (root / "empty.bin").write_bytes(b"")
    (tmp_path / "a.lst").write_text("0\t3\t7\tempty.bin\n1\t0\tclass_0/img_00000.jpg\n2\t4\tempty.bin\n")
    report = pack_lst(str(tmp_path / "a.lst"), str(root), str(tmp_path / "a"), options=PackOptions(pass_through=True, pack_label=True),
                      num_workers=1)
    assert report.written == 3 and [n.line for n in report.notes] == [3]  # the single-label empty file is worth a word
    records = [split_record(r) for r in RecordReader(str(tmp_path / "a.rec"))]
    assert [len(r.image) for r in records][::2] == [0, 0] and records[0].labels.tolist() == [3, 7]
    report = pack_lst(str(tmp_path / "a.lst"), str(root), str(tmp_path / "b"), options=PackOptions(), num_workers=1)
    assert report.written == 1 and [s.reason for s in report.skipped] == ["empty file (0 bytes)"] * 2


# ---- MXNet as the oracle ---------------------------------------------------------------------


def test_mxnet_reads_the_face_set_as_insightface_does(faces, mx):
    """MXFaceDataset's steps: header0 from key 0, then images 1..label[0]-1, label[0] of each."""
    for name in ("scalar", "pairs"):
        path, made = faces[name]
        record = mx.recordio.MXIndexedRecordIO(path[:-4] + ".idx", path, "r")
        header, _ = mx.recordio.unpack(record.read_idx(0))
        assert header.flag > 0
        imgidx = list(range(1, int(header.label[0])))
        assert len(imgidx) == made["images"] == len(detect_layout(path).images)
        for key in imgidx:
            h, image = mx.recordio.unpack(record.read_idx(key))
            label = h.label if np.isscalar(h.label) else h.label[0]
            assert int(label) == made["labels"][key] and image[:2] == b"\xff\xd8"
        for key, (start, end) in zip(range(int(header.label[0]), int(header.label[1])), made["ranges"]):
            h, image = mx.recordio.unpack(record.read_idx(key))
            assert (int(h.label[0]), int(h.label[1])) == (start, end) and image == b""
        record.close()


def test_mxnet_writes_the_same_face_set_byte_for_byte(faces, mx, tmp_path):
    """Writing our records' headers and images again with MXNet's recordio (as face2rec2 does)
    gives our .rec and .idx; icformat then reads MXNet's file as an InsightFace set."""
    path, made = faces["pairs"]
    keys, _ = read_index(path[:-4] + ".idx")
    writer = mx.recordio.MXIndexedRecordIO(str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), "w")
    for key, record in zip(keys, RecordReader(path)):
        split = split_record(record)
        writer.write_idx(key, mx.recordio.pack(mx.recordio.IRHeader(0, split.labels, split.header.id, 0), bytes(split.image)))
    writer.close()
    assert (tmp_path / "mx.rec").read_bytes() == open(path, "rb").read()
    assert (tmp_path / "mx.idx").read_bytes() == open(path[:-4] + ".idx", "rb").read()
    assert verify_rec(str(tmp_path / "mx.rec")).layout["identities"] == made["identities"]


def test_keys_beyond_int64_are_no_layout_keys(tmp_path, photos):
    """ids as large as uint64 allows (no .idx: they become the keys) and string keys: plain, no crash."""
    import simplejpeg

    from icformat.recordio.layout import layout_of
    from icformat.recordio.random_access import IndexedRecordFile

    jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(photos["astronaut"][:32, :32]), colorspace="RGB")
    with RecordWriter(tmp_path / "big.rec") as writer:
        for id_ in (2**64 - 1, 2**64 - 2, 0):
            writer.write(pack(IRHeader(0, 1.0, id_, 0), jpeg))
    with IndexedRecordFile(str(tmp_path / "big.rec")) as records:
        assert records.keys[0] == 2**64 - 1 and layout_of(records).kind == PLAIN
    layout = detect_layout(str(_small_face_set(tmp_path)))
    assert layout.kind == INSIGHTFACE and layout.missing_image_keys([0, 1, "x", 2**64 - 1]).tolist() == list(range(2, 5))


def _small_face_set(tmp_path) -> str:
    path = str(tmp_path / "small.rec")
    write_insightface_rec(path, identities=2, per_identity=(2, 2), size=32)
    return path


_KEY_TOKENS = ["0", "00", "+0", "-0", "0_0", "\u0660", " 0", "\x0b0", "1", "2", "7", " 7", "x", "0a", "01"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_idx_fast_path_finds_what_the_full_read_finds(faces, tmp_path, data):
    """detect_layout's regular-expression look for key 0 (instead of parsing the whole .idx) gives
    the layout that parsing the whole .idx gives, on indexes with odd keys and bad offsets."""
    from icformat.errors import IcformatError
    from icformat.recordio.layout import layout_of_index

    path, _ = faces["first"]
    _, offsets = read_index(path[:-4] + ".idx")
    lines = data.draw(st.lists(st.tuples(st.sampled_from(_KEY_TOKENS), st.sampled_from(offsets + [1, 10**9]),
                                         st.sampled_from(["\t", " ", " \t"])), min_size=1, max_size=8))
    rec = tmp_path / "p.rec"
    if not rec.exists():
        rec.write_bytes(open(path, "rb").read())
    idx = tmp_path / "p.idx"
    idx.write_bytes("".join(f"{k}{sep}{o}\n" for k, o, sep in lines).encode())
    try:
        full = layout_of_index(str(rec), *read_index(str(idx)))
    except IcformatError:
        full = detect_layout(str(rec), index=([], []))  # what an unreadable index gives: plain
    fast = detect_layout(str(rec))
    assert (fast.kind, fast.images, fast.identities, fast.header_offsets.tolist()) == \
        (full.kind, full.images, full.identities, full.header_offsets.tolist())
