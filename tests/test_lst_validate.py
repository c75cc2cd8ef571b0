"""lst validate: for each check, a file with exactly that problem (and a clean file with none)."""
from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from icformat.cli import main
from icformat.lst.validate import ERROR, WARNING, parse_image_shape, validate_lst

GOOD = ["class_0/img_00000.jpg", "class_0/img_00001.jpg", "class_1/img_00000.jpg", "class_1/img_00001.jpg", "class_2/img_00000.jpg"]


@pytest.fixture(scope="module")
def root(tmp_path_factory, photo_tree, photos) -> str:
    """The real-photo tree plus one file per kind of bad or unusual image."""
    root = str(tmp_path_factory.mktemp("vroot"))
    shutil.copytree(photo_tree, root, dirs_exist_ok=True)
    photo = photos["astronaut"]  # 512x512
    good = open(os.path.join(root, GOOD[0]), "rb").read()
    odd = os.path.join(root, "odd")
    os.makedirs(odd)
    _write(odd, "garbage.jpg", b"definitely not a JPEG file")
    _write(odd, "truncated.jpg", good[: len(good) // 2])
    _write(odd, "empty.jpg", b"")
    _write(odd, "small.jpg", _encode(photo[:100, :150], "JPEG"))
    _write(odd, "cmyk.jpg", _encode(photo, "JPEG", "CMYK"))
    _write(odd, "gray.png", _encode(photo[:, :, 0], "PNG"))
    _write(odd, "alpha.png", _encode(np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)]), "PNG"))
    _write(odd, "deep.png", _encode(photo[:, :, 0].astype(np.uint16) * 257, "PNG"))
    return root


def _encode(array, fmt, mode=None) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def _write(folder, name, data) -> None:
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def _lst(tmp_path, rows, name="t.lst") -> str:
    path = tmp_path / name
    path.write_text("".join(r if r.endswith("\n") or r == "" else r + "\n" for r in rows))
    return str(path)


def _clean_rows(labels=(0, 0, 1, 1, 2)):
    return [f"{i}\t{label}\t{p}" for i, (label, p) in enumerate(zip(labels, GOOD))]


def _only(result, severity=ERROR):
    found = [p for p in result.problems if p.severity == severity]
    assert len(found) == 1, [str(p) for p in result.problems]
    return found[0]


def test_clean_file_has_no_problem(root, tmp_path):
    result = validate_lst(_lst(tmp_path, _clean_rows()), root, check_images=True, image_shape="3,64,64", num_workers=1)
    assert result.problems == [] and result.ok
    assert (result.rows, result.classes, result.files_checked, result.images_checked) == (5, 3, 5, 5)


def test_mxnet_float_labels_crlf_blank_lines_are_fine(root, tmp_path):
    path = tmp_path / "crlf.lst"
    path.write_bytes(b"0\t0.000000\tclass_0/img_00000.jpg\r\n\r\n1\t1.000000\tclass_1/img_00000.jpg  \r\n   \n2\t1\tclass_1/img_00001.jpg\n\n")
    assert validate_lst(str(path), root).problems == []


def test_duplicate_index(root, tmp_path):
    rows = _clean_rows()
    rows[3] = rows[3].replace("3\t", "1\t", 1)
    problem = _only(validate_lst(_lst(tmp_path, rows), root))
    assert problem.line == 4 and "duplicate index 1 (first on line 2)" in problem.message


def test_negative_index(root, tmp_path):
    rows = _clean_rows()
    rows[2] = "-7" + rows[2][1:]
    problem = _only(validate_lst(_lst(tmp_path, rows), root))
    assert problem.line == 3 and "negative index -7" in problem.message


def test_labels_not_zero_based(root, tmp_path):
    problem = _only(validate_lst(_lst(tmp_path, _clean_rows((1, 1, 2, 2, 3))), root))
    assert problem.line is None and "not 0-based" in problem.message and "smallest is 1" in problem.message


def test_labels_not_contiguous_names_the_missing(root, tmp_path):
    problem = _only(validate_lst(_lst(tmp_path, _clean_rows((0, 1, 3, 5, 5))), root))
    assert "not contiguous" in problem.message and "label 2, 4" in problem.message


def test_non_integer_label(root, tmp_path):
    problem = _only(validate_lst(_lst(tmp_path, _clean_rows((0, 0.5, 1, 1, 2))), root))
    assert problem.line == 2 and "0.5 is not an integer" in problem.message


def test_label_out_of_num_classes_and_unused_classes(root, tmp_path):
    result = validate_lst(_lst(tmp_path, _clean_rows((0, 0, 1, 1, 4))), root, num_classes=3)
    problem = _only(result)
    assert problem.line == 5 and "out of range for --num-classes 3" in problem.message
    result = validate_lst(_lst(tmp_path, _clean_rows()), root, num_classes=5)
    assert result.ok and "no image has label 3, 4" in _only(result, WARNING).message


def test_multi_label_wrong_width(root, tmp_path):
    rows = [f"{i}\t1\t0\t{p}" for i, p in enumerate(GOOD)]
    problem = _only(validate_lst(_lst(tmp_path, rows), root, multi_label=True, num_classes=3))
    assert "2 label column(s) but --num-classes is 3" in problem.message


def test_multi_label_row_of_another_width(root, tmp_path):
    rows = [f"{i}\t1\t0\t1\t{p}" for i, p in enumerate(GOOD)]
    rows[2] = f"2\t1\t0\t{GOOD[2]}"
    problem = _only(validate_lst(_lst(tmp_path, rows), root, multi_label=True))
    assert problem.line == 3 and "2 label column(s) where earlier lines have 3" in problem.message


def test_multi_label_values_not_zero_or_one(root, tmp_path):
    rows = [f"{i}\t1\t0\t1\t{p}" for i, p in enumerate(GOOD)]
    rows[1] = f"1\t1\t2\t0\t{GOOD[1]}"
    result = validate_lst(_lst(tmp_path, rows), root, num_classes=3)  # multi-label decided from the width
    problem = _only(result)
    assert result.multi_label and problem.line == 2 and "found 2 in label column 2" in problem.message


@pytest.mark.parametrize("bad, reason", [("/etc/hostname", "absolute path"), ("../outside.jpg", "escapes the image root"),
                                         ("class_0/../../outside.jpg", "escapes the image root"), ("C:\\images\\a.jpg", "absolute path")])
def test_unsafe_paths_are_refused_and_never_read(root, tmp_path, monkeypatch, bad, reason):
    outside = os.path.join(os.path.dirname(root), "outside.jpg")
    shutil.copy(os.path.join(root, GOOD[0]), outside)  # exists: a validator that looked would find it
    rows = _clean_rows()
    rows[1] = f"1\t0\t{bad}"
    touched = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: (touched.append(str(p)), real_stat(p, *a, **k))[1])
    problem = _only(validate_lst(_lst(tmp_path, rows), root, check_images=True, num_workers=1))
    assert problem.line == 2 and reason in problem.message and "refused, not read" in problem.message
    assert not any("outside" in p or "hostname" in p or "images" in p for p in touched)


def test_missing_file(root, tmp_path):
    rows = _clean_rows()
    rows[4] = "4\t2\tclass_2/nope.jpg"
    problem = _only(validate_lst(_lst(tmp_path, rows), root))
    assert problem.line == 5 and "file not found" in problem.message and problem.message.endswith("class_2/nope.jpg")


@pytest.mark.parametrize("name, words, severity", [("garbage.jpg", "not a readable image", ERROR), ("empty.jpg", "empty file", ERROR),
                                                    ("truncated.jpg", "truncated", WARNING)])
def test_broken_images(root, tmp_path, name, words, severity):
    """A JPEG cut in half decodes in MXNet (gray bottom): a warning, not an error."""
    rows = _clean_rows()
    rows[2] = f"2\t1\todd/{name}"
    problem = _only(validate_lst(_lst(tmp_path, rows), root, check_images=True, num_workers=1), severity)
    assert problem.line == 3 and words in problem.message


def test_image_smaller_than_image_shape_unless_resize_covers_it(root, tmp_path):
    rows = _clean_rows()
    rows[0] = "0\t0\todd/small.jpg"
    lst = _lst(tmp_path, rows)
    problem = _only(validate_lst(lst, root, check_images=True, image_shape=(3, 128, 128), num_workers=1))
    assert problem.line == 1 and "100x150 (HxW)" in problem.message and "--image-shape 3,128,128" in problem.message
    assert validate_lst(lst, root, check_images=True, image_shape="3,128,128", resize=160, num_workers=1).ok
    assert not validate_lst(lst, root, check_images=True, image_shape="3,128,128", resize=120, num_workers=1).ok


@pytest.mark.parametrize("name, words", [("cmyk.jpg", "CMYK"), ("gray.png", "grayscale"), ("alpha.png", "alpha channel"), ("deep.png", "16-bit")])
def test_colour_mode_warnings(root, tmp_path, name, words):
    rows = _clean_rows()
    rows[3] = f"3\t1\todd/{name}"
    result = validate_lst(_lst(tmp_path, rows), root, check_images=True, num_workers=1)
    assert result.ok
    warnings = [p for p in result.warnings if words in p.message]
    assert len(warnings) == 1 and warnings[0].line == 4


def test_every_problem_is_reported_not_just_the_first(root, tmp_path):
    rows = _clean_rows() + ["5 1 spaces-not-tabs.jpg", "x\t1\tclass_0/img_00002.jpg", "7\tone\tclass_0/img_00003.jpg", "8\t1\t",
                            "9\t1\tmissing.jpg", "3\t1\tclass_1/img_00002.jpg"]
    result = validate_lst(_lst(tmp_path, rows), root)
    lines = [p.line for p in result.errors]
    assert lines == [6, 7, 8, 9, 10, 11], [str(p) for p in result.problems]


def test_parallel_image_checks_match_serial(root, tmp_path):
    names = sorted(os.listdir(os.path.join(root, "odd")))
    rows = [f"{i}\t0\todd/{n}" for i, n in enumerate(names)] + [f"{i + 20}\t0\t{p}" for i, p in enumerate(GOOD)]
    lst = _lst(tmp_path, rows)
    serial = validate_lst(lst, root, check_images=True, image_shape="3,128,128", num_workers=1)
    parallel = validate_lst(lst, root, check_images=True, image_shape="3,128,128", num_workers=2)
    assert [str(p) for p in serial.problems] == [str(p) for p in parallel.problems]


def test_parse_image_shape():
    assert parse_image_shape("3, 224,224") == (3, 224, 224) and parse_image_shape(None) is None
    with pytest.raises(ValueError):
        parse_image_shape("224,224")


def _main(capsys, *args) -> tuple[int, str, str]:
    code = main(list(map(str, args)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_lists_problems_then_summary_and_exits_1(root, tmp_path, capsys):
    rows = _clean_rows()
    rows[3] = rows[3].replace("3\t", "1\t", 1)
    lst = _lst(tmp_path, rows)
    code, out, _ = _main(capsys, "lst", "validate", lst, "--root", root)
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith(f"{lst}:4: duplicate index 1") and "1 error, 0 warnings" in lines[-1]


def test_cli_json_and_warnings_only_exit_0(root, tmp_path, capsys):
    rows = _clean_rows()
    rows[3] = "3\t1\todd/gray.png"
    code, out, err = _main(capsys, "lst", "validate", _lst(tmp_path, rows), "--root", root, "--check-images", "--json", "--num-workers", "1")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] and data["errors"] == 0 and data["warnings"] == 1
    assert data["problems"][0]["line"] == 4 and data["problems"][0]["severity"] == "warning"


def test_cli_check_images_needs_root(tmp_path, capsys):
    code, _, err = _main(capsys, "lst", "validate", _lst(tmp_path, _clean_rows()), "--check-images")
    assert code == 2 and "--check-images needs --root" in err


def test_cli_strict_fails_on_warnings_and_image_shape_needs_check_images(root, tmp_path, capsys):
    rows = _clean_rows()
    rows[3] = "3\t1\todd/gray.png"
    lst = _lst(tmp_path, rows)
    code, out, _ = _main(capsys, "lst", "validate", lst, "--root", root, "--check-images", "--strict", "--num-workers", "1")
    assert code == 1 and "warning: odd/gray.png: grayscale" in out
    code, _, err = _main(capsys, "lst", "validate", lst, "--root", root, "--image-shape", "3,224,224")
    assert code == 2 and "--check-images" in err
