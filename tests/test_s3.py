"""s3:// everywhere, against a real S3-compatible server on 127.0.0.1 (moto in server mode).

Every access here is an HTTP request to that server: boto3 honours ``AWS_ENDPOINT_URL_S3``.
"""
from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from icformat.convert import lst_to_manifest, manifest_to_lst, manifest_to_rec, rec_to_manifest
from icformat.errors import ManifestError
from icformat.lst import read_lst, write_lst
from icformat.manifest import ObjectStore, read_manifest, validate_manifest, write_manifest
from icformat.pipe import PipeReader, iter_stream, serve_channel, write_pipe_stream
from icformat.recordio import RecordReader, read_index, unpack
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

NAMES = "source-ref,class"


_clients: dict = {}


def read_records(src) -> list[bytes]:
    """Every record of a .rec (path, URI or file object), the reader closed afterwards."""
    with RecordReader(src) as reader:
        return list(reader)


def s3_client():
    """One boto3 client per server endpoint (creating one costs about 0.1 s)."""
    import boto3

    endpoint = os.environ["AWS_ENDPOINT_URL_S3"]
    if endpoint not in _clients:
        _clients[endpoint] = boto3.session.Session().client("s3")
    return _clients[endpoint]


def keys(bucket: str, prefix: str = "") -> list[str]:
    listed = s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def put(bucket: str, key: str, data: bytes) -> str:
    s3_client().put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def get(uri: str) -> bytes:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def s3_photos(s3_bucket, photo_tree):
    """The photo tree uploaded to s3://<bucket>/train/, a single-label .lst for it, and the bytes."""
    paths = sorted(os.path.join(c, f) for c in os.listdir(photo_tree) for f in os.listdir(os.path.join(photo_tree, c)))
    images = {}
    for p in paths:
        images[p] = Path(os.path.join(photo_tree, p)).read_bytes()
        put(s3_bucket, f"train/{p}", images[p])
    entries = [(i, (float(p.split("/")[0][-1]),), p) for i, p in enumerate(paths)]
    return s3_bucket, entries, images


def test_the_server_is_real_http(s3_server):
    import urllib.request

    assert s3_server.startswith("http://127.0.0.1:")
    assert os.environ["AWS_ENDPOINT_URL_S3"] == s3_server
    with pytest.raises(urllib.error.HTTPError):  # an unsigned request reaches the server and is answered
        urllib.request.urlopen(f"{s3_server}/no-such-bucket/x", timeout=10)


def test_manifest_read_write_and_validate_on_s3(s3_photos, tmp_path):
    bucket, entries, _ = s3_photos
    uri = f"s3://{bucket}/manifests/train.manifest"
    records = [{"source-ref": f"s3://{bucket}/train/{p}", "class": str(int(labels[0]))} for _, labels, p in entries]
    records.append({"source-ref": f"s3://{bucket}/train/missing.jpg", "class": "0"})
    assert write_manifest(uri, records) == len(records)
    assert [r.record for r in read_manifest(uri, NAMES)] == records
    assert validate_manifest(uri, NAMES, num_classes=3).problems == []
    problems = validate_manifest(uri, NAMES, num_classes=3, check_refs=True)
    assert [str(p) for p in problems] == [f"{uri}:{len(records)}: cannot read 's3://{bucket}/train/missing.jpg': no such object"]


def test_relative_references_resolve_against_the_manifest_uri(s3_photos):
    bucket, entries, images = s3_photos
    uri = f"s3://{bucket}/train/rel.manifest"
    write_manifest(uri, [{"source-ref": p, "class": "0"} for _, _, p in entries])
    assert validate_manifest(uri, NAMES, check_refs=True).problems == []
    data = io.BytesIO()
    write_pipe_stream(data, uri, NAMES)
    got = list(iter_stream(io.BytesIO(data.getvalue()), attribute_names=2, decode_labels=False))
    assert [image for image, _ in got] == [images[p] for _, _, p in entries]


def test_lst_manifest_rec_manifest_lst_on_s3(s3_photos, tmp_path):
    bucket, entries, images = s3_photos
    lst = f"s3://{bucket}/lists/train.lst"
    write_lst(lst, entries)
    manifest = f"s3://{bucket}/manifests/train.manifest"
    lst_to_manifest(lst, manifest, prefix=f"s3://{bucket}/train")
    rec = f"s3://{bucket}/rec/train.rec"
    stats = manifest_to_rec(manifest, rec, attribute_names=NAMES, workers=4)
    assert stats.records == len(entries)
    assert keys(bucket, "rec/") == ["rec/train.idx", "rec/train.rec"]
    records = [unpack(r) for r in read_records(rec)]
    assert [(h.id, h.label) for h, _ in records] == [(i, labels[0]) for i, labels, _ in entries]
    assert [bytes(img) for _, img in records] == [images[p] for _, _, p in entries]
    assert read_index(f"s3://{bucket}/rec/train.idx")[0] == [i for i, _, _ in entries]
    back_manifest = f"s3://{bucket}/copy/train.manifest"
    rec_to_manifest(rec, back_manifest, prefix=f"s3://{bucket}/copy/images", workers=4)
    assert keys(bucket, "copy/images/") == sorted(f"copy/images/{i}.jpg" for i, _, _ in entries)
    back_lst = f"s3://{bucket}/lists/back.lst"
    manifest_to_lst(back_manifest, back_lst, attribute_names=NAMES, prefix=f"s3://{bucket}/copy/images")
    assert [(e.index, e.labels) for e in read_lst(back_lst)] == [(i, labels) for i, labels, _ in entries]
    for i, _, p in entries:
        assert get(f"s3://{bucket}/copy/images/{i}.jpg") == images[p]


def test_failed_conversion_leaves_nothing_on_s3(s3_photos):
    bucket, entries, _ = s3_photos
    manifest = f"s3://{bucket}/manifests/bad.manifest"
    write_manifest(manifest, [{"source-ref": f"s3://{bucket}/train/{entries[0][2]}", "class": "0"}, {"source-ref": f"s3://{bucket}/train/gone.jpg", "class": "1"}])
    with pytest.raises(ManifestError, match=rf"{manifest}:2: cannot read 's3://{bucket}/train/gone.jpg': no such object"):
        manifest_to_rec(manifest, f"s3://{bucket}/out/bad.rec", attribute_names=NAMES)
    assert keys(bucket, "out/") == []
    with pytest.raises(ManifestError, match="outside the prefix"):
        manifest_to_lst(manifest, f"s3://{bucket}/out/bad.lst", attribute_names=NAMES, prefix=f"s3://{bucket}/other")
    assert keys(bucket, "out/") == []


def test_pipe_serve_from_s3_sources(s3_photos, tmp_path):
    bucket, entries, images = s3_photos
    manifest = f"s3://{bucket}/manifests/train.manifest"
    write_manifest(manifest, [{"source-ref": f"s3://{bucket}/train/{p}", "class": str(int(labels[0]))} for _, labels, p in entries])
    rec = f"s3://{bucket}/rec/train.rec"
    manifest_to_rec(manifest, rec, attribute_names=NAMES)
    pipes = str(tmp_path / "data")
    results = {}

    def serve(channel, sources, names):
        results[channel] = serve_channel(pipes, channel, sources, epochs=2, attribute_names=names, timeout=30)

    threads = [threading.Thread(target=serve, args=("train", [manifest], NAMES)), threading.Thread(target=serve, args=("validation", [rec], None))]
    for t in threads:
        t.start()
    train = PipeReader(pipes, "train", attribute_names=NAMES, timeout=30)
    validation = PipeReader(pipes, "validation", timeout=30)
    got_train = [list(train), list(train)]
    got_validation = [list(validation), list(validation)]
    for t in threads:
        t.join(30)
    expected = [(images[p], labels[0]) for _, labels, p in entries]
    assert got_train == [expected, expected]
    assert got_validation == [read_records(rec)] * 2
    assert all(r.complete for reports in results.values() for r in reports)


def test_pipe_write_to_s3_and_read_back(s3_photos):
    bucket, entries, images = s3_photos
    manifest = f"s3://{bucket}/m/train.manifest"
    write_manifest(manifest, [{"source-ref": f"s3://{bucket}/train/{p}", "class": [1, 0]} for _, _, p in entries])
    stream = f"s3://{bucket}/streams/train_0"
    stats = write_pipe_stream(stream, manifest, NAMES)
    assert stats.records == 2 * len(entries)
    rows = list(iter_stream(stream, attribute_names=2))
    assert [image for image, _ in rows] == [images[p] for _, _, p in entries]
    np.testing.assert_array_equal(rows[0][1], [1, 0])


def test_object_store(s3_bucket):
    store = ObjectStore()
    uri = f"s3://{s3_bucket}/a/b.bin"
    store.write(uri, b"payload")
    assert store.read(uri) == b"payload"
    assert store.check(uri) is None
    assert store.check(f"s3://{s3_bucket}/a/nope") == "no such object"
    with pytest.raises(Exception):
        store.read(f"s3://{s3_bucket}/a/nope")


def test_cli_with_s3_paths(s3_photos, capsys):
    from icformat.cli import main

    bucket, entries, _ = s3_photos
    lst = f"s3://{bucket}/lists/train.lst"
    write_lst(lst, entries)
    capsys.readouterr()
    assert main(["lst2manifest", lst, "--prefix", f"s3://{bucket}/train"]) == 0
    manifest = f"s3://{bucket}/lists/train.manifest"
    assert capsys.readouterr().out.strip() == f"{manifest}: {len(entries)} lines"
    assert main(["manifest", "validate", manifest, "--attribute-names", NAMES, "--num-classes", "3", "--check-refs"]) == 0
    assert main(["manifest2rec", manifest, "-o", f"s3://{bucket}/rec/cli.rec", "--attribute-names", NAMES]) == 0
    assert main(["rec2manifest", f"s3://{bucket}/rec/cli.rec", "--prefix", f"s3://{bucket}/cli-images"]) == 0
    assert main(["manifest2lst", f"s3://{bucket}/rec/cli.manifest", "--attribute-names", NAMES, "--prefix", f"s3://{bucket}/cli-images", "-o", f"s3://{bucket}/rec/cli.lst"]) == 0
    assert [(e.index, e.labels) for e in read_lst(f"s3://{bucket}/rec/cli.lst")] == [(i, labels) for i, labels, _ in entries]
    assert main(["manifest", "validate", f"s3://{bucket}/nope.manifest", "--attribute-names", NAMES]) == 1
    err = capsys.readouterr().err
    assert "icformat: error:" in err and "nope.manifest" in err
    assert json.loads(json.dumps(keys(bucket, "cli-images/")))[0].startswith("cli-images/")
