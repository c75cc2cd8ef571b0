"""icformat preflight with channels on S3, through a real local S3 server (moto)."""
from __future__ import annotations

import json
import os

import boto3
import pytest

from icformat.cli import main
from icformat.preflight import findings as F
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from . import preflight_data as data
from .test_preflight import errors, only_error, run


def upload_tree(folder: str, bucket: str, prefix: str) -> None:
    client = boto3.session.Session().client("s3")
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            key = prefix + os.path.relpath(path, folder).replace(os.sep, "/")
            client.upload_file(path, bucket, key)


@pytest.fixture
def s3_rec(s3_bucket, tmp_path) -> dict:
    local = data.rec_dataset(str(tmp_path / "rec"))
    for name, path in local.items():
        boto3.session.Session().client("s3").upload_file(path, s3_bucket, f"data/{name}/{name}.rec")
    return {name: f"s3://{s3_bucket}/data/{name}/" for name in local}


def test_recordio_channels_on_s3_pass(s3_rec):
    report = run({}, s3_rec)
    assert report.findings == [] and report.exit_code == 0
    assert [c.records for c in report.channels] == [12, 6]


def test_problems_on_s3_are_found_as_locally(s3_rec):
    only_error(run({"mini_batch_size": 13}, s3_rec), "mini-batch-size", F.BATCH_TOO_BIG)


def test_missing_bucket_could_not_check(s3_rec, capsys):
    channels = dict(s3_rec, validation="s3://no-such-bucket-here/validation/")
    report = run({}, channels)
    unchecked = report.of(F.UNCHECKED)
    assert [f.channel for f in unchecked] == ["validation"]
    assert "no such bucket" in unchecked[0].message.lower().replace("nosuchbucket", "no such bucket")
    assert report.exit_code == 2 and not errors(report)
    code = main(["preflight", "--hp", "num_classes=3", "--hp", "num_training_samples=12", "--hp", "mini_batch_size=4",
                 "--hp", "image_shape=3,32,32", "--hp", "num_layers=18",
                 "--channel", f"train={s3_rec['train']}", "--channel", "validation=s3://no-such-bucket-here/v/"])
    out = capsys.readouterr().out
    assert code == 2 and out.splitlines()[-1].startswith("preflight: could not check everything")


def test_no_credentials_could_not_check(s3_rec, tmp_path):
    """A fresh process (a client made earlier in this one may keep its credentials) without any."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    hp = data.write_hp(str(tmp_path / "hp.json"))
    done = subprocess.run([sys.executable, "-m", "icformat", "preflight", "--hyperparameters", hp, "--channel",
                           f"train={s3_rec['train']}", "--channel", f"validation={s3_rec['validation']}"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("unchecked:") and "credentials" in line for line in lines) == 2
    assert "Traceback" not in done.stderr


def test_empty_prefix_will_fail(s3_rec):
    channels = dict(s3_rec, train=s3_rec["train"].replace("/train/", "/nothing-here/"))
    found = only_error(run({}, channels), "empty-channel")
    assert found.channel == "train"


def test_prefix_without_slash_also_matches_lst_folder(s3_bucket, tmp_path):
    local = data.lst_dataset(str(tmp_path))
    for name, folder in local.items():
        upload_tree(folder, s3_bucket, f"ic/{name}/")
    channels = {name: f"s3://{s3_bucket}/ic/{name}" for name in local}  # no trailing slash
    report = run({"resize": 48}, channels, train="application/x-image", validation="application/x-image")
    assert report.exit_code == 0
    prefix = [f for f in report.of(F.WARNING) if f.check == "s3-prefix"]
    assert {f.channel for f in prefix} == {"train", "validation"} and "train_lst/" in prefix[0].message


def test_lst_image_missing_from_s3(s3_bucket, tmp_path):
    local = data.lst_dataset(str(tmp_path))
    os.remove(os.path.join(local["validation"], "class_0", "img_0003.jpg"))
    for name, folder in local.items():
        upload_tree(folder, s3_bucket, f"ic/{name}/")
    channels = {name: f"s3://{s3_bucket}/ic/{name}/" for name in local}
    found = only_error(run({"resize": 48}, channels, train="application/x-image", validation="application/x-image"),
                       "lst-image")
    assert found.line == 4 and "class_0/img_0003.jpg" in found.message


def test_manifest_with_s3_references(s3_bucket, tmp_path):
    channels = s3_manifests(s3_bucket, tmp_path)
    client = boto3.session.Session().client("s3")
    report = run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"], check_images=True)
    assert report.findings == [] and report.exit_code == 0
    client.delete_object(Bucket=s3_bucket, Key="images/train/class_1/img_0001.jpg")
    found = only_error(run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"], check_images=True),
                       "image-decode")
    assert found.line == 2


def s3_manifests(bucket: str, tmp_path) -> dict:
    """The manifest dataset with its images uploaded and its references rewritten to s3://."""
    local = data.manifest_dataset(str(tmp_path))
    client = boto3.session.Session().client("s3")
    channels = {}
    for name, path in local.items():
        with open(path) as f:
            records = [json.loads(line) for line in f]
        for record in records:
            key = "images/" + os.path.relpath(record["source-ref"], str(tmp_path))
            client.upload_file(record["source-ref"], bucket, key)
            record["source-ref"] = f"s3://{bucket}/{key}"
        client.put_object(Bucket=bucket, Key=f"{name}.manifest", Body="".join(json.dumps(r) + "\n" for r in records))
        channels[name] = f"s3://{bucket}/{name}.manifest"
    return channels


def test_image_sizes_of_s3_images_from_their_headers(s3_bucket, tmp_path):
    """Without --check-images, S3 images are not decoded: their first bytes (a ranged GET) give the size."""
    channels = s3_manifests(s3_bucket, tmp_path)
    small = data.jpegs(1, seed=9, size=(20, 40))[0]
    boto3.session.Session().client("s3").put_object(Bucket=s3_bucket, Key="images/train/class_1/img_0004.jpg", Body=small)
    found = only_error(run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"]), "image-size")
    assert found.line == 5 and "40x20" in found.message
