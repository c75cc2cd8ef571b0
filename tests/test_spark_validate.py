"""``lst validate`` and ``manifest validate`` on a real local Spark session give the local reports."""
from __future__ import annotations

import pytest

from icformat.lst.validate import validate_lst as validate_lst_locally

pytestmark = pytest.mark.slow

GOOD = [f"{i}\t{i % 3}\tclass_{i % 3}/img_{i // 3:05d}.jpg" for i in range(12)]
BAD_LINES = [
    "3\t1\tclass_1/img_00000.jpg",          # duplicate index 3, duplicate path (warnings)
    "",                                       # a blank line: numbering must not shift
    "-4\t0\tclass_0/img_00001.jpg",          # negative index
    "x\t0\tclass_0/img_00002.jpg",           # index not an integer
    "20\t1.5\tclass_1/img_00001.jpg",        # label not an integer
    "21\t7\t../escape.jpg",                  # label gap (3..6), path escaping the root
    "22\t0\t1\tclass_0/img_00003.jpg",       # two label columns where the file has one
    "23\t2\tclass_2/missing.jpg",            # missing file
    "24\t-1\t/abs/path.jpg",                 # negative label, absolute path
    "only-two\tfields",
]


def _write(tmp_path, name, lines, crlf=False):
    path = tmp_path / name
    path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode() + b"\n")
    return str(path)


@pytest.mark.parametrize("parts", [1, 5])
def test_lst_report_equals_the_local_one(spark, photo_tree, tmp_path, parts):
    from icformat.spark import validate_lst

    path = _write(tmp_path, "mixed.lst", GOOD[:5] + BAD_LINES + GOOD[5:], crlf=parts == 5)
    for kwargs in ({"root": photo_tree, "check_images": True, "image_shape": "3,4000,4000"}, {"num_classes": 10}, {"multi_label": True}):
        local = validate_lst_locally(path, **kwargs)
        ours = validate_lst(spark, path, parts=parts, **kwargs)
        assert [str(p) for p in ours.problems] == [str(p) for p in local.problems], kwargs
        assert ours.to_dict() == local.to_dict()
    assert len(local.problems) >= 10


def test_lst_clean_multi_label_and_empty_files(spark, photo_tree, tmp_path):
    from icformat.spark import validate_lst

    clean = _write(tmp_path, "clean.lst", GOOD)
    multi = _write(tmp_path, "multi.lst", [f"{i}\t{i % 2}\t{1 - i % 2}\t0\tclass_0/img_{i:05d}.jpg" for i in range(4)] + ["9\t2\t0\t0\tclass_0/x.jpg"])
    empty = _write(tmp_path, "empty.lst", [])
    for path in (clean, multi, empty):
        for kwargs in ({"root": photo_tree}, {"num_classes": 3}):
            local = validate_lst_locally(path, **kwargs)
            ours = validate_lst(spark, path, parts=4, **kwargs)
            assert ours.to_dict() == local.to_dict(), (path, kwargs)
    assert validate_lst(spark, clean, photo_tree).ok
