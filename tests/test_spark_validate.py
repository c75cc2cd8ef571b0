"""``lst validate`` and ``manifest validate`` on a real local Spark session give the local reports."""
from __future__ import annotations

import pytest

from icformat.lst.validate import validate_lst as validate_lst_locally
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

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


def test_lst_report_equals_the_local_one(spark, photo_tree, tmp_path):
    from icformat.spark import validate_lst

    path = _write(tmp_path, "mixed.lst", GOOD[:5] + BAD_LINES + GOOD[5:])
    crlf = _write(tmp_path, "crlf.lst", GOOD[:5] + BAD_LINES + GOOD[5:], crlf=True)
    for path, kwargs, parts in ((path, {"root": photo_tree, "check_images": True, "image_shape": "3,4000,4000"}, 1),
                                (crlf, {"root": photo_tree, "num_classes": 10}, 5), (path, {"multi_label": True}, 4)):
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
    for path, kwargs in ((clean, {"root": photo_tree}), (multi, {"num_classes": 3}), (empty, {})):
        local = validate_lst_locally(path, **kwargs)
        ours = validate_lst(spark, path, parts=4, **kwargs)
        assert ours.to_dict() == local.to_dict(), (path, kwargs)
    assert [p.code for p in ours.problems] == ["empty"] and validate_lst_locally(clean, photo_tree).ok


def _manifest_cases(tmp_path):
    from tests.test_manifest_validate import BAD_LINES as MANIFEST_LINES, write_manifest_text

    lines = [text for text, _ in MANIFEST_LINES]
    late_reference = ['{"source-ref":"a.jpg","class":"x"}', "not json", '{"source-ref":"b.jpg","class":[1, 0, 1]}'] + lines
    return [write_manifest_text(tmp_path / "bad.manifest", lines), write_manifest_text(tmp_path / "late.manifest", late_reference),
            write_manifest_text(tmp_path / "empty.manifest", [])]


def test_manifest_report_equals_the_local_one(spark, tmp_path):
    from icformat.manifest import validate_manifest as validate_locally
    from icformat.spark import validate_manifest

    bad, late, empty = _manifest_cases(tmp_path)
    for path, kwargs, parts in ((bad, {"num_classes": 3}, 1), (late, {"num_classes": 3}, 6),
                                (bad, {"label_format": "class-id", "check_refs": True}, 5), (empty, {}, 2)):
        local = validate_locally(path, "source-ref,class", **kwargs)
        assert validate_manifest(spark, path, "source-ref,class", parts=parts, **kwargs) == local, (path, kwargs)
        assert local
    late_problems = validate_locally(late, "source-ref,class", num_classes=3)
    assert any("where line 3 has a multi-hot list" in p.message for p in late_problems)  # the reference sits in a later range


def test_manifest_on_s3_with_reachable_refs(spark, s3_bucket, tmp_path):
    import boto3

    from icformat.manifest import validate_manifest as validate_locally
    from icformat.spark import validate_manifest

    client = boto3.session.Session().client("s3")
    client.put_object(Bucket=s3_bucket, Key="img/a.jpg", Body=b"\xff\xd8\xff")
    lines = [f'{{"source-ref":"s3://{s3_bucket}/img/{n}.jpg","class":{c}}}' for n, c in (("a", 0), ("b", 1), ("a", 1))]
    client.put_object(Bucket=s3_bucket, Key="m.manifest", Body=("\n".join(lines) + "\n").encode())
    uri = f"s3://{s3_bucket}/m.manifest"
    local = validate_locally(uri, "source-ref,class", check_refs=True)
    assert validate_manifest(spark, uri, "source-ref,class", check_refs=True, parts=2) == local
    assert [p.line for p in local] == [2, 3]


def test_the_wrong_kind_of_file_is_one_error_before_any_task(spark, tmp_path):
    """Issue 22, item 1: the driver looks at the first bytes, as the local validators do."""
    from icformat.errors import WrongFileKind
    from icformat.spark import validate_lst, validate_manifest

    rec = tmp_path / "val.rec"
    rec.write_bytes(b"\x0a\x23\xd7\xce\x04\x00\x00\x00abcd" * 10)
    with pytest.raises(WrongFileKind, match="val.rec is a RecordIO file, not a .lst"):
        validate_lst(spark, str(rec))
    with pytest.raises(WrongFileKind, match="val.rec is a RecordIO file, not a manifest"):
        validate_manifest(spark, str(rec), "source-ref,class")
