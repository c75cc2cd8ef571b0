"""Where a preflight job comes from (a CreateTrainingJob request JSON, the container layout, --channel
options) and the command line: exit codes, --json, usage errors."""
from __future__ import annotations

import json
import os

import pytest

from icformat.cli import main
from icformat.preflight import JobError, findings as F
from icformat.preflight import job_from_channels, job_from_request, job_from_sagemaker_root, preflight

from . import preflight_data as data

HERE = os.path.dirname(os.path.abspath(__file__))


def request_body(channels: dict, **changes) -> dict:
    body = {
        "TrainingJobName": "ic-test",
        "AlgorithmSpecification": {"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
                                   "TrainingInputMode": "File"},
        "HyperParameters": dict(data.HP),
        "InputDataConfig": [{"ChannelName": name, "ContentType": "application/x-recordio", "CompressionType": "None",
                             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                                             "S3DataDistributionType": "FullyReplicated"}}}
                            for name, uri in channels.items()],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    body.update(changes)
    return body


def write_json(path, body) -> str:
    with open(path, "w") as f:
        json.dump(body, f)
    return str(path)


def test_request_json_passes(tmp_path):
    rec = data.rec_dataset(str(tmp_path / "rec"))
    job = job_from_request(write_json(tmp_path / "request.json", request_body(rec)))
    assert sorted(job.channels) == ["train", "validation"] and job.instance_type == "ml.p3.2xlarge"
    report = preflight(job)
    assert report.findings == [] and report.exit_code == 0


def test_request_on_a_cpu_instance_will_fail(tmp_path):
    rec = data.rec_dataset(str(tmp_path / "rec"))
    body = request_body(rec, ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1})
    report = preflight(job_from_request(write_json(tmp_path / "r.json", body)))
    assert [f.check for f in report.of(F.ERROR)] == ["instance"]


def test_request_with_augmented_manifest_settings(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    body = request_body(channels)
    body["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    for config in body["InputDataConfig"]:
        config["RecordWrapperType"] = "RecordIO"
        config["ContentType"] = "application/x-recordio; label-format=class-id"
        config["DataSource"]["S3DataSource"].update(S3DataType="AugmentedManifestFile", AttributeNames=["source-ref", "class"])
    path = write_json(tmp_path / "r.json", body)
    assert preflight(job_from_request(path)).exit_code == 0  # class-id labels of one id are single ids
    body["InputDataConfig"][0]["DataSource"]["S3DataSource"]["AttributeNames"] = []
    report = preflight(job_from_request(write_json(path, body)))
    assert any(f.check == "attribute-names" and f.prevents == F.EMPTY_BATCH for f in report.of(F.ERROR))


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(JobError, match="not valid JSON.*CreateTrainingJob request"):
        job_from_request(_text(tmp_path / "a.json", "{nope"))
    with pytest.raises(JobError, match="no InputDataConfig"):
        job_from_request(write_json(tmp_path / "b.json", {"HyperParameters": {}}))


def _text(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_container_layout(tmp_path):
    root = tmp_path / "ml"
    rec = data.rec_dataset(str(root / "input" / "data" / "train"))
    os.makedirs(root / "input" / "data" / "validation")
    os.replace(rec["validation"], root / "input" / "data" / "validation" / "validation.rec")
    os.makedirs(root / "input" / "config")
    write_json(root / "input" / "config" / "hyperparameters.json", data.HP)
    write_json(root / "input" / "config" / "inputdataconfig.json",
               {n: {"ContentType": "application/x-recordio", "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"} for n in ("train", "validation")})
    report = preflight(job_from_sagemaker_root(str(root)))
    assert report.findings == [] and [c.records for c in report.channels] == [12, 6]


def test_container_layout_pipe_fifo_is_not_read(tmp_path):
    root = tmp_path / "ml"
    os.makedirs(root / "input" / "data")
    os.makedirs(root / "input" / "config")
    write_json(root / "input" / "config" / "hyperparameters.json", data.HP)
    write_json(root / "input" / "config" / "inputdataconfig.json",
               {n: {"ContentType": "application/x-recordio", "TrainingInputMode": "Pipe"} for n in ("train", "validation")})
    for name in ("train", "validation"):
        os.mkfifo(root / "input" / "data" / f"{name}_0")
    report = preflight(job_from_sagemaker_root(str(root)))
    assert report.exit_code == 2 and {f.channel for f in report.of(F.UNCHECKED)} == {"train", "validation"}


def test_channel_option_syntax():
    job = job_from_channels({}, ["train=s3://b/t/;application/x-recordio; label-format=class-id", "train_lst=s3://b/l/"])
    assert job.channels["train"].content_type == "application/x-recordio; label-format=class-id"
    assert job.channels["train_lst"].content_type == "application/x-image"
    with pytest.raises(JobError, match="NAME=URI"):
        job_from_channels({}, ["train"])


# -- the command line ---------------------------------------------------------------------------------


def test_cli_exit_codes_text_and_json(tmp_path, capsys):
    rec = data.rec_dataset(str(tmp_path / "rec"))
    hp = data.write_hp(str(tmp_path / "hp.json"))
    args = ["preflight", "--hyperparameters", hp, "--channel", f"train={rec['train']}", "--channel", f"validation={rec['validation']}"]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("preflight: will run (0 errors, 0 warnings); train: 12 images")
    assert main(args + ["--hp", "mini_batch_size=64"]) == 1
    out = capsys.readouterr().out
    assert "change: set mini_batch_size <= 12" in out and f"prevents: {F.BATCH_TOO_BIG}" in out
    assert out.splitlines()[-1].startswith("preflight: will fail (1 error, 0 warnings)")
    assert main(args + ["--hp", "mini_batch_size=64", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "will fail" and report["findings"][0]["check"] == "mini-batch-size"
    assert report["findings"][0]["path"] == rec["train"]


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["preflight"]) == 2
    assert "give the job one way" in capsys.readouterr().err
    assert main(["preflight", "--channel", "train"]) == 2
    assert "NAME=URI" in capsys.readouterr().err
    assert main(["preflight", "--hyperparameters", str(tmp_path / "missing.json"), "--channel", "train=x.rec"]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "Traceback" not in err
    assert main(["preflight", "--training-job-request", _text(tmp_path / "r.json", "[1]")]) == 2


def test_example_request_in_examples_folder_reads():
    job = job_from_request(os.path.join(HERE, "..", "examples", "training-job-request.json"))
    assert set(job.channels) == {"train", "validation"} and job.channels["train"].uri.startswith("s3://")
    assert job.hyperparameters["num_classes"] == "4"


def test_every_hyperparameter_problem_with_its_source(tmp_path, capsys):
    rec = data.rec_dataset(str(tmp_path / "rec"))
    hp = data.write_hp(str(tmp_path / "hp.json"), learning_rate="abc", num_training_samples=None)
    args = ["preflight", "--hyperparameters", hp, "--hp", "epochs=0", "--hp", "mini_batch_size=-1",
            "--channel", f"train={rec['train']}", "--channel", f"validation={rec['validation']}", "--json"]
    assert main(args) == 1
    found = {(f["message"].split(":")[0], f["path"]) for f in json.loads(capsys.readouterr().out)["findings"]
             if f["check"] == "hyperparameters"}
    assert found == {("hyperparameter learning_rate", hp), ("hyperparameter epochs", "--hp"),
                     ("hyperparameter mini_batch_size", "--hp"), ("hyperparameter num_training_samples", None)}


def test_hyperparameters_file_takes_request_bodies(tmp_path):
    from icformat.preflight.job import gather_hyperparameters

    training = write_json(tmp_path / "training.json", request_body({"train": "s3://b/t/"}))
    values, sources = gather_hyperparameters(training, ["epochs=1"])
    assert values == {**data.HP, "epochs": "1"} and sources["num_classes"] == training and sources["epochs"] == "--hp"
    tuning = write_json(tmp_path / "tuning.json", {"TrainingJobDefinition": {"StaticHyperParameters": {"num_classes": "3"}}})
    assert gather_hyperparameters(tuning, []) == ({"num_classes": "3"}, {"num_classes": tuning})


def test_channel_path_relocates_a_request_channel(tmp_path):
    from icformat.preflight.job import read_job

    rec = data.rec_dataset(str(tmp_path / "rec"))
    path = write_json(tmp_path / "r.json", request_body({"train": "s3://b/train/", "validation": "s3://b/validation/"}))
    job = read_job(request=path, channel_paths=[f"train={rec['train']}", f"validation={rec['validation']}"])
    assert job.channels["train"].uri == rec["train"] and job.channels["train"].content_type == "application/x-recordio"
    assert preflight(job).exit_code == 0
    with pytest.raises(JobError, match="no channel 'model'"):
        read_job(request=path, channel_paths=["model=x.tar.gz"])
