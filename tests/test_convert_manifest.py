"""Conversions between .lst, augmented manifests and .rec: lossless round trips, clear errors, no half output."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from icformat.convert import lst_to_manifest, manifest_to_lst, manifest_to_rec, rec_to_manifest
from icformat.errors import IcformatError, LstError, ManifestError
from icformat.lst import read_lst, write_lst
from icformat.manifest import read_manifest, validate_manifest
from icformat.recordio import MAGIC_BYTES, IndexedRecordFile, IRHeader, RecordReader, RecordWriter, pack, read_index, unpack

NAMES = "source-ref,class"


def read_records(src) -> list[bytes]:
    """Every record of a .rec (path, URI or file object), the reader closed afterwards."""
    with RecordReader(src) as reader:
        return list(reader)


def photo_paths(photo_tree) -> list[str]:
    return sorted(os.path.join(c, f) for c in os.listdir(photo_tree) for f in os.listdir(os.path.join(photo_tree, c)))


@pytest.fixture
def single_lst(tmp_path, photo_tree):
    """A single-label .lst over real photos, with indices that are neither 0-based nor in order."""
    entries = [(1000 - 7 * i, (float(p.split("/")[0][-1]),), p) for i, p in enumerate(photo_paths(photo_tree))]
    path = str(tmp_path / "train.lst")
    write_lst(path, entries)
    return path, entries


@pytest.fixture
def multi_lst(tmp_path, photo_tree):
    """A multi-hot .lst (4 classes) over real photos, including a row with no class."""
    rng = np.random.default_rng(3)
    entries = [(i, tuple(float(v) for v in rng.integers(0, 2, 4)) if i else (0.0,) * 4, p) for i, p in enumerate(photo_paths(photo_tree))]
    path = str(tmp_path / "multi.lst")
    write_lst(path, entries)
    return path, entries


def table_rows(path) -> list[tuple]:
    return [(e.index, e.labels, e.path) for e in read_lst(path)]


def lst_to_rec(lst: str, root: str, rec: str) -> None:
    """What ``im2rec --pass-through`` writes: image bytes as stored, ids and .idx keys = .lst indices."""
    with RecordWriter(rec, index=True) as writer:
        for entry in read_lst(lst):
            label = entry.labels[0] if len(entry.labels) == 1 else np.asarray(entry.labels, np.float32)
            header = IRHeader(0 if len(entry.labels) == 1 else len(entry.labels), label, entry.index, 0)
            writer.write(pack(header, Path(os.path.join(root, entry.path)).read_bytes()), key=entry.index)


# round trips ------------------------------------------------------------------------------------
def test_lst_manifest_lst_single_label(tmp_path, single_lst, photo_tree):
    lst, entries = single_lst
    manifest = str(tmp_path / "train.manifest")
    assert lst_to_manifest(lst, manifest, prefix="s3://bucket/train") == len(entries)
    first = json.loads(Path(manifest).read_text().splitlines()[0])
    assert first == {"source-ref": f"s3://bucket/train/{entries[0][2]}", "class": "0", "index": 1000}
    assert validate_manifest(manifest, NAMES, num_classes=3).problems == []
    back = str(tmp_path / "back.lst")
    assert manifest_to_lst(manifest, back, attribute_names=NAMES, prefix="s3://bucket/train/") == len(entries)
    assert table_rows(back) == table_rows(lst)
    assert Path(back).read_text() == Path(lst).read_text()


@pytest.mark.parametrize("label_format, num_classes", [(None, None), ("multi-hot", 4), ("class-id", 4)])
def test_lst_manifest_lst_multi_label(tmp_path, multi_lst, label_format, num_classes):
    lst, entries = multi_lst
    manifest = str(tmp_path / "multi.manifest")
    lst_to_manifest(lst, manifest, prefix="/data/images", ref_attribute="image-ref", label_attribute="labels", label_format=label_format)
    rows = list(read_manifest(manifest, "image-ref,labels"))
    assert rows[0].values == ("/data/images/" + entries[0][2], "[]" if label_format == "class-id" else "[0, 0, 0, 0]")
    assert validate_manifest(manifest, "image-ref,labels", num_classes=4, label_format=label_format).problems == []
    back = str(tmp_path / "back.lst")
    manifest_to_lst(manifest, back, attribute_names="image-ref,labels", prefix="/data/images", label_format=label_format, num_classes=num_classes)
    assert table_rows(back) == table_rows(lst)


@pytest.mark.parametrize("fixture", ["single_lst", "multi_lst"])
def test_lst_rec_manifest_lst(tmp_path, photo_tree, fixture, request):
    lst, entries = request.getfixturevalue(fixture)
    rec = str(tmp_path / "train.rec")
    lst_to_rec(lst, photo_tree, rec)
    manifest = str(tmp_path / "out" / "train.manifest")
    assert rec_to_manifest(rec, manifest, prefix="images") == len(entries)
    back = str(tmp_path / "back.lst")
    manifest_to_lst(manifest, back, attribute_names=NAMES, prefix="images")
    got = table_rows(back)
    assert [(i, labels) for i, labels, _ in got] == [(i, labels) for i, labels, _ in table_rows(lst)]
    originals = {index: Path(os.path.join(photo_tree, path)).read_bytes() for index, _, path in entries}
    for index, _, path in got:
        assert path == f"{index}.jpg"
        assert Path(os.path.join(tmp_path, "out", "images", path)).read_bytes() == originals[index]


def test_manifest_rec_manifest_keeps_everything(tmp_path, single_lst, photo_tree):
    lst, entries = single_lst
    manifest = str(tmp_path / "m.manifest")
    lst_to_manifest(lst, manifest, prefix=os.path.join(photo_tree, "..", os.path.basename(photo_tree)))
    rec = str(tmp_path / "m.rec")
    stats = manifest_to_rec(manifest, rec, attribute_names=NAMES, workers=4)
    again = str(tmp_path / "again.manifest")
    rec_to_manifest(rec, again, prefix=str(tmp_path / "copies"))
    rec2 = str(tmp_path / "again.rec")
    manifest_to_rec(again, rec2, attribute_names=NAMES)
    assert Path(rec).read_bytes() == Path(rec2).read_bytes()
    assert stats.records == len(entries)


# manifest -> rec --------------------------------------------------------------------------------
def test_manifest_to_rec_headers_and_index(tmp_path, photo_tree, single_lst):
    lst, entries = single_lst
    manifest = str(tmp_path / "m.manifest")
    lst_to_manifest(lst, manifest, prefix=photo_tree)
    rec = str(tmp_path / "out.rec")
    manifest_to_rec(manifest, rec, attribute_names=NAMES, workers=3)
    keys, _ = read_index(str(tmp_path / "out.idx"))
    assert keys == [index for index, _, _ in entries]
    with IndexedRecordFile(rec) as indexed:
        for index, labels, path in entries:
            header, image = unpack(indexed[index])
            assert (header.flag, header.label, header.id, header.id2) == (0, labels[0], index, 0)
            assert bytes(image) == Path(os.path.join(photo_tree, path)).read_bytes()


def test_manifest_to_rec_without_index_attribute_numbers_rows(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xffA")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nB")
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":1}\n\n{"source-ref":"b.png","class":"2"}\n')
    rec = str(tmp_path / "m.rec")
    manifest_to_rec(str(manifest), rec, attribute_names=NAMES, index=False)
    assert not os.path.exists(tmp_path / "m.idx")
    assert [(h.id, h.label) for h, _ in map(unpack, read_records(rec))] == [(0, 1.0), (1, 2.0)]


@pytest.mark.parametrize("value, label_format", [("[1, 0, 1, 1]", None), ([0, 2, 3], "class-id"), ("[0, 2, 3]", "class-id")])
def test_manifest_to_rec_multi_label_headers(tmp_path, value, label_format):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xffA")
    manifest = tmp_path / "m.manifest"
    manifest.write_text(json.dumps({"source-ref": "a.jpg", "class": value, "index": 7}) + "\n")
    rec = str(tmp_path / "m.rec")
    manifest_to_rec(str(manifest), rec, attribute_names=NAMES, label_format=label_format, num_classes=4)
    header, image = unpack(read_records(rec)[0])
    assert header.flag == 4 and header.id == 7 and bytes(image) == b"\xff\xd8\xffA"
    np.testing.assert_array_equal(header.label, np.array([1, 0, 1, 1], np.float32))


@pytest.mark.mxnet
def test_manifest_to_rec_reads_with_mxnet(tmp_path, mx, multi_lst, photo_tree):
    lst, entries = multi_lst
    manifest = str(tmp_path / "m.manifest")
    lst_to_manifest(lst, manifest, prefix=photo_tree, label_format="class-id")
    rec = str(tmp_path / "m.rec")
    manifest_to_rec(manifest, rec, attribute_names=NAMES, label_format="class-id", num_classes=4)
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / "m.idx"), rec, "r")
    assert sorted(reader.keys) == sorted(index for index, _, _ in entries)
    for index, labels, path in entries:
        header, image = mx.recordio.unpack(reader.read_idx(index))
        assert header.flag == 4 and header.id == index
        np.testing.assert_array_equal(header.label, np.asarray(labels, np.float32))
        assert image == Path(os.path.join(photo_tree, path)).read_bytes()


def test_image_holding_the_magic(tmp_path):
    image = b"\xff\xd8\xff\xe0" + MAGIC_BYTES + b"1234" + MAGIC_BYTES
    (tmp_path / "a.jpg").write_bytes(image)
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":"0"}\n')
    rec = str(tmp_path / "m.rec")
    manifest_to_rec(str(manifest), rec, attribute_names=NAMES)
    header, payload = unpack(read_records(rec)[0])
    assert bytes(payload) == image
    rec_to_manifest(rec, str(tmp_path / "back.manifest"), prefix="copies")
    assert (tmp_path / "copies" / "0.jpg").read_bytes() == image


# errors: one line naming file and line, nothing written -------------------------------------------
def assert_nothing_written(folder, before):
    assert sorted(os.listdir(folder)) == sorted(before)


def test_missing_image_names_the_line(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xffA")
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":"0"}\n{"source-ref":"gone.jpg","class":"0"}\n')
    before = os.listdir(tmp_path)
    with pytest.raises(ManifestError, match=r"m.manifest:2: cannot read 'gone.jpg': no such file"):
        manifest_to_rec(str(manifest), str(tmp_path / "m.rec"), attribute_names=NAMES)
    assert_nothing_written(tmp_path, before)


def test_not_an_image(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"hello")
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":"0"}\n')
    with pytest.raises(ManifestError, match=r"m.manifest:1: 'a.jpg' is not an image \(first bytes 68 65 6c 6c 6f\)"):
        manifest_to_rec(str(manifest), str(tmp_path / "m.rec"), attribute_names=NAMES)
    manifest_to_rec(str(manifest), str(tmp_path / "m.rec"), attribute_names=NAMES, check_images=False)


@pytest.mark.parametrize(
    "lines, options, message",
    [
        (['{"source-ref":"a.jpg","class":"[0, 2]"}'], {"label_format": "class-id"}, "m.manifest:1: class-id labels need the number of classes"),
        (['{"source-ref":"a.jpg","class":"0"}', '{"source-ref":"a.jpg","class":"[1, 0]"}'], {}, "m.manifest:2: label is 2 labels where earlier lines have a single class id"),
        (['{"source-ref":"a.jpg","class":"9"}'], {"num_classes": 3}, r"m.manifest:1: class id 9 is out of range"),
        (['{"source-ref":"a.jpg","class":"0","index":"x"}'], {}, "m.manifest:1: attribute 'index' must be an integer index"),
        (['{"source-ref":"a.jpg"}'], {}, "m.manifest:1: attribute 'class' is missing"),
    ],
)
def test_manifest_to_rec_label_errors(tmp_path, lines, options, message):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xffA")
    manifest = tmp_path / "m.manifest"
    manifest.write_text("".join(line + "\n" for line in lines))
    before = os.listdir(tmp_path)
    with pytest.raises(ManifestError, match=message.replace("[", r"\[")):
        manifest_to_rec(str(manifest), str(tmp_path / "m.rec"), attribute_names=NAMES, **options)
    assert_nothing_written(tmp_path, before)


def test_attribute_names_must_fit_image_classification(tmp_path):
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":"0"}\n')
    for names in ("class,source-ref", "source-ref", "source-ref,class,index"):
        with pytest.raises(ManifestError, match="image classification needs 2 attribute names"):
            manifest_to_rec(str(manifest), str(tmp_path / "m.rec"), attribute_names=names)


def test_manifest_to_lst_ref_outside_prefix(tmp_path):
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"s3://b/train/a.jpg","class":"0"}\n{"source-ref":"s3://b/validation/b.jpg","class":"0"}\n')
    before = os.listdir(tmp_path)
    with pytest.raises(ManifestError, match=r"m.manifest:2: reference 's3://b/validation/b.jpg' is outside the prefix 's3://b/train/'"):
        manifest_to_lst(str(manifest), str(tmp_path / "m.lst"), attribute_names=NAMES, prefix="s3://b/train")
    assert_nothing_written(tmp_path, before)
    # A prefix that only shares the start of a folder name does not count.
    with pytest.raises(ManifestError, match="outside the prefix 's3://b/tr/'"):
        manifest_to_lst(str(manifest), str(tmp_path / "m.lst"), attribute_names=NAMES, prefix="s3://b/tr")


def test_manifest_to_lst_width_must_not_change(tmp_path):
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"p/a.jpg","class":"[1, 0]"}\n{"source-ref":"p/b.jpg","class":"[1, 0, 1]"}\n')
    with pytest.raises(ManifestError, match="m.manifest:2: 3 label\\(s\\) where earlier lines have 2"):
        manifest_to_lst(str(manifest), str(tmp_path / "m.lst"), attribute_names=NAMES, prefix="p")


def test_lst_to_manifest_errors(tmp_path):
    lst = tmp_path / "a.lst"
    lst.write_text("0\t1\t0\ta.jpg\n1\t2\t0\tb.jpg\n")
    with pytest.raises(LstError, match=r"a.lst:2: cannot write class ids: multi-hot value 2 at position 0"):
        lst_to_manifest(str(lst), str(tmp_path / "a.manifest"), prefix="s3://b", label_format="class-id")
    assert not os.path.exists(tmp_path / "a.manifest")
    with pytest.raises(IcformatError, match="must end in -ref"):
        lst_to_manifest(str(lst), str(tmp_path / "a.manifest"), prefix="s3://b", ref_attribute="image")
    with pytest.raises(IcformatError, match="label attribute 'x-ref'"):
        lst_to_manifest(str(lst), str(tmp_path / "a.manifest"), prefix="s3://b", label_attribute="x-ref")


def test_rec_to_manifest_duplicate_ids_and_formats(tmp_path):
    rec = str(tmp_path / "d.rec")
    with RecordWriter(rec) as w:
        w.write(pack(IRHeader(0, 1.0, 5, 0), b"\xff\xd8\xffA"))
        w.write(pack(IRHeader(0, 2.0, 5, 0), b"\x89PNG\r\n\x1a\nB"))
        w.write(pack(IRHeader(0, 2.0, 5, 0), b"\xff\xd8\xffC"))
    manifest = str(tmp_path / "d.manifest")
    rec_to_manifest(rec, manifest, prefix="imgs", index_attribute=None)
    rows = [json.loads(line) for line in Path(manifest).read_text().splitlines()]
    assert rows == [{"source-ref": "imgs/5.jpg", "class": "1"}, {"source-ref": "imgs/5.png", "class": "2"}, {"source-ref": "imgs/5_1.jpg", "class": "2"}]
    assert (tmp_path / "imgs" / "5_1.jpg").read_bytes() == b"\xff\xd8\xffC"


def test_rec_to_manifest_multi_label_class_id(tmp_path):
    rec = str(tmp_path / "m.rec")
    with RecordWriter(rec) as w:
        w.write(pack(IRHeader(3, [1, 0, 1], 0, 0), b"\xff\xd8\xffA"))
    manifest = str(tmp_path / "m.manifest")
    rec_to_manifest(rec, manifest, prefix="imgs", label_format="class-id")
    assert json.loads(Path(manifest).read_text())["class"] == "[0, 2]"
    rec_to_manifest(rec, manifest, prefix="imgs")
    assert json.loads(Path(manifest).read_text())["class"] == "[1, 0, 1]"


# CLI ----------------------------------------------------------------------------------------------
def run_cli(capsys, *args):
    from icformat.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_conversions(tmp_path, capsys, single_lst, photo_tree):
    lst, entries = single_lst
    code, out, _ = run_cli(capsys, "lst2manifest", lst, "--prefix", photo_tree)
    manifest = str(tmp_path / "train.manifest")
    assert code == 0 and out.strip() == f"{manifest}: {len(entries)} lines"
    code, out, _ = run_cli(capsys, "manifest2rec", manifest, "-o", tmp_path / "train.rec", "--attribute-names", NAMES, "-j", "2", "--json")
    assert code == 0 and json.loads(out)["records"] == len(entries)
    code, out, _ = run_cli(capsys, "rec2manifest", tmp_path / "train.rec", "-o", tmp_path / "r" / "back.manifest", "--prefix", "images")
    assert code == 0 and out.strip().endswith(f"{len(entries)} lines")
    code, out, _ = run_cli(capsys, "manifest2lst", tmp_path / "r" / "back.manifest", "--attribute-names", NAMES, "--prefix", "images", "--style", "mxnet")
    assert code == 0
    back = read_lst(str(tmp_path / "r" / "back.lst"))
    assert [(e.index, e.labels) for e in back] == [(i, labels) for i, labels, _ in entries]
    assert "\t0.000000\t" in Path(tmp_path / "r" / "back.lst").read_text()


def test_cli_errors_are_one_line(tmp_path, capsys):
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"s3://elsewhere/a.jpg","class":"0"}\n')
    code, _, err = run_cli(capsys, "manifest2lst", manifest, "--attribute-names", NAMES, "--prefix", "s3://bucket/train")
    assert code == 1
    assert err.strip() == f"icformat: error: {manifest}:1: reference 's3://elsewhere/a.jpg' is outside the prefix 's3://bucket/train/'; give the common prefix of all images with --prefix"
    assert not os.path.exists(tmp_path / "m.lst")
    code, _, err = run_cli(capsys, "manifest2rec", manifest, "--attribute-names", NAMES, "-o", tmp_path / "m.rec", "--content-type", "application/x-recordio; label-format=bad")
    assert code == 1 and "unknown label format 'bad'" in err


def test_a_relative_prefix_round_trips_through_the_cli(tmp_path, capsys, photo_tree, monkeypatch):
    """Issue 22, item 5: ``lst2manifest a.lst --prefix photos`` then ``manifest2lst --prefix photos``
    gives the list back; a relative prefix is read from the manifest's folder in both."""
    import shutil

    work = tmp_path / "work"
    shutil.copytree(photo_tree, work / "photos")
    rows = [(i, (i % 3,), f"class_{i % 3}/img_{i // 3:05d}.jpg") for i in range(9)]
    write_lst(str(work / "a.lst"), rows)
    monkeypatch.chdir(work)
    code, _, err = run_cli(capsys, "lst2manifest", "a.lst", "--prefix", "photos")
    assert code == 0 and err == ""
    refs = [json.loads(line)["source-ref"] for line in (work / "a.manifest").read_text().splitlines()]
    assert refs == [f"photos/{path}" for _, _, path in rows]  # relative, as typed: the manifest moves with its images
    code, _, _ = run_cli(capsys, "manifest2lst", "a.manifest", "--prefix", "photos", "--attribute-names", NAMES, "-o", "back.lst")
    assert code == 0 and (work / "back.lst").read_text() == (work / "a.lst").read_text()
    # the manifest readers find the images the references name
    code, out, _ = run_cli(capsys, "manifest", "validate", "a.manifest", "--attribute-names", NAMES, "--check-refs")
    assert code == 0, out
    # from another folder: the prefix is the manifest's, and an absolute prefix is the same folder
    (work / "sub").mkdir()
    monkeypatch.chdir(work / "sub")
    code, _, _ = run_cli(capsys, "manifest2lst", "../a.manifest", "--prefix", "photos", "--attribute-names", NAMES, "-o", "b.lst")
    assert code == 0 and (work / "sub" / "b.lst").read_text() == (work / "a.lst").read_text()
    code, _, _ = run_cli(capsys, "manifest2lst", "../a.manifest", "--prefix", str(work / "photos"), "--attribute-names", NAMES, "-o", "c.lst")
    assert code == 0 and (work / "sub" / "c.lst").read_text() == (work / "a.lst").read_text()
    # a relative prefix that names no folder beside the manifest is said at once
    code, _, err = run_cli(capsys, "lst2manifest", "../a.lst", "--prefix", "photos", "-o", "here.manifest")
    assert code == 0 and "warning: references are relative to the manifest's folder, and photos is not a folder" in err
