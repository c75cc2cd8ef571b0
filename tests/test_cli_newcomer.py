"""A newcomer's small stumbles (issue 22, items 7 and 10): no traceback on an s3:// URI without a
key, no wait on a regular file given to `pipe read`, one rule for folders, results on stdout, one
format for counts, and an image named for another format."""
from __future__ import annotations

import json
import os

import pytest

from icformat.cli import main
from icformat.lst import write_lst
from icformat.recordio import IRHeader, RecordWriter, pack

BUCKET_ONLY = "s3://Bucket_without_key"


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def rec_file(tmp_path, photo_tree) -> str:
    with open(os.path.join(photo_tree, "class_0", "img_00000.jpg"), "rb") as f:
        jpeg = f.read()
    path = str(tmp_path / "x.rec")
    with RecordWriter(path) as w:
        for i in range(7):
            w.write(pack(IRHeader(0, float(i % 3), i, 0), jpeg))
    return path


@pytest.mark.parametrize("args", [
    ["rec", "info", BUCKET_ONLY], ["rec", "verify", BUCKET_ONLY], ["rec", "index", BUCKET_ONLY],
    ["lst", "validate", BUCKET_ONLY], ["manifest", "validate", BUCKET_ONLY, "--attribute-names", "source-ref,class"],
    ["rec2manifest", "{rec}", "-o", BUCKET_ONLY, "--prefix", "s3://b/images"],
    ["preflight", "--hyperparameters", BUCKET_ONLY, "--channel", "train={rec}"],
    ["train", "--hyperparameters", BUCKET_ONLY, "--train", "{rec}"],
])
def test_an_s3_uri_without_a_key_is_one_usage_line(capsys, rec_file, args):
    code, out, err = run(capsys, *[a.format(rec=rec_file) for a in args])
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip() == f"icformat: usage: {BUCKET_ONLY}: names a bucket, not an object; give {BUCKET_ONLY}/key"


def test_pipe_read_of_a_regular_file_reads_it_at_once(capsys, tmp_path, rec_file):
    stream = tmp_path / "stream.bin"
    code, _, _ = run(capsys, "pipe", "write", rec_file, "-o", stream)
    assert code == 0
    code, out, err = run(capsys, "pipe", "read", stream, "--epochs", "2", "--timeout", "60")
    assert code == 0 and out.splitlines() == [f"{stream}: 7 records"] * 2
    (tmp_path / "empty.bin").write_bytes(b"")
    code, _, err = run(capsys, "pipe", "read", tmp_path / "empty.bin", "--timeout", "60")
    assert code == 1 and "the epoch held no records" in err


def test_one_rule_for_folders(capsys, tmp_path, rec_file):
    folder = tmp_path / "adir"
    folder.mkdir()
    for args in (["rec", "verify", folder], ["rec", "info", folder], ["lst", "validate", folder],
                 ["train", "--hyperparameters", folder, "--train", rec_file]):
        code, out, err = run(capsys, *args)
        assert (code, out, err) == (2, "", f"icformat: usage: {folder}: is a folder, not a file\n"), args


def test_counts_take_separators_and_positions_do_not(capsys, tmp_path):
    rec = str(tmp_path / "many.rec")
    with RecordWriter(rec) as w:
        for i in range(1234):
            w.write(pack(IRHeader(0, float(i % 2), i, 0), b"not an image"))
    with open(rec, "ab") as f:
        f.write(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    code, out, _ = run(capsys, "rec", "verify", rec, "--raw")
    summary = out.splitlines()[-1]
    assert code == 1 and summary.startswith(f"{rec}: 1,234 records checked")
    offset = os.path.getsize(rec) - 8
    assert f"{rec}@{offset}: " in out  # a location, plain: the same as in one-line errors
    code, _, err = run(capsys, "rec", "ls", rec)
    assert f"{rec}@{offset}: " in err


def test_an_image_named_for_another_format_is_a_warning(capsys, tmp_path, photo_tree):
    with open(os.path.join(photo_tree, "class_0", "img_00000.jpg"), "rb") as f:
        jpeg = f.read()
    (tmp_path / "fake.png").write_bytes(jpeg)
    (tmp_path / "real.jpg").write_bytes(jpeg)
    write_lst(str(tmp_path / "a.lst"), [(0, (0,), "fake.png"), (1, (0,), "real.jpg")])
    code, out, _ = run(capsys, "lst", "validate", tmp_path / "a.lst", "--root", tmp_path, "--check-images", "--json")
    found = json.loads(out)["problems"]
    assert code == 0 and [(p["line"], p["severity"], p["code"]) for p in found] == [(1, "warning", "misnamed-image")]
    assert "a JPEG image named .png" in found[0]["message"] and "rename it .jpg" in found[0]["message"]
