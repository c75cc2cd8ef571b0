"""The one S3 layer through a real local S3 server (moto): random access shared by threads, the
loader on s3:// .rec files, and S3 failures as one-line errors (library and CLI)."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
import numpy as np
import pytest

from icformat.cli import main
from icformat.errors import (
    InputNotFound,
    RecordIOError,
    RemoteCredentialsError,
    RemoteEndpointError,
    RemoteNameError,
)
from icformat.io import s3
from icformat.loader import ImageLoader
from icformat.recordio import IndexedRecordFile, IRHeader, RecordWriter, pack
from icformat.benchmarks.s3server import aws_environment
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from .test_loader import make_jpegs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _payload(i: int) -> bytes:
    """A distinct record per id, of varied length (some large enough to need a second request)."""
    return pack(IRHeader(0, float(i % 7), i, 0), bytes([i % 251]) * (40 + (i * 37) % 3000))


def _upload_rec(bucket: str, name: str, count: int, index: bool = True) -> str:
    uri = f"s3://{bucket}/{name}"
    with RecordWriter(uri, index=index) as writer:
        for i in range(count):
            writer.write(_payload(i), key=i)
    return uri


def test_indexed_rec_shared_by_8_threads_reads_the_right_records(s3_bucket):
    uri = _upload_rec(s3_bucket, "shared.rec", 1600)
    order = np.random.default_rng(0).integers(0, 1600, size=(8, 400))
    with IndexedRecordFile(uri) as rec:
        def read_many(keys):
            return [(int(k), rec[int(k)]) for k in keys]

        with ThreadPoolExecutor(8) as pool:
            results = [r for chunk in pool.map(read_many, order) for r in chunk]
    assert len(results) == 3200
    wrong = [k for k, got in results if got != _payload(k)]
    assert wrong == []


def test_local_indexed_rec_shared_by_threads(tmp_path):
    path = str(tmp_path / "local.rec")
    with RecordWriter(path, index=True) as writer:
        for i in range(500):
            writer.write(_payload(i), key=i)
    order = np.random.default_rng(1).integers(0, 500, size=(8, 400))
    with IndexedRecordFile(path) as rec, ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda keys: all(rec[int(k)] == _payload(int(k)) for k in keys), order))
    assert got == [True] * 8


def test_remote_random_access_error_names_uri_and_absolute_offset(s3_bucket):
    uri = _upload_rec(s3_bucket, "plain.rec", 20, index=False)
    client = boto3.session.Session().client("s3")
    data = bytearray(client.get_object(Bucket=s3_bucket, Key="plain.rec")["Body"].read())
    with IndexedRecordFile(uri) as rec:
        offset = rec.offsets[13]
    data[offset : offset + 4] = b"\0\0\0\0"  # bad magic at record 13
    client.put_object(Bucket=s3_bucket, Key="plain.rec", Body=bytes(data))
    client.put_object(Bucket=s3_bucket, Key="plain.idx", Body="".join(f"{i}\t{o}\n" for i, o in enumerate(rec.offsets)).encode())
    with IndexedRecordFile(uri) as rec:
        assert rec[12] == _payload(12)
        with pytest.raises(RecordIOError) as caught:
            rec[13]
    assert caught.value.path == uri and caught.value.offset == offset
    assert str(caught.value).startswith(f"{uri}@{offset}: bad magic")


def _jpeg_rec(bucket: str, name: str, index: bool) -> tuple[str, list[float]]:
    images = make_jpegs(12)
    labels = [float(i % 3) for i in range(12)]
    uri = f"s3://{bucket}/{name}"
    with RecordWriter(uri, index=index) as writer:
        for i, (image, label) in enumerate(zip(images, labels)):
            writer.write(pack(IRHeader(0, label, i, 0), image), key=i)
    return uri, labels


@pytest.mark.parametrize("index", [True, False], ids=["with-idx", "without-idx"])
@pytest.mark.parametrize("workers", [0, 2])
def test_loader_reads_s3_rec(s3_bucket, tmp_path, index, workers):
    uri, labels = _jpeg_rec(s3_bucket, f"train-{index}-{workers}.rec", index)
    local = str(tmp_path / "train.rec")
    with RecordWriter(local, index=True) as writer:  # the same records, locally: the expected batches
        with IndexedRecordFile(uri) as rec:
            for i in range(len(rec)):
                writer.write(rec.at(i), key=i)
    options = dict(batch_size=4, data_shape=(3, 32, 32), resize=40, shuffle=True, seed=3)
    with ImageLoader(uri, num_workers=workers, **options) as remote, ImageLoader(local, num_workers=0, **options) as here:
        assert remote.source.spec.index_path is None  # workers get offsets, never an index to read or build
        got, want = list(remote), list(here)
    assert len(got) == len(want) == 3
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.keys, b.keys)
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.label, b.label)


def test_loader_cli_runs_on_s3_rec(s3_bucket, capsys):
    uri, _ = _jpeg_rec(s3_bucket, "cli.rec", index=False)
    code = main(["loader", "run", uri, "--batch-size", "4", "--data-shape", "3,32,32", "--num-workers", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err


def test_s3_failures_are_typed(s3_bucket, monkeypatch):
    with pytest.raises(InputNotFound, match="no such object"):
        s3.get(f"s3://{s3_bucket}/missing.rec")
    with pytest.raises(RemoteNameError, match="not a valid S3 bucket name"):
        s3.get("s3://Not_A_Bucket!/x.rec")
    for uri, error in (("s3://Not_A_Bucket!/x.rec", RemoteNameError), ("s3://no-such-bucket-here/x.rec", InputNotFound)):
        with pytest.raises(error, match=f"^{uri}: "):
            with RecordWriter(uri, index=True) as writer:
                writer.write(b"record")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3.reset_client()
    try:
        with pytest.raises(RemoteCredentialsError, match="no AWS credentials found; set AWS_ACCESS_KEY_ID"):
            IndexedRecordFile(f"s3://{s3_bucket}/x.rec")
    finally:
        s3.reset_client()


def test_unreachable_endpoint_is_one_line(s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3.reset_client()
    try:
        with pytest.raises(RemoteEndpointError, match="cannot reach the S3 endpoint"):
            s3.size(f"s3://{s3_bucket}/x.rec")
    finally:
        s3.reset_client()


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "icformat", *args], capture_output=True, text=True,
                          env={**env, "PYTHONPATH": ROOT}, timeout=120)


@pytest.mark.parametrize("case", ["no-credentials", "bad-bucket"])
def test_cli_s3_failure_is_one_line_exit_1(s3_server, s3_bucket, tmp_path, case):
    uri = _upload_rec(s3_bucket, "cli.rec", 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws_environment(s3_server))
    if case == "no-credentials":
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        expect = "no AWS credentials found"
    else:
        uri = "s3://Bad_Bucket!/cli.rec"
        expect = "not a valid S3 bucket name"
    lst = tmp_path / "a.lst"
    lst.write_text("0\t1\timg0.jpg\n1\t0\timg1.jpg\n")
    prefix = uri.rsplit("/", 1)[0] + "/images/"
    commands = (["rec", "info", uri], ["rec", "ls", uri], ["im2rec", str(lst), prefix],
                ["loader", "run", uri, "--batch-size", "2", "--data-shape", "3,8,8"])
    for command in commands:
        done = _cli(command, env)
        assert done.returncode == 1, done.stderr
        assert expect in done.stderr and "Traceback" not in done.stderr
        assert done.stderr.strip().count("\n") == 0, done.stderr


def test_rec_info_counts_every_byte_of_an_s3_object(s3_bucket, capsys):
    uri = f"s3://{s3_bucket}/odd.rec"
    with RecordWriter(uri) as writer:
        for i in range(5):
            writer.write(pack(IRHeader(0, 1.0, i, 0), b"\xff\xd8" + b"x" * (i + 1)))  # lengths not multiples of 4
    assert main(["rec", "info", uri, "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["file_bytes"] == s3.size(uri)


def test_check_refs_without_credentials_is_reported_once(s3_server, s3_bucket, tmp_path):
    manifest = tmp_path / "m.manifest"
    manifest.write_text("".join(f'{{"source-ref": "s3://{s3_bucket}/img{i}.jpg", "class": "0"}}\n' for i in range(40)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws_environment(s3_server), AWS_EC2_METADATA_DISABLED="true")
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    done = _cli(["manifest", "validate", str(manifest), "--attribute-names", "source-ref,class", "--check-refs"], env)
    assert done.returncode == 1
    assert done.stderr.count("no AWS credentials found") == 1 and "Traceback" not in done.stderr
    assert done.stdout.count("no AWS credentials") == 0


@pytest.mark.parametrize("remote", [False, True], ids=["local", "s3"])
def test_a_missing_input_is_input_not_found_everywhere(s3_bucket, tmp_path, remote):
    from icformat.io import read_bytes
    from icformat.lst import read_lst
    from icformat.manifest import read_manifest
    from icformat.recordio import RecordReader

    base = f"s3://{s3_bucket}/none" if remote else str(tmp_path / "none")
    readers = [lambda: list(RecordReader(base + ".rec")), lambda: IndexedRecordFile(base + ".rec"),
               lambda: read_lst(base + ".lst"), lambda: list(read_manifest(base + ".manifest", "source-ref,class")),
               lambda: read_bytes(base + ".jpg")]
    for read in readers:
        with pytest.raises(InputNotFound) as caught:
            read()
        assert str(caught.value).startswith(base) and caught.value.path.startswith(base)
