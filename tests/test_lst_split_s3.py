"""lst make --stratify, and s3:// image roots for lst make / lst validate --root, with the folder
upload helper, against the real local S3 server (issue 15, items 7 and 9)."""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter

import pytest
from click.testing import CliRunner

from icformat.cli import cli, main
from icformat.errors import InputNotFound, UsageError
from icformat.io import s3, upload_folder
from icformat.lst import list_images, make_lst, read_lst, validate_lst, write_lst
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)


def _labels_of(path: str) -> Counter:
    return Counter(int(e.labels[0]) for e in read_lst(path))


@pytest.fixture(scope="module")
def class_tree(tmp_path_factory) -> str:
    """12 class folders x 167 (empty) .jpg files: listing and splitting never read the images."""
    root = tmp_path_factory.mktemp("classes")
    for c in range(12):
        folder = root / f"class_{c:02d}"
        folder.mkdir()
        for i in range(167):
            (folder / f"{i:04d}.jpg").touch()
    return str(root)


def test_stratified_split_gives_every_class_its_share(class_tree, tmp_path):
    make_lst(str(tmp_path / "plain"), class_tree, recursive=True, train_ratio=0.8)
    plain = _labels_of(str(tmp_path / "plain_val.lst"))
    assert max(plain.values()) - min(plain.values()) > 2  # the unstratified split is uneven (16% to 25%)
    result = make_lst(str(tmp_path / "strat"), class_tree, recursive=True, train_ratio=0.8, stratify=True)
    val, train = _labels_of(str(tmp_path / "strat_val.lst")), _labels_of(str(tmp_path / "strat_train.lst"))
    assert sorted(val) == list(range(12))
    for label in range(12):
        assert abs(val[label] - 167 * 0.2) <= 1 and val[label] + train[label] == 167
    assert result.files == {str(tmp_path / "strat_val.lst"): sum(val.values()), str(tmp_path / "strat_train.lst"): sum(train.values())}
    rows = [e.path for e in read_lst(str(tmp_path / "strat_val.lst"))] + [e.path for e in read_lst(str(tmp_path / "strat_train.lst"))]
    assert len(set(rows)) == 12 * 167  # every image in exactly one list


def test_stratified_split_with_test_share_and_chunks(class_tree, tmp_path):
    make_lst(str(tmp_path / "s"), class_tree, recursive=True, train_ratio=0.6, test_ratio=0.25, chunks=2, stratify=True)
    for chunk in range(2):
        counts = {part: _labels_of(str(tmp_path / f"s_{chunk}_{part}.lst")) for part in ("train", "val", "test")}
        per_class = Counter()
        for part in counts.values():
            per_class.update(part)
        for label, total in per_class.items():
            assert abs(counts["test"][label] - total * 0.25) <= 1 and abs(counts["train"][label] - total * 0.6) <= 1


def test_unstratified_default_is_unchanged(tmp_path, class_tree):
    """The default split stays im2rec's (its oracle test is test_lst_make); stratify is opt-in."""
    make_lst(str(tmp_path / "a"), class_tree, recursive=True, train_ratio=0.8)
    make_lst(str(tmp_path / "b"), class_tree, recursive=True, train_ratio=0.8, stratify=False)
    for part in ("train", "val"):
        assert (tmp_path / f"a_{part}.lst").read_bytes() == (tmp_path / f"b_{part}.lst").read_bytes()
    with pytest.raises(UsageError, match="train ratio below 1"):
        make_lst(str(tmp_path / "c"), class_tree, recursive=True, stratify=True)


def test_cli_stratify(class_tree, tmp_path):
    res = CliRunner().invoke(cli, ["lst", "make", str(tmp_path / "x"), class_tree, "--recursive", "--train-ratio", "0.8",
                                   "--stratify", "--json"])
    assert res.exit_code == 0, res.output
    val = _labels_of(str(tmp_path / "x_val.lst"))
    assert all(abs(n - 33.4) <= 1 for n in val.values())
    res = CliRunner().invoke(cli, ["lst", "make", str(tmp_path / "y"), class_tree, "--stratify"])
    assert res.exit_code == 2 and "--train-ratio below 1" in res.output


# ---- s3:// roots ----------------------------------------------------------------------------


@pytest.fixture
def s3_tree(s3_bucket, photo_tree, tmp_path, monkeypatch):
    """The photo tree plus an image in the root and a non-image, uploaded to s3://<bucket>/imgs/."""
    local = tmp_path / "local"
    shutil.copytree(photo_tree, local)
    shutil.copy(local / "class_1" / "img_00000.jpg", local / "top.jpg")
    (local / "class_0" / "notes.txt").write_text("not an image")
    monkeypatch.setattr(s3, "LIST_PAGE_SIZE", 4)  # several pages even for a small tree
    uris = upload_folder(str(local), f"s3://{s3_bucket}/imgs/")
    return str(local), f"s3://{s3_bucket}/imgs", uris


def test_upload_folder_keeps_relative_paths(s3_tree, s3_bucket):
    local, prefix, uris = s3_tree
    assert len(uris) == 14 and f"{prefix}/class_0/notes.txt" in uris
    for uri in uris:
        rel = uri[len(prefix) + 1:]
        with open(os.path.join(local, rel), "rb") as f:
            assert s3.get(uri) == f.read()
    only_jpg = upload_folder(local, f"s3://{s3_bucket}/jpg-only", exts=["JPG"])
    assert len(only_jpg) == 13 and not any(u.endswith(".txt") for u in only_jpg)
    with pytest.raises(InputNotFound):
        upload_folder(os.path.join(local, "nope"), prefix)


@pytest.mark.parametrize("recursive", [True, False])
def test_list_images_on_s3_is_the_local_listing(s3_tree, recursive):
    local, prefix, _ = s3_tree
    pages = []
    assert list_images(prefix, recursive=recursive, progress=pages.append) == list_images(local, recursive=recursive)
    assert list_images(prefix + "/", recursive=recursive) == list_images(local, recursive=recursive)
    assert sum(pages) == 14 and len(pages) == 4  # 14 keys listed in pages of 4


def test_lst_make_from_s3_writes_the_local_files(s3_tree, tmp_path):
    local, prefix, _ = s3_tree
    make_lst(str(tmp_path / "local"), local, recursive=True, train_ratio=0.5)
    result = make_lst(str(tmp_path / "remote"), prefix, recursive=True, train_ratio=0.5)
    for part in ("train", "val"):
        assert (tmp_path / f"remote_{part}.lst").read_bytes() == (tmp_path / f"local_{part}.lst").read_bytes()
    assert result.classes == [".", "class_0", "class_1", "class_2"]
    res = CliRunner().invoke(cli, ["lst", "make", str(tmp_path / "cli"), prefix, "--recursive", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["images"] == 13


def test_empty_or_missing_prefix_is_input_not_found(s3_tree, s3_bucket, tmp_path, capsys):
    with pytest.raises(InputNotFound, match="nothing is stored under this prefix"):
        list_images(f"s3://{s3_bucket}/nothing-here", recursive=True)
    assert main(["lst", "make", str(tmp_path / "x"), f"s3://{s3_bucket}/nothing-here"]) == 1
    err = capsys.readouterr().err
    assert "nothing is stored" in err and err.strip().count("\n") == 0 and not (tmp_path / "x.lst").exists()


def test_lst_validate_root_on_s3_checks_every_reference(s3_tree, s3_bucket, tmp_path, capsys):
    local, prefix, _ = s3_tree
    s3.put(f"{prefix}/class_2/empty.jpg", b"")
    open(os.path.join(local, "class_2", "empty.jpg"), "wb").close()
    rows = [(0, 0.0, "class_0/img_00000.jpg"), (1, 1.0, "class_1/missing.jpg"), (2, 2.0, "class_2/empty.jpg"),
            (3, 2.0, "class_2/img_00003.jpg")]
    lst = str(tmp_path / "refs.lst")
    write_lst(lst, rows)
    remote = validate_lst(lst, prefix, num_workers=3)
    here = validate_lst(lst, local)
    assert [(p.line, p.code) for p in remote.problems] == [(p.line, p.code) for p in here.problems] == [(2, "file-not-found"), (3, "empty-image")]
    assert f"{prefix}/class_1/missing.jpg" in remote.problems[0].message and remote.files_checked == 4
    checked = validate_lst(lst, prefix, check_images=True, num_workers=2)
    assert [p.code for p in checked.problems] == ["file-not-found", "empty-image"] and checked.images_checked == 2
    assert main(["lst", "validate", lst, "--root", prefix, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["code"] == "file-not-found"
