"""Detection lists (GluonCV's im2rec, MXNet's ``im2rec.py --pack-label``): a different number of labels
on each line, read by the one ``.lst`` parser, checked by ``lst validate`` and packed by ``im2rec
--pack-label`` byte for byte as MXNet's ``im2rec.py`` packs them (the oracle, in the full environment)."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest

from icformat.cli import main
from icformat.errors import LstError
from icformat.im2rec.pack import PackOptions
from icformat.im2rec.run import pack_lst
from icformat.lst.detection import looks_like_detection
from icformat.lst.format import write_lst
from icformat.lst.parse import read_lst
from icformat.lst.validate import validate_lst
from icformat.recordio.header import split_record
from icformat.recordio.index import read_index
from icformat.recordio.reader import RecordReader


def _detection_rows(photo_tree: str, seed: int = 0) -> list[tuple[int, list[float], str]]:
    """GluonCV's layout: header width 4, object width 5, image width and height, then 1-3 objects
    (class id, xmin, ymin, xmax, ymax, normalised) per real photo."""
    rng = random.Random(seed)
    rows = []
    paths = sorted(os.path.join(c, f) for c in sorted(os.listdir(photo_tree)) for f in sorted(os.listdir(os.path.join(photo_tree, c))))
    for index, path in enumerate(paths):
        labels = [4.0, 5.0, 640.0, 480.0]
        for _ in range(rng.randint(1, 3)):
            x, y = rng.randint(0, 50) / 100, rng.randint(0, 50) / 100
            labels += [float(rng.randint(0, 2)), x, y, round(x + rng.randint(10, 50) / 100, 2), round(y + rng.randint(10, 50) / 100, 2)]
        rows.append((index, labels, path))
    return rows


@pytest.fixture(scope="module")
def det(tmp_path_factory, photo_tree) -> dict:
    folder = tmp_path_factory.mktemp("det")
    rows = _detection_rows(photo_tree)
    write_lst(str(folder / "det.lst"), rows, style="mxnet")
    return {"folder": folder, "lst": str(folder / "det.lst"), "rows": rows, "root": photo_tree}


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_parser_reads_mixed_label_counts_only_when_asked(det):
    with pytest.raises(LstError, match="label column"):
        read_lst(det["lst"])  # a classification reader still wants one label count
    table = read_lst(det["lst"], ragged=True)
    assert table.ragged and table.counts().tolist() == [len(r[1]) for r in det["rows"]]
    assert [list(e.labels) for e in table] == [r[1] for r in det["rows"]]
    assert [table.row_labels(i) for i in range(len(table))] == [r[1] for r in det["rows"]]
    assert np.isnan(table.labels[table.counts() < table.label_width, -1]).all()
    assert looks_like_detection(table)


def test_a_uniform_list_reads_as_before(photo_tree, tmp_path):
    write_lst(str(tmp_path / "c.lst"), [(0, [1.0], "a.jpg"), (1, [0.0], "b.jpg")])
    table = read_lst(str(tmp_path / "c.lst"), ragged=True)
    assert not table.ragged and table.labels.shape == (2, 1) and not looks_like_detection(table)


@pytest.mark.parametrize("as_json", [False, True])
def test_lst_validate_accepts_a_good_detection_list(det, capsys, as_json):
    code, out, _ = run(capsys, "lst", "validate", det["lst"], "--root", det["root"], *(["--json"] if as_json else []))
    assert code == 0, out
    objects = sum((len(r[1]) - 4) // 5 for r in det["rows"])
    if as_json:
        result = json.loads(out)
        assert result["problems"] == [] and result["rows"] == 12 and result["files_checked"] == 12
        assert result["detection"] == {"header_width": 4, "object_width": 5, "objects": objects, "classes": 3}
        assert not result["multi_label"]
    else:
        assert f"12 rows, detection list (header width 4, object width 5, {objects} objects, 3 classes)" in out and "0 errors" in out


def _bad_list(tmp_path) -> str:
    lines = [
        "0\t2\t5\t0\t0.1\t0.1\t0.5\t0.5\ta.jpg",  # good
        "1\t2\t5\t1\t0.1\t0.1\t0.5\t0.5\t2\t0.1\ta.jpg",  # 2 + 5 + 2: not whole objects
        "2\t1\t5\t1\t0.1\t0.1\t0.5\t0.5\ta.jpg",  # header width 1
        "3\t2\t4\t1\t0.1\t0.1\t0.5\ta.jpg",  # object width 4
        "4\t2\t5\t1\t0.5\t0.1\t0.2\t0.5\ta.jpg",  # the only box has xmax < xmin
        "5\t2\t5\t1\t0.1\t0.1\t0.5\t0.5\t1\t0.5\t0.5\t0.5\t0.6\ta.jpg",  # one good box, one without width
        "6\t2\t6\t1\t0.1\t0.1\t0.5\t0.5\t7\ta.jpg",  # another object width
        "7\t2\t5\t1.5\t0.1\t0.1\t0.5\t0.5\ta.jpg",  # class id 1.5
        "8\t2\t5\ta.jpg",  # no object
    ]
    path = tmp_path / "bad.lst"
    path.write_text("\n".join(line.replace("a.jpg", f"{i}.jpg") for i, line in enumerate(lines)) + "\n")
    return str(path)


def test_lst_validate_names_each_detection_problem(tmp_path):
    result = validate_lst(_bad_list(tmp_path))
    found = {(p.line, p.code, p.severity) for p in result.problems}
    assert found == {
        (2, "det-label-length", "error"), (3, "det-header-width", "error"), (4, "det-object-width", "error"),
        (5, "det-no-valid-box", "error"), (6, "det-empty-box", "warning"), (7, "det-widths-differ", "warning"),
        (8, "det-class-id", "warning"), (9, "det-too-short", "error"),
    }
    assert "ImageDetIter fails ('Label shape ... inconsistent with annotation width')" in \
        next(p.message for p in result.problems if p.code == "det-label-length")


@pytest.mark.parametrize("as_json", [False, True])
def test_lst_validate_cli_on_a_bad_detection_list(tmp_path, capsys, as_json):
    code, out, _ = run(capsys, "lst", "validate", _bad_list(tmp_path), *(["--json"] if as_json else []))
    assert code == 1
    if as_json:
        result = json.loads(out)
        assert result["errors"] == 5 and result["warnings"] == 3 and result["detection"]["header_width"] == 2
    else:
        assert "bad.lst:2:" in out and "5 errors, 3 warnings" in out


def test_num_classes_bounds_the_class_ids(det):
    assert validate_lst(det["lst"], num_classes=3).ok and not validate_lst(det["lst"], num_classes=3).problems
    problems = validate_lst(det["lst"], num_classes=2).problems
    assert [p.code for p in problems] == ["det-class-id"] and "below --num-classes 2" in problems[0].message


def test_lst_convert_keeps_each_line_s_labels(det, tmp_path, capsys):
    code, _, _ = run(capsys, "lst", "convert", det["lst"], tmp_path / "c.lst")
    assert code == 0 and [list(e.labels) for e in read_lst(str(tmp_path / "c.lst"), ragged=True)] == [r[1] for r in det["rows"]]


def test_without_detection_mixed_counts_are_still_refused(det, tmp_path, capsys):
    code, out, _ = run(capsys, "lst", "validate", det["lst"], "--no-detection", "--json")
    result = json.loads(out)
    assert code == 1 and "label-width" in {p["code"] for p in result["problems"]} and result["detection"] is None
    (tmp_path / "mixed.lst").write_text("0\t0\ta.jpg\n1\t0\t2\tb.jpg\n")  # a class-id list with a stray column
    result = validate_lst(str(tmp_path / "mixed.lst"))
    assert [p.code for p in result.problems] == ["label-width"] and result.detection is None


@pytest.mark.parametrize("as_json", [False, True])
def test_im2rec_pack_label_packs_each_line_as_it_is(det, tmp_path, capsys, as_json):
    code, out, err = run(capsys, "im2rec", det["lst"], det["root"], "--pack-label", "--pass-through", "-o", tmp_path / "d",
                         *(["--json"] if as_json else []))
    assert code == 0 and "warning" not in err
    assert (json.loads(out)["written"] if as_json else int(out.split(": ")[1].split(" of")[0])) == 12
    records = [split_record(r) for r in RecordReader(str(tmp_path / "d.rec"))]
    for (index, labels, path), record in zip(det["rows"], records):
        assert record.header.flag == len(labels) and record.header.id == index
        assert record.labels.tolist() == np.asarray(labels, np.float32).tolist()
        assert bytes(record.image) == open(os.path.join(det["root"], path), "rb").read()


def test_im2rec_without_pack_label_keeps_the_first_label(det, tmp_path):
    report = pack_lst(det["lst"], det["root"], str(tmp_path / "first"), options=PackOptions(pass_through=True), num_workers=1)
    assert report.written == 12
    assert {split_record(r).header.flag for r in RecordReader(str(tmp_path / "first.rec"))} == {0}


# ---- MXNet as the oracle ---------------------------------------------------------------------


def test_pack_label_is_byte_identical_to_mxnet_im2rec(det, mx, tmp_path):
    script = os.path.join(os.path.dirname(mx.__file__), "tools", "im2rec.py")
    folder = tmp_path / "mx"
    folder.mkdir()
    shutil.copy(det["lst"], folder)
    subprocess.run([sys.executable, script, "--num-thread", "2", "--pass-through", "--pack-label", str(folder) + os.sep, det["root"]],
                   check=True, capture_output=True)
    pack_lst(det["lst"], det["root"], str(tmp_path / "ours"), options=PackOptions(pass_through=True, pack_label=True), num_workers=2)
    assert (tmp_path / "ours.rec").read_bytes() == (folder / "det.rec").read_bytes()
    assert (tmp_path / "ours.idx").read_bytes() == (folder / "det.idx").read_bytes()
    assert read_index(str(tmp_path / "ours.idx"))[0] == list(range(12))


def test_mxnet_image_det_iter_reads_our_records(det, mx, tmp_path):
    pack_lst(det["lst"], det["root"], str(tmp_path / "d"), options=PackOptions(pass_through=True, pack_label=True), num_workers=1)
    it = mx.image.ImageDetIter(batch_size=4, data_shape=(3, 64, 64), path_imgrec=str(tmp_path / "d.rec"),
                               path_imgidx=str(tmp_path / "d.idx"), shuffle=False)
    boxes = []
    for batch in it:
        label = batch.label[0].asnumpy()
        boxes += [row[row[:, 0] >= 0] for row in label]
    expected = [np.asarray(labels[4:], np.float32).reshape(-1, 5) for _, labels, _ in det["rows"]]
    assert len(boxes) == 12
    for got, want in zip(boxes, expected):
        assert np.allclose(got, want)
