"""``icformat im2rec`` with the images (and the outputs) on s3://, through a local moto server."""
from __future__ import annotations

import os

import boto3

from icformat.cli import main
from icformat.lst import write_lst
from icformat.recordio import RecordReader
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)


def _upload(bucket: str, root: str, prefix: str) -> list[str]:
    client = boto3.session.Session().client("s3")
    rel = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)
    for path in rel:
        client.upload_file(os.path.join(root, path), bucket, f"{prefix}/{path}")
    return rel


def test_im2rec_from_an_s3_root_matches_the_local_run(s3_bucket, photo_tree, tmp_path, capsys):
    rel = _upload(s3_bucket, photo_tree, "photos")
    lst = tmp_path / "train.lst"
    write_lst(lst, [(10 + i, float(i % 3), p) for i, p in enumerate(rel)] + [(99, 0.0, "class_0/missing.jpg")])
    for mode in (["--pass-through"], ["--resize", "40"]):
        assert main(["im2rec", str(lst), photo_tree, "-o", str(tmp_path / "local"), *mode]) == 0
        out = f"s3://{s3_bucket}/out/train"
        assert main(["im2rec", str(lst), f"s3://{s3_bucket}/photos", "-o", out, *mode]) == 0
        err = capsys.readouterr().err
        assert "missing.jpg" in err and "skipped" in err  # a missing object is one warning, not a crash
        assert list(RecordReader(out + ".rec")) == list(RecordReader(tmp_path / "local.rec"))
        with RecordReader(out + ".rec") as reader:
            assert sum(1 for _ in reader) == len(rel)


def test_im2rec_s3_root_without_objects_fails_cleanly(s3_bucket, tmp_path, capsys):
    lst = tmp_path / "x.lst"
    write_lst(lst, [(0, 0.0, "a.jpg")])
    code = main(["im2rec", str(lst), f"s3://{s3_bucket}/nothing", "-o", str(tmp_path / "x"), "--strict"])
    err = capsys.readouterr().err
    assert code == 1 and "a.jpg" in err and "Traceback" not in err
    assert not (tmp_path / "x.rec").exists()
