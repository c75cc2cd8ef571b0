"""The jobs AWS itself ran must pass: requests written by the real SageMaker Python SDK v2 from code shaped
like AWS's image-classification notebooks (see tests/aws_notebooks.py), each preflighted with its channels
on a local S3 server (moto) and locally, and trained through ``icformat train --training-job-request``.
Every notebook job is "will run"; each documented failure still fails with its SageMaker error, and the
trainer refuses what preflight rejects."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import boto3
import pytest

from icformat.cli import main
from icformat.preflight import findings as F
from icformat.preflight.job import job_from_request
from icformat.preflight.run import preflight
from tests.s3server import s3_server  # noqa: F401  (pytest fixture)

from . import aws_notebooks as nb
from . import preflight_data as data

N_REC, N_REC_VAL = 16, 6  # RecordIO
N_TUNED = 64  # the tuning job's RecordIO: enough images for the notebook's mini_batch_size range [8, 64]
N_IMG, N_IMG_VAL = 12, 6  # images + .lst and augmented manifests
BUCKET = "icformat-aws-examples"


@dataclass
class Uris:
    """Where each notebook's data is, on S3 (``s3``) and here (``local``)."""

    root: str
    prefix: str

    def s3(self, relative: str) -> str:
        return f"{self.prefix}{relative}"

    def local_paths(self, request: dict) -> list[str]:
        """``--channel-path`` items that map every channel of ``request`` to its local copy (manifests
        to the copy whose references are local files)."""
        body = request.get("TrainingJobDefinition", request)
        items = []
        for config in body["InputDataConfig"]:
            relative = config["DataSource"]["S3DataSource"]["S3Uri"][len(self.prefix):]
            if relative.endswith(".manifest"):
                relative = relative.replace("gt/", "gt-local/")
            items.append(f"{config['ChannelName']}={os.path.join(self.root, relative)}")
        return items


@pytest.fixture(scope="module")
def notebook_data(s3_server, tmp_path_factory) -> Uris:
    """Tiny real datasets in every notebook's layout, here and on the local S3 server."""
    root = str(tmp_path_factory.mktemp("aws-examples"))
    uris = Uris(root, f"s3://{BUCKET}/nb/")
    _recordio(root)
    data.lst_dataset(os.path.join(root, "lst"))
    _multi_label(os.path.join(root, "ml"))
    data.model_tarball(os.path.join(root, "model", "model.tar.gz"), os.path.join(root, "model-files"))
    client = boto3.session.Session().client("s3")
    client.create_bucket(Bucket=BUCKET)
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            client.upload_file(path, BUCKET, "nb/" + os.path.relpath(path, root).replace(os.sep, "/"))
    _ground_truth(root, client)
    return uris


def _recordio(root: str) -> None:
    for folder, name, count, seed in (("rec", "train", N_REC, 1), ("rec", "validation", N_REC_VAL, 2),
                                      ("rec-tuned", "train", N_TUNED, 6), ("rec-tuned", "validation", N_REC_VAL, 2)):
        os.makedirs(os.path.join(root, folder, name))
        labels = [float(i % data.CLASSES) for i in range(count)]
        data.write_rec(os.path.join(root, folder, name, f"{name}.rec"), labels, data.jpegs(count, seed=seed))


def _multi_label(root: str) -> None:
    """As the multi-label notebook writes it: integer 0/1 columns, bare file names, and the training
    and validation channels pointing at the same images."""
    os.makedirs(os.path.join(root, "images"))
    rows = []
    for i, image in enumerate(data.jpegs(N_IMG, seed=3)):
        with open(os.path.join(root, "images", f"{i:03d}.jpg"), "wb") as f:
            f.write(image)
        rows.append(f"{i}\t{int(i % 2 == 0)}\t{int(i % 3 == 0)}\t{int(i % 2 == 1)}\t{i:03d}.jpg\n")
    for name in ("train_lst", "validation_lst"):
        os.makedirs(os.path.join(root, name))
        with open(os.path.join(root, name, f"{name[:-4]}.lst"), "w") as f:
            f.writelines(rows)


def _ground_truth(root: str, client) -> None:
    """Ground Truth output manifests: ``category`` a JSON number beside a ``category-metadata`` object;
    one copy referencing the images on S3, one referencing them here."""
    for name, count, seed in (("train", N_IMG, 4), ("validation", N_IMG_VAL, 5)):
        s3_lines, local_lines = [], []
        for i, image in enumerate(data.jpegs(count, seed=seed)):
            key = f"nb/gt/images/{name}/{i:03d}.jpg"
            local = os.path.join(root, "gt-local", "images", name, f"{i:03d}.jpg")
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "wb") as f:
                f.write(image)
            client.put_object(Bucket=BUCKET, Key=key, Body=image)
            meta = {"class-name": f"class {i % data.CLASSES}", "confidence": 0.9, "type": "groundtruth/image-classification",
                    "job-name": "labeling-job/ic-demo", "human-annotated": "yes"}
            s3_lines.append({"source-ref": f"s3://{BUCKET}/{key}", "category": i % data.CLASSES, "category-metadata": meta})
            local_lines.append({**s3_lines[-1], "source-ref": local})
        client.put_object(Bucket=BUCKET, Key=f"nb/gt/{name}.manifest",
                          Body="".join(json.dumps(line) + "\n" for line in s3_lines).encode())
        data.write_lines(os.path.join(root, "gt-local", f"{name}.manifest"), local_lines)


@pytest.fixture(scope="module")
def recorder() -> nb.Recorder:
    return nb.Recorder()


# -- the notebooks' jobs ----------------------------------------------------------------------------


def _rec_channels(u: Uris, folder: str = "rec") -> dict:
    return {"train": u.s3(f"{folder}/train/"), "validation": u.s3(f"{folder}/validation/")}


def full_training(r: nb.Recorder, u: Uris, **changes) -> dict:
    """Image-classification-fulltraining(-highlevel): RecordIO in File mode, trained from scratch."""
    ic = r.estimator(u.s3("output"))
    ic.set_hyperparameters(**{**nb.SMALL, "num_classes": 3, "num_training_samples": N_REC, "learning_rate": 0.1,
                              "top_k": 2, "precision_dtype": "float32", "use_pretrained_model": 0, **changes})
    return r.training_job(ic, nb.recordio_inputs(_rec_channels(u)))


def recordio_pipe(r: nb.Recorder, u: Uris, distribution: str = "FullyReplicated") -> dict:
    """The same job in Pipe mode (the documentation's RecordIO Pipe input)."""
    ic = r.estimator(u.s3("output"), input_mode="Pipe")
    ic.set_hyperparameters(**nb.SMALL, num_classes=3, num_training_samples=N_REC, learning_rate=0.1)
    return r.training_job(ic, nb.recordio_inputs(_rec_channels(u), distribution=distribution))


def transfer_learning(r: nb.Recorder, u: Uris) -> dict:
    """Image-classification-transfer-learning(-highlevel): RecordIO, use_pretrained_model=1."""
    ic = r.estimator(u.s3("output"))
    ic.set_hyperparameters(**nb.SMALL, use_pretrained_model=1, num_classes=3, num_training_samples=N_REC,
                           learning_rate=0.01, precision_dtype="float32")
    return r.training_job(ic, nb.recordio_inputs(_rec_channels(u)))


def lst_format(r: nb.Recorder, u: Uris) -> dict:
    """Image-classification-lst-format-highlevel: images + .lst with ContentType application/jpeg on
    all four channels, and num_training_samples below the image count (15240 for 15,420 there)."""
    ic = r.estimator(u.s3("output"))
    ic.set_hyperparameters(**nb.SMALL, use_pretrained_model=1, num_classes=3, num_training_samples=N_IMG - 1,
                           learning_rate=0.01, top_k=2, resize=32, precision_dtype="float32")
    channels = {n: u.s3(f"lst/{n}/") for n in ("train", "validation", "train_lst", "validation_lst")}
    return r.training_job(ic, nb.lst_inputs(channels, "application/jpeg"))


def multi_label(r: nb.Recorder, u: Uris) -> dict:
    """Image-classification-multilabel-lst: multi_label=1, weighted loss, float16, same images twice."""
    ic = r.estimator(u.s3("output"))
    ic.set_hyperparameters(**nb.SMALL, use_pretrained_model=1, num_classes=3, num_training_samples=N_IMG,
                           learning_rate=0.001, resize=32, use_weighted_loss=1, augmentation_type="crop_color_transform",
                           precision_dtype="float16", multi_label=1)
    channels = {"train": u.s3("ml/images/"), "validation": u.s3("ml/images/"), "train_lst": u.s3("ml/train_lst/"),
                "validation_lst": u.s3("ml/validation_lst/")}
    return r.training_job(ic, nb.lst_inputs(channels, "application/x-image"))


def incremental(r: nb.Recorder, u: Uris) -> dict:
    """Image-classification-incremental-training-highlevel: Estimator(model_uri=<earlier model.tar.gz>)."""
    ic = r.estimator(u.s3("output"), model_uri=u.s3("model/model.tar.gz"))
    ic.set_hyperparameters(**nb.SMALL, num_classes=3, num_training_samples=N_REC, learning_rate=0.01)
    return r.training_job(ic, nb.recordio_inputs(_rec_channels(u)))


def ground_truth(r: nb.Recorder, u: Uris, attribute_names=("source-ref", "category"), record_wrapping="RecordIO",
                 content_type="application/x-recordio", **estimator) -> dict:
    """The Ground Truth image-classification demo: its output manifests in Pipe mode."""
    ic = r.estimator(u.s3("output"), input_mode="Pipe", **estimator)
    ic.set_hyperparameters(**nb.SMALL, num_classes=3, num_training_samples=N_IMG, resize=32, use_pretrained_model=1,
                           lr_scheduler_step="10,20", learning_rate=0.001)
    channels = {"train": u.s3("gt/train.manifest"), "validation": u.s3("gt/validation.manifest")}
    return r.training_job(ic, nb.manifest_inputs(channels, list(attribute_names), content_type, record_wrapping))


def kubernetes(r: nb.Recorder, u: Uris) -> dict:
    """The operator-for-Kubernetes sample's shape: ContentType application/x-image on augmented
    manifests, 4 instances, top_k "1"."""
    ic = r.estimator(u.s3("output"), input_mode="Pipe", instance_count=4)
    ic.set_hyperparameters(**nb.SMALL, num_classes=3, num_training_samples=N_IMG, top_k=1, learning_rate=0.01)
    channels = {"train": u.s3("gt/train.manifest"), "validation": u.s3("gt/validation.manifest")}
    return r.training_job(ic, nb.manifest_inputs(channels, ["source-ref", "category"], "application/x-image"))


def tuning(r: nb.Recorder, u: Uris, **ranges) -> dict:
    """The notebooks' HyperparameterTuner over the RecordIO job (CreateHyperParameterTuningJob)."""
    ic = r.estimator(u.s3("output"))
    ic.set_hyperparameters(image_shape="3,32,32", num_layers=18, epochs=1, num_classes=3,
                           num_training_samples=N_TUNED, precision_dtype="float32")
    return r.tuning_job(nb.tuner(ic, **ranges), nb.recordio_inputs(_rec_channels(u, "rec-tuned")))


NOTEBOOK_JOBS = {
    "full-training": (full_training, False),
    "recordio-pipe": (recordio_pipe, False),
    "transfer-learning": (transfer_learning, True),
    "lst-format": (lst_format, True),
    "multi-label": (multi_label, True),
    "incremental": (incremental, False),
    "ground-truth": (ground_truth, True),
    "kubernetes": (kubernetes, False),
    "tuning": (tuning, False),
}


def _write(tmp_path, request: dict) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return str(path)


# -- every notebook job will run ------------------------------------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOK_JOBS)
def test_notebook_job_will_run_on_s3_and_locally(name, notebook_data, recorder, tmp_path, capsys):
    request = NOTEBOOK_JOBS[name][0](recorder, notebook_data)
    assert all(isinstance(v, str) for v in request.get("HyperParameters", request.get("TrainingJobDefinition", {}).get(
        "StaticHyperParameters", {})).values())  # the SDK writes every value as a string
    path = _write(tmp_path, request)
    report = preflight(job_from_request(path))
    assert report.exit_code == 0, [str(f) for f in report.findings]
    assert main(["preflight", "--training-job-request", path, *_paths(notebook_data.local_paths(request))]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("preflight: will run"), out


def _paths(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--channel-path", item)]


def test_what_each_notebook_job_is_told(notebook_data, recorder, tmp_path):
    """Warnings where the job runs but probably not as meant, notes for local training only."""
    lst = preflight(job_from_request(_write(tmp_path, lst_format(recorder, notebook_data))))
    checks = sorted({(f.severity, f.check) for f in lst.findings})
    assert checks == [(F.NOTE, "pretrained"), (F.WARNING, "content-type"), (F.WARNING, "num-training-samples")]
    assert all("application/x-image" in f.message for f in lst.findings if f.check == "content-type")
    assert [f.channel for f in lst.findings if f.check == "content-type"] == ["train", "validation", "train_lst",
                                                                              "validation_lst"]
    k8s = preflight(job_from_request(_write(tmp_path, kubernetes(recorder, notebook_data))))
    assert {f.check for f in k8s.of(F.WARNING)} == {"content-type", "hyperparameters"}
    assert any("top_k" in f.message and "not confirmed" in f.message for f in k8s.of(F.WARNING))
    assert not any("resize" in f.message or "_lst" in f.message for f in k8s.findings)  # manifest rules
    full = preflight(job_from_request(_write(tmp_path, full_training(recorder, notebook_data))))
    assert full.findings == []


def test_tuning_request_is_read_with_its_ranges(notebook_data, recorder, tmp_path):
    job = job_from_request(_write(tmp_path, tuning(recorder, notebook_data)))
    ranges = {t.name: t.values for t in job.tuning}
    assert ranges["mini_batch_size"] == ("8", "64") and ranges["learning_rate"] == ("1e-06", "0.5")
    assert ranges["optimizer"] == ("sgd", "adam", "rmsprop", "nag") and "mini_batch_size" not in job.hyperparameters
    assert set(job.channels) == {"train", "validation"} and job.instance_type == "ml.p2.xlarge"


# -- documented failures still fail with their SageMaker error --------------------------------------


FAILURES = {
    "sharded-pipe": (lambda r, u: recordio_pipe(r, u, distribution="ShardedByS3Key"), "distribution", F.BAD_MAGIC),
    "manifest-unwrapped": (lambda r, u: ground_truth(r, u, record_wrapping=None), "record-wrapper", F.BAD_MAGIC),
    "manifest-wrong-attribute": (lambda r, u: ground_truth(r, u, attribute_names=("source-ref", "class")),
                                 "manifest-attributes", F.EMPTY_BATCH),
    "batch-above-images": (lambda r, u: full_training(r, u, mini_batch_size=32), "mini-batch-size", F.BATCH_TOO_BIG),
    "cpu-instance": (lambda r, u: _on_cpu(r, u), "instance", None),
    "tuning-rate-range": (lambda r, u: tuning(r, u, learning_rate=(1e-6, 1.5)), "hyperparameters",
                          F.HYPERPARAMETER_REJECTED),
    "tuning-batch-range": (lambda r, u: tuning(r, u, mini_batch_size=(8, 128)), "mini-batch-size", F.BATCH_TOO_BIG),
}


def _on_cpu(r: nb.Recorder, u: Uris) -> dict:
    request = full_training(r, u)
    request["ResourceConfig"]["InstanceType"] = "ml.m5.xlarge"
    return request


@pytest.mark.parametrize("name", FAILURES)
def test_documented_failure_still_fails(name, notebook_data, recorder, tmp_path):
    build, check, prevents = FAILURES[name]
    report = preflight(job_from_request(_write(tmp_path, build(recorder, notebook_data))))
    assert report.exit_code == 1
    found = [f for f in report.of(F.ERROR) if f.check == check]
    assert found, [str(f) for f in report.findings]
    if prevents:
        assert found[0].prevents == prevents
    if name == "tuning-rate-range":
        assert "learning_rate=1.5" in found[0].message and "tuning range learning_rate" in found[0].path


# -- each request trains, and the trainer refuses what preflight rejects -----------------------------


@pytest.fixture(scope="module")
def seed_model(mx, notebook_data, tmp_path_factory) -> str:
    """A real ResNet-18 model.tar.gz of this data (the full-training job, trained here): the seed
    for incremental training and the --pretrained weights of the use_pretrained_model=1 jobs."""
    out = str(tmp_path_factory.mktemp("seed"))
    rec = os.path.join(notebook_data.root, "rec")
    hp = {**{k: str(v) for k, v in nb.SMALL.items()}, "num_classes": "3", "num_training_samples": str(N_REC)}
    args = ["train", "--train", os.path.join(rec, "train"), "--output-dir", out, "-j", "0"]
    assert main(args + [a for k, v in hp.items() for a in ("--hp", f"{k}={v}")]) == 0
    return os.path.join(out, "model.tar.gz")


@pytest.mark.slow
@pytest.mark.mxnet
@pytest.mark.parametrize("name", NOTEBOOK_JOBS)
def test_notebook_job_trains(name, notebook_data, recorder, seed_model, tmp_path, capsys):
    build, pretrained = NOTEBOOK_JOBS[name]
    request = build(recorder, notebook_data)
    path = _write(tmp_path, request)
    args = ["train", "--training-job-request", path, "--output-dir", str(tmp_path / "out"), "-j", "0", "--json"]
    if pretrained:
        args += ["--pretrained", seed_model]
    if name == "incremental":
        args += ["--channel-path", f"model={seed_model}"]
    assert main(args) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    if name == "lst-format":  # it ships fewer num_training_samples than images: SageMaker ran it, so does this
        assert f"{N_IMG} images but num_training_samples={N_IMG - 1}; the job runs" in captured.err
    assert summary["epochs"] == 1 and os.path.exists(tmp_path / "out" / "model.tar.gz")
    assert summary["validation_accuracy"] is not None


@pytest.mark.mxnet
def test_trainer_agrees_with_preflight(notebook_data, recorder, seed_model, tmp_path, capsys):
    """The same parser and rules: a job preflight fails, the trainer refuses before training; the
    num_training_samples warning preflight gives, the trainer logs and trains."""
    path = _write(tmp_path, full_training(recorder, notebook_data, mini_batch_size=32))
    assert main(["train", "--training-job-request", path, "--output-dir", str(tmp_path / "out")]) == 1
    assert "fewer than mini_batch_size=32" in capsys.readouterr().err and not os.path.exists(tmp_path / "out")
    path = _write(tmp_path, lst_format(recorder, notebook_data))
    assert main(["train", "--training-job-request", path, "--output-dir", str(tmp_path / "out"), "--hp", "epochs=1",
                 "-j", "0"]) == 1
    err = capsys.readouterr().err
    assert "use_pretrained_model=1 needs pretrained weights: give --pretrained PREFIX_OR_TGZ" in err
    bad = ["--hp", "learning_rate=abc", "--hp", "epochs=0", "--hp", "mini_batch_size=-1"]
    assert main(["preflight", "--training-job-request", path, *bad, "--json"]) == 1
    found = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["check"] == "hyperparameters"]
    assert sorted((f["message"].split(":")[0], f["path"]) for f in found) == [
        ("hyperparameter epochs", "--hp"), ("hyperparameter learning_rate", "--hp"),
        ("hyperparameter mini_batch_size", "--hp")]
    assert main(["train", "--training-job-request", path, *bad]) == 1
    assert "3 hyperparameter errors" in capsys.readouterr().err


def test_sagemaker_root_of_a_pipe_manifest_job(mx, notebook_data, tmp_path, capsys):
    """The layout SageMaker writes for a Pipe-mode augmented-manifest job: inputdataconfig.json has
    RecordWrapperType but no S3DataType, and the data are FIFOs train_0, validation_0. Preflight reads
    it as a manifest job (nothing fails; the FIFOs are not read), and the trainer trains it."""
    import subprocess
    import sys

    root = tmp_path / "opt-ml"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "data").mkdir()
    hp = {**{k: str(v) for k, v in nb.SMALL.items()}, "num_classes": "3", "num_training_samples": str(N_IMG)}
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hp))
    config = {c: {"ContentType": "application/x-recordio", "TrainingInputMode": "Pipe",
                  "S3DistributionType": "FullyReplicated", "RecordWrapperType": "RecordIO"} for c in ("train", "validation")}
    (root / "input" / "config" / "inputdataconfig.json").write_text(json.dumps(config))
    for channel in config:
        os.mkfifo(root / "input" / "data" / f"{channel}_0")
    assert main(["preflight", "--sagemaker-root", str(root), "--json"]) == 2  # FIFOs: not read, nothing fails
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 0 and {f["channel"] for f in report["findings"]} == {"train", "validation"}
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    servers = [subprocess.Popen([sys.executable, "-m", "icformat", "pipe", "serve", str(root / "input" / "data"),
                                 os.path.join(notebook_data.root, "gt-local", f"{channel}.manifest"), "--channel", channel,
                                 "--epochs", "1", "--attribute-names", "source-ref,category", "--timeout", "120"],
                                env=dict(os.environ, PYTHONPATH=repo), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for channel in config]
    try:
        assert main(["train", "--sagemaker-root", str(root), "-j", "0", "--json"]) == 0, capsys.readouterr().err
    finally:
        for server in servers:
            server.communicate(timeout=120)
    assert json.loads(capsys.readouterr().out)["epochs"] == 1 and (root / "model" / "model.tar.gz").exists()
