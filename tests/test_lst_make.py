"""lst make: the walk, numbering, shuffle, splits and file names of `im2rec.py --list`, with MXNet's
own im2rec.py as the oracle where it is installed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from icformat.cli import cli
from icformat.lst import read_lst
from icformat.lst.make import list_images, make_lst, normalize_exts, read_classes_file, split_list


@pytest.fixture(scope="module")
def tree(tmp_path_factory, photo_tree) -> str:
    """Nested classes, mixed-case extensions, a non-image, an empty folder, an image in the root."""
    root = str(tmp_path_factory.mktemp("tree"))
    shutil.copytree(photo_tree, root, dirs_exist_ok=True)
    os.makedirs(os.path.join(root, "class_1", "nested"))
    shutil.copy(os.path.join(photo_tree, "class_0", "img_00000.jpg"), os.path.join(root, "class_1", "nested", "UPPER.JPG"))
    shutil.copy(os.path.join(photo_tree, "class_2", "img_00001.jpg"), os.path.join(root, "top.jpeg"))
    os.makedirs(os.path.join(root, "empty_dir"))
    with open(os.path.join(root, "class_0", "notes.txt"), "w") as f:
        f.write("not an image")
    return root


def _mx_list(mx, root: str, prefix: str, *flags: str) -> str:
    script = os.path.join(os.path.dirname(mx.__file__), "tools", "im2rec.py")
    done = subprocess.run([sys.executable, script, "--list", *flags, prefix, root], capture_output=True, text=True, check=True)
    return done.stdout


def _rows(path: str) -> list[tuple[int, float, str]]:
    return [(e.index, e.labels, e.path) for e in read_lst(path)]


def test_same_lines_and_classes_as_mxnet(mx, tree, tmp_path):
    printed = _mx_list(mx, tree, str(tmp_path / "mx"), "--recursive", "--train-ratio", "0.7", "--test-ratio", "0.1")
    result = make_lst(str(tmp_path / "ours"), tree, recursive=True, train_ratio=0.7, test_ratio=0.1, style="mxnet")
    for part in ("train", "val", "test"):
        ours, theirs = tmp_path / f"ours_{part}.lst", tmp_path / f"mx_{part}.lst"
        assert ours.read_bytes() == theirs.read_bytes(), part  # same order (same shuffle), same bytes
    mapping = [line.rsplit(" ", 1) for line in printed.splitlines() if line.strip()]
    assert [name for name, _ in mapping] == result.classes
    assert [int(label) for _, label in mapping] == list(range(len(result.classes)))
    assert read_classes_file(result.classes_path) == result.classes


def test_same_file_set_as_mxnet_non_recursive_and_chunks(mx, tree, tmp_path):
    _mx_list(mx, tree, str(tmp_path / "mx"), "--chunks", "2", "--no-shuffle")
    make_lst(str(tmp_path / "ours"), tree, chunks=2, shuffle=False)
    for i in range(2):
        assert _rows(str(tmp_path / f"ours_{i}.lst")) == _rows(str(tmp_path / f"mx_{i}.lst"))


def test_walk_order_labels_and_index(tree):
    images, classes = list_images(tree, recursive=True)
    assert classes == [".", "class_0", "class_1", "class_1/nested", "class_2"]
    assert [im.index for im in images] == list(range(len(images)))
    assert images[0].path == "top.jpeg" and images[0].label == 0
    nested = [im for im in images if im.path.startswith("class_1/nested/")]
    assert [im.path for im in nested] == ["class_1/nested/UPPER.JPG"] and nested[0].label == 3
    assert not any(im.path.endswith(".txt") for im in images)
    flat, flat_classes = list_images(tree)
    assert [im.path for im in flat] == ["top.jpeg"] and flat_classes == ["."]


def test_exts_are_case_insensitive_and_normalized(tree):
    assert normalize_exts(["JPG", ".Png", "jpeg,gif"]) == (".jpg", ".png", ".jpeg", ".gif")
    images, _ = list_images(tree, recursive=True, exts=["JPG"])
    assert images and all(im.path.lower().endswith(".jpg") for im in images)


def test_shuffle_is_im2rec_seed_and_seed_changes_it(tree, tmp_path):
    import random

    images, _ = list_images(tree, recursive=True)
    expected = list(images)
    random.seed(100)
    random.shuffle(expected)  # what im2rec.py does
    make_lst(str(tmp_path / "a"), tree, recursive=True)
    assert [r[0] for r in _rows(str(tmp_path / "a.lst"))] == [im.index for im in expected]
    make_lst(str(tmp_path / "b"), tree, recursive=True, seed=7)
    assert _rows(str(tmp_path / "b.lst")) != _rows(str(tmp_path / "a.lst"))
    assert sorted(_rows(str(tmp_path / "b.lst"))) == sorted(_rows(str(tmp_path / "a.lst")))


def test_split_list_follows_im2rec_arithmetic():
    items = list(range(10))
    assert split_list(items) == [("", items)]
    parts = dict(split_list(items, train_ratio=0.5, test_ratio=0.2))
    assert parts == {"_test": [0, 1], "_val": [7, 8, 9], "_train": [2, 3, 4, 5, 6]}
    parts = dict(split_list(items, train_ratio=0.8, test_ratio=0.2))
    assert "_val" not in parts and parts["_test"] == [0, 1] and parts["_train"] == list(range(2, 10))
    parts = dict(split_list(items, chunks=3, train_ratio=0.5))  # chunk size 4: the last chunk is short
    assert parts["_2_train"] == [8, 9] and parts["_2_val"] == []
    assert dict(split_list(items, train_ratio=1.0, test_ratio=0.3)) == {"": items}  # test ratio ignored
    with pytest.raises(ValueError):
        split_list(items, chunks=0)


def test_labels_style(tree, tmp_path):
    make_lst(str(tmp_path / "i"), tree, recursive=True)
    make_lst(str(tmp_path / "m"), tree, recursive=True, style="mxnet")
    first_int = (tmp_path / "i.lst").read_text().splitlines()[0].split("\t")[1]
    first_mx = (tmp_path / "m.lst").read_text().splitlines()[0].split("\t")[1]
    assert "." not in first_int and first_mx.endswith(".000000")
    assert _rows(str(tmp_path / "i.lst")) == _rows(str(tmp_path / "m.lst"))


def test_symlink_loop_is_not_followed_forever(tmp_path, photo_tree):
    root = tmp_path / "loop"
    shutil.copytree(photo_tree, root)
    os.symlink(root, root / "class_0" / "back")
    images, classes = list_images(str(root), recursive=True)
    assert classes == ["class_0", "class_1", "class_2"]
    assert len(images) == 12


def test_cli_make_prints_mapping_and_writes_files(tree, tmp_path):
    prefix = str(tmp_path / "data")
    res = CliRunner().invoke(cli, ["lst", "make", prefix, tree, "--recursive", "--train-ratio", "0.8", "--exts", "jpg", "--exts", "jpeg"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:2] == [". 0", "class_0 1"]
    assert os.path.exists(prefix + "_train.lst") and os.path.exists(prefix + "_val.lst") and os.path.exists(prefix + ".classes")
    res = CliRunner().invoke(cli, ["lst", "make", prefix, tree, "--recursive", "--no-shuffle", "--json"])
    data = json.loads(res.stdout)
    assert data["images"] == 14 and data["classes"][0] == "." and data["files"] == {prefix + ".lst": 14}
    assert [r[0] for r in _rows(prefix + ".lst")] == list(range(14))


def test_cli_convert_label_style(tree, tmp_path):
    make_lst(str(tmp_path / "a"), tree, recursive=True)
    res = CliRunner().invoke(cli, ["lst", "convert", str(tmp_path / "a.lst"), str(tmp_path / "b.lst"), "--label-style", "mxnet"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "b.lst").read_text().splitlines()[0].split("\t")[1].endswith(".000000")
    assert _rows(str(tmp_path / "a.lst")) == _rows(str(tmp_path / "b.lst"))


def test_missing_root_is_an_error(tmp_path):
    from icformat.errors import InputNotFound

    with pytest.raises(InputNotFound, match="not a folder"):
        make_lst(str(tmp_path / "x"), str(tmp_path / "nope"))
