"""Identical findings are grouped in text output (issue 22, item 2): the first few of each kind with
their lines, then one line for the rest; ``--json`` and ``--all`` keep every finding."""
from __future__ import annotations

import json
import os

import pytest

from icformat.cli import main
from icformat.lst import write_lst
from icformat.problems import SHOWN_PER_KIND, error, grouped_lines, warning
from icformat.recordio import IRHeader, RecordWriter, pack


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_grouped_lines_keep_the_first_of_each_kind_and_sum_up_the_rest():
    problems = [error("a.lst", "label-out-of-range", f"class label {10 + i % 2} is out of range for --num-classes 10 (0..9)", line=i)
                for i in range(1, 269)]
    problems.insert(1, warning("a.lst", "duplicate-image", "same image as line 1: x.jpg", line=2))
    lines = grouped_lines(problems)
    assert lines[:SHOWN_PER_KIND] == [str(p) for p in problems[:1] + problems[2:SHOWN_PER_KIND + 1]]
    assert lines[SHOWN_PER_KIND] == ("a.lst: ... and 265 more errors like these (label-out-of-range) on lines 4-268: "
                                     "class label 10, 11")
    assert lines[SHOWN_PER_KIND + 1:] == ["a.lst:2: warning: same image as line 1: x.jpg"]
    assert grouped_lines(problems[:3]) == [str(p) for p in (problems[0], problems[2], problems[1])]  # kind by kind, none left out


def test_grouped_lines_at_offsets_and_without_one_varying_word():
    problems = [error("x.rec", "bad-header", f"record {i} has a bad header of {i * 3} bytes", offset=i * 1000) for i in range(10)]
    assert grouped_lines(problems)[-1] == "x.rec: ... and 7 more errors like these (bad-header) at offsets 3000-9000"


@pytest.fixture()
def wrong_classes(tmp_path) -> str:
    """A list of 300 rows labelled 0..11 checked against --num-classes 10: 50 rows out of range."""
    path = str(tmp_path / "a.lst")
    write_lst(path, [(i, (i % 12,), f"img_{i}.jpg") for i in range(300)])
    return path


def test_lst_validate_groups_text_and_keeps_every_finding_in_json_and_all(capsys, wrong_classes):
    code, out, _ = run(capsys, "lst", "validate", wrong_classes, "--num-classes", "10")
    lines = out.splitlines()
    assert code == 1 and len(lines) == SHOWN_PER_KIND + 2  # 3 findings, the rest, the summary
    assert lines[SHOWN_PER_KIND] == f"{wrong_classes}: ... and 47 more errors like these (label-out-of-range) on lines 24-300: class label 10, 11"
    code, out, _ = run(capsys, "lst", "validate", wrong_classes, "--num-classes", "10", "--all")
    assert code == 1 and len(out.splitlines()) == 50 + 1
    code, out, _ = run(capsys, "lst", "validate", wrong_classes, "--num-classes", "10", "--json")
    assert code == 1 and len(json.loads(out)["problems"]) == 50


def test_manifest_validate_groups_text(capsys, tmp_path):
    path = tmp_path / "a.manifest"
    path.write_text("".join(json.dumps({"source-ref": f"s3://b/{i}.jpg", "class": str(i % 12)}) + "\n" for i in range(120)))
    args = ["manifest", "validate", path, "--attribute-names", "source-ref,class", "--num-classes", "10"]
    code, out, _ = run(capsys, *args)
    assert code == 1 and len(out.splitlines()) <= 2 * (SHOWN_PER_KIND + 1) + 1 and "... and 17 more errors like these" in out
    code, out, _ = run(capsys, *args, "--all")
    assert code == 1 and len(out.splitlines()) >= 20
    code, out, _ = run(capsys, *args, "--json")
    assert sum(p["severity"] == "error" for p in json.loads(out)["problems"]) == 20


def test_rec_verify_groups_index_lines_of_a_truncated_file(capsys, tmp_path, photos):
    from icformat.image.encode import encode_jpeg

    jpeg = encode_jpeg(next(iter(photos.values())), quality=80)
    rec = str(tmp_path / "t.rec")
    with RecordWriter(rec, index=True) as w:
        for i in range(60):
            w.write(pack(IRHeader(0, float(i % 3), i, 0), jpeg), key=i)
    with open(rec, "r+b") as f:
        f.truncate(os.path.getsize(rec) // 3)
    code, out, _ = run(capsys, "rec", "verify", rec)
    grouped = out.splitlines()
    assert code == 1 and len(grouped) <= 2 * (SHOWN_PER_KIND + 1) + 1 and "more errors like these" in out
    code, out, _ = run(capsys, "rec", "verify", rec, "--all")
    assert len(out.splitlines()) >= 40
    code, out, _ = run(capsys, "rec", "verify", rec, "--json")
    assert len(json.loads(out)["problems"]) >= 40


def test_preflight_groups_text(capsys, tmp_path, photo_tree):
    lst = tmp_path / "lists" / "train.lst"
    lst.parent.mkdir()
    write_lst(str(lst), [(i, (i % 3,), f"class_{i % 3}/img_{i // 3 % 4:05d}.jpg") for i in range(60)])
    (tmp_path / "hp.json").write_text(json.dumps({"num_classes": "3", "num_training_samples": "60", "resize": "256"}))
    args = ["preflight", "--hyperparameters", tmp_path / "hp.json", "--channel", f"train={photo_tree};application/x-image",
            "--channel", f"train_lst={lst};application/x-image"]
    code, out, _ = run(capsys, *args, "--json")
    duplicates = [f for f in json.loads(out)["findings"] if f["path"] == str(lst) and f["line"] and f["severity"] == "warning"]
    assert len(duplicates) > 40
    code, grouped, _ = run(capsys, *args)
    code, every, _ = run(capsys, *args, "--all")
    assert len(grouped.splitlines()) < 40 < len(every.splitlines()) and "more warnings like these" in grouped
