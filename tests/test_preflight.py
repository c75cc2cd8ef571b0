"""icformat preflight: one dataset per problem (each SageMaker failure of the reference's section 5.4
and each check of issue 10), plus correct datasets that pass. Real JPEGs from the sample photos."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from icformat.preflight import findings as F
from icformat.preflight import job_from_channels, preflight

from . import preflight_data as data


def run(hp: dict, channels: dict, **kwargs):
    """Preflight of a job with these hyperparameters (data.HP changed by ``hp``) and channels."""
    merged = {**data.HP, **{k: str(v) for k, v in hp.items() if v is not None}}
    for name in [k for k, v in hp.items() if v is None]:
        merged.pop(name)
    options = {k: kwargs.pop(k) for k in ("input_mode", "attribute_names", "record_wrapper", "distribution") if k in kwargs}
    specs = [f"{name}={uri}" + (f";{kwargs[name]}" if name in kwargs else "") for name, uri in channels.items()]
    return preflight(job_from_channels(merged, specs, **options), check_images=kwargs.get("check_images", False))


def errors(report) -> list:
    return report.of(F.ERROR)


def only_error(report, check: str, prevents: str | None = None):
    """The report has exactly one error, of ``check``, preventing ``prevents``."""
    found = errors(report)
    assert [f.check for f in found] == [check], [str(f) for f in found]
    if prevents is not None:
        assert found[0].prevents == prevents
    assert report.exit_code == 1
    return found[0]


@pytest.fixture
def rec(tmp_path):
    return data.rec_dataset(str(tmp_path / "rec"))


# -- correct datasets pass ---------------------------------------------------------------------


def test_correct_recordio_job_passes(rec):
    report = run({}, rec)
    assert report.findings == [] and report.exit_code == 0
    assert [(c.name, c.records, c.classes) for c in report.channels] == [("train", 12, 3), ("validation", 6, 3)]
    assert report.verdict.startswith("preflight: will run")


def test_correct_lst_job_passes(tmp_path):
    channels = data.lst_dataset(str(tmp_path))
    report = run({"resize": 48}, channels, train="application/x-image", validation="application/x-image")
    assert report.findings == [] and report.exit_code == 0
    assert [c.records for c in report.channels] == [12, 6]


def test_correct_manifest_job_passes(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    report = run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"], check_images=True)
    assert report.findings == [] and report.exit_code == 0
    assert [c.kind for c in report.channels] == ["manifest", "manifest"]


def test_check_images_decodes_every_record(rec, tmp_path):
    report = run({}, rec, check_images=True)
    assert report.exit_code == 0
    images = data.jpegs(12, seed=1)
    images[5] = data.undecodable(images[5])
    bad = data.rec_dataset(str(tmp_path / "bad"), train_images=images)
    assert run({}, bad).exit_code == 0  # headers only: not seen
    found = only_error(run({}, bad, check_images=True), "image-decode")
    assert found.offset is not None and "cannot decode" in found.message
    images[5] = data.jpegs(12, seed=1)[5][:700]  # cut short: decodes with a warning, not a job failure
    assert run({}, data.rec_dataset(str(tmp_path / "late"), train_images=images), check_images=True).exit_code == 0


# -- section 5.4: each SageMaker failure -----------------------------------------------------------


def test_invalid_lst_file(tmp_path):
    channels = data.lst_dataset(str(tmp_path))
    lst = os.path.join(channels["train_lst"], "train.lst")
    with open(lst, "a") as f:
        f.write("12\tnot-a-label\tclass_0/img_0000.jpg\n")
    found = only_error(run({"resize": 48}, channels, train="application/x-image", validation="application/x-image"),
                       "lst", "Customer Error: Invalid lst file in the train channel.")
    assert found.path == lst and found.line == 13 and found.channel == "train_lst"


def test_multi_label_width_differs_from_num_classes(tmp_path):
    labels = [[1, 0, 1] if i % 2 else [0, 1, 0] for i in range(12)]
    channels = data.rec_dataset(str(tmp_path), train_labels=labels, val_labels=labels[:6])
    report = run({"multi_label": 1, "num_classes": 4}, channels)
    found = [f for f in errors(report) if f.check == "multi-label-width"]
    assert {f.channel for f in found} == {"train", "validation"}
    assert found[0].prevents == ("ClientError: Mismatch between number of labels in the multi-label data (3) and the "
                                 "num_classes parameter (4).")
    assert run({"multi_label": 1, "num_classes": 3}, channels).exit_code == 0


def test_fewer_images_than_mini_batch_size(rec):
    found = only_error(run({"mini_batch_size": 16}, rec), "mini-batch-size",
                       "ClientError: The number of input images must be bigger or equal to the mini_batch_size.")
    assert found.channel == "train" and "mini_batch_size <= 12" in found.fix


def test_empty_rec_file(rec):
    open(rec["train"], "wb").close()
    found = only_error(run({}, rec), "empty-channel",
                       "ClientError: Unable to start training. Empty .rec file in train channel., exit code: 2")
    assert found.path == rec["train"]


def test_manifest_attribute_names_do_not_match(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    report = run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "label"])
    found = errors(report)
    assert found and all(f.prevents == F.EMPTY_BATCH for f in found)
    assert found[0].line == 1 and "'label' is missing" in found[0].message


def test_manifest_without_recordio_wrapper(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    report = run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"], record_wrapper="None")
    assert {f.check for f in errors(report)} == {"record-wrapper"}
    assert {f.prevents for f in errors(report)} == {F.BAD_MAGIC}


def test_corrupt_rec_framing(rec):
    with open(rec["train"], "r+b") as f:
        f.seek(0)
        f.write(b"JUNK")
    report = run({}, rec)
    found = [f for f in errors(report) if f.check == "rec-framing"]
    assert found and found[0].offset == 0 and found[0].prevents == F.BAD_MAGIC
    assert "bad magic" in found[0].message


def test_weighted_loss_without_multi_label(rec):
    found = only_error(run({"use_weighted_loss": 1}, rec), "hyperparameters", "Algorithm Error: pos_cls_weights (caused by KeyError)")
    assert "use_weighted_loss" in found.message


# -- issue 10: each check ---------------------------------------------------------------------------


@pytest.mark.parametrize("change, name", [({"num_classes": None}, "num_classes"), ({"optimizer": "adagrad"}, "optimizer"),
                                          ({"num_layers": 19}, "num_layers")])
def test_hyperparameters_through_the_trainer_validation(rec, change, name):
    found = only_error(run(change, rec), "hyperparameters", F.HYPERPARAMETER_REJECTED)
    assert name in found.message


def test_num_classes_above_the_labels_present_warns(rec):
    report = run({"num_classes": 5}, rec)  # the job runs: a rare class can be missing from a split
    assert report.exit_code == 0 and errors(report) == []
    found = [f for f in report.of(F.WARNING) if f.check == "num-classes"]
    assert len(found) == 1 and "none has class 3, 4" in found[0].message and "num_classes=3" in found[0].fix


def test_label_at_or_above_num_classes(tmp_path):
    labels = data.balanced(4)
    labels[7] = 3.0
    channels = data.rec_dataset(str(tmp_path), train_labels=labels)
    found = only_error(run({}, channels), "labels")
    assert found.channel == "train" and "3" in found.message
    assert found.offset is not None and found.offset > 0  # the record with label 3


def test_num_training_samples_differs_warns(rec):
    report = run({"num_training_samples": 100, "lr_scheduler_step": "2", "epochs": "3"}, rec)
    assert report.exit_code == 0 and errors(report) == []  # AWS's lst-format example ran with such a mismatch
    found = [f for f in report.of(F.WARNING) if f.check == "num-training-samples"]
    assert len(found) == 1 and found[0].fix == "set num_training_samples=12"
    assert "drops after 50 batches (25 per epoch from num_training_samples)" in found[0].message


def test_image_smaller_than_image_shape(tmp_path):
    images = data.jpegs(12, seed=1)
    images[4] = data.jpegs(1, seed=9, size=(20, 40))[0]  # 40 high, 20 wide
    channels = data.rec_dataset(str(tmp_path), train_images=images)
    found = only_error(run({}, channels), "image-size", F.TRAINING_FAILS_ON_IMAGE)
    assert "40x20" in found.message
    with open(channels["train"], "rb") as f:
        assert found.offset == f.read().index(images[4]) - 32  # the record's header: 8 framing + 24 image header
    assert run({"resize": 32}, channels).exit_code == 0  # resized first: large enough


def test_lst_image_missing(tmp_path):
    channels = data.lst_dataset(str(tmp_path))
    os.remove(os.path.join(channels["train"], "class_1", "img_0004.jpg"))
    found = only_error(run({"resize": 48}, channels, train="application/x-image", validation="application/x-image"), "lst")
    assert "file not found" in found.message and found.line == 5


def test_lst_content_type_with_images_requires_resize(tmp_path):
    channels = data.lst_dataset(str(tmp_path))
    found = only_error(run({}, channels, train="application/x-image", validation="application/x-image"), "hyperparameters")
    assert "resize is required" in found.message


def test_recordio_content_type_on_an_image_folder(tmp_path):
    channels = data.lst_dataset(str(tmp_path))
    report = run({"resize": 48}, {"train": channels["train"], "validation": channels["validation"]})
    found = [f for f in errors(report) if f.check == "content-type"]
    assert {f.channel for f in found} == {"train", "validation"}
    assert "pack the images into a .rec" in found[0].fix


def test_image_content_type_on_a_rec(tmp_path, rec):
    lst = data.lst_dataset(str(tmp_path / "lst"))
    channels = {"train": os.path.dirname(rec["train"]), "validation": lst["validation"],
                "train_lst": lst["train_lst"], "validation_lst": lst["validation_lst"]}
    report = run({"resize": 48}, channels, train="application/x-image", validation="application/x-image")
    assert any(f.check == "content-type" and f.channel == "train" and ".rec" in f.message for f in errors(report))


def test_manifest_label_attribute_first(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    report = run({}, channels, input_mode="Pipe", attribute_names=["class", "source-ref"])
    found = errors(report)
    assert found and {f.prevents for f in found} == {F.EMPTY_BATCH}
    assert any("must come first" in f.message for f in found)


def test_manifest_attribute_missing_on_one_line(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    with open(channels["train"]) as f:
        lines = f.read().splitlines()
    record = json.loads(lines[6])
    del record["class"]
    lines[6] = json.dumps(record)
    with open(channels["train"], "w") as f:
        f.write("\n".join(lines) + "\n")
    found = only_error(run({"num_training_samples": 11}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"]),
                       "manifest-attributes", F.EMPTY_BATCH)
    assert found.line == 7 and found.path == channels["train"]


def test_manifest_label_format_differs_from_content_type(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    with open(channels["train"]) as f:
        records = [json.loads(line) for line in f]
    records[2]["class"] = "[0, 2]"  # class-id list, but the content type says multi-hot (the default)
    data.write_lines(channels["train"], records)
    report = run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"])
    found = [f for f in errors(report) if f.line == 3]
    assert found and "multi-hot values must be 0 or 1" in found[0].message


def test_pipe_recordio_needs_fully_replicated(rec):
    report = run({}, rec, input_mode="Pipe", distribution="ShardedByS3Key")
    found = errors(report)
    assert {f.check for f in found} == {"distribution"} and {f.prevents for f in found} == {F.BAD_MAGIC}
    assert run({}, rec, input_mode="Pipe").exit_code == 0


def test_pipe_streams_every_object_under_the_prefix(rec):
    folder = os.path.dirname(rec["train"])
    os.makedirs(os.path.join(folder, "t"))
    shutil.move(rec["train"], os.path.join(folder, "t", "train.rec"))
    with open(os.path.join(folder, "t", "train.lst"), "w") as f:
        f.write("0\t0\tx.jpg\n")
    channels = {"train": os.path.join(folder, "t"), "validation": rec["validation"]}
    assert run({}, channels).exit_code == 0  # File mode: only the .rec is read
    only_error(run({}, channels, input_mode="Pipe"), "pipe-objects", F.BAD_MAGIC)


def test_empty_manifest_channel(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    open(channels["validation"], "w").close()
    report = run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"])
    assert {f.channel for f in errors(report)} == {"validation"}
    assert F.EMPTY_BATCH in {f.prevents for f in errors(report)}


@pytest.mark.parametrize("change, name", [({"num_classes": 4}, "num_classes"), ({"units": (3, 4, 6, 3)}, "num_layers"),
                                          ({"shape": (3, 64, 64)}, "image_shape")])
def test_incremental_model_must_match(rec, tmp_path, change, name):
    model = {"num_classes": 3, "units": (2, 2, 2, 2), "shape": (3, 32, 32)}
    good = data.model_tarball(str(tmp_path / "good.tar.gz"), str(tmp_path / "g"), **model)
    assert run({}, {**rec, "model": good}).exit_code == 0
    model.update(change)
    bad = data.model_tarball(str(tmp_path / "bad.tar.gz"), str(tmp_path / "b"), **model)
    found = only_error(run({}, {**rec, "model": bad}), "model", F.INCOMPATIBLE_MODEL)
    assert f"seed model has {name}=" in found.message


def test_model_depth_from_bottleneck_units():
    from icformat.preflight.model import read_architecture

    assert read_architecture(data.resnet_symbol(7, (3, 4, 6, 3), bottleneck=True), None).num_layers == 50
    assert read_architecture(data.resnet_symbol(7, (3, 4, 6, 3)), None).num_layers == 34
    assert read_architecture(data.resnet_symbol(7, (3, 3, 3)), None).num_layers == 20
    assert read_architecture(data.resnet_symbol(7, (3, 8, 36, 3), bottleneck=True), None).num_classes == 7


# -- warnings ---------------------------------------------------------------------------------------


def test_class_imbalance_warns(tmp_path):
    labels = [0.0] * 20 + [1.0, 2.0]
    channels = data.rec_dataset(str(tmp_path), train_labels=labels)
    report = run({"num_training_samples": 22}, channels)
    assert report.exit_code == 0
    assert [f.check for f in report.of(F.WARNING)] == ["class-imbalance"]


def test_duplicate_images_across_train_and_validation_warn(tmp_path):
    train = data.jpegs(12, seed=1)
    val = data.jpegs(6, seed=2)
    val[3] = train[8]
    channels = data.rec_dataset(str(tmp_path), train_images=train, val_images=val)
    report = run({}, channels)
    assert report.exit_code == 0
    warning, = report.of(F.WARNING)
    assert warning.check == "duplicate-images" and warning.message.startswith("1 validation image(s)")


def test_duplicate_files_across_lst_channels_warn(tmp_path):
    channels = data.lst_dataset(str(tmp_path))
    shutil.copy(os.path.join(channels["train"], "class_2", "img_0005.jpg"),
                os.path.join(channels["validation"], "class_2", "img_0002.jpg"))
    report = run({"resize": 48}, channels, train="application/x-image", validation="application/x-image")
    warning, = report.of(F.WARNING)
    assert warning.check == "duplicate-images" and "img_0005.jpg" in warning.message


def test_validation_class_absent_from_training_warns(tmp_path):
    channels = data.rec_dataset(str(tmp_path), val_labels=[0.0, 1.0, 2.0, 3.0, 0.0, 1.0])
    report = run({"num_classes": 4}, channels, )
    assert "validation-classes" in {f.check for f in report.of(F.WARNING)}


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152, 200, 20, 32, 44, 56, 110])
def test_model_architecture_of_the_trainer_network(mx, depth):
    """The trainer's own network (SageMaker's layout) as MXNet writes its symbol JSON: the oracle."""
    from icformat.preflight.model import read_architecture
    from icformat.train.network import build_symbol

    arch = read_architecture(build_symbol(7, depth).tojson(), (3, 32, 32))
    assert (arch.num_classes, arch.num_layers) == (7, depth)


def test_image_channels_in_one_folder_warn(tmp_path):
    channels = data.lst_dataset(str(tmp_path))
    shutil.copytree(channels["train"], str(tmp_path / "all"))  # one folder for both lists (same file names)
    same = dict(channels, train=str(tmp_path / "all"), validation=str(tmp_path / "all"))
    report = run({"resize": 48}, same, train="application/x-image", validation="application/x-image")
    assert report.exit_code == 0 and [f.check for f in report.of(F.WARNING)] == ["channels", "duplicate-images"]


def test_multi_label_values_must_be_zero_or_one(tmp_path):
    labels = [[1, 0, 1] if i % 2 else [0, 1, 0] for i in range(12)]
    labels[3] = [0, 2, 1]
    channels = data.rec_dataset(str(tmp_path), train_labels=labels, val_labels=labels[6:])
    found = only_error(run({"multi_label": 1}, channels), "labels")
    assert "0 or 1" in found.message
    labels[3] = [0, 1]  # one record with fewer labels
    channels = data.rec_dataset(str(tmp_path / "ragged"), train_labels=labels, val_labels=labels[6:])
    assert "different numbers of labels" in only_error(run({"multi_label": 1}, channels), "labels").message


def test_manifest_image_smaller_than_image_shape(tmp_path):
    channels = data.manifest_dataset(str(tmp_path))
    with open(os.path.join(str(tmp_path), "validation", "class_0", "img_0003.jpg"), "wb") as f:
        f.write(data.jpegs(1, seed=9, size=(30, 50))[0])
    found = only_error(run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"]), "image-size")
    assert found.channel == "validation" and found.line == 4 and "50x30" in found.message


def test_many_remote_images_are_not_fetched_without_check_images(tmp_path, monkeypatch):
    from icformat.preflight import data as facts

    monkeypatch.setattr(facts, "REMOTE_HEADER_LIMIT", 5)
    records = [{"source-ref": f"s3://no-such-bucket-here/img_{i}.jpg", "class": str(i % 3)} for i in range(12)]
    channels = {"train": data.write_lines(str(tmp_path / "t.manifest"), records),
                "validation": data.write_lines(str(tmp_path / "v.manifest"), records[:3])}
    report = run({}, channels, input_mode="Pipe", attribute_names=["source-ref", "class"])
    warnings = {f.channel: f.message for f in report.of(F.WARNING) if f.check == "image-size"}
    assert "more than 5" in warnings["train"] and "cannot read" in warnings["validation"]
    assert report.exit_code == 0


def test_check_images_on_image_files_uses_the_one_verdict(tmp_path):
    """--check-images on .lst and manifest channels judges images as every other command does: a JPEG
    that MXNet decodes (an extra byte before its end marker) is not an error; an undecodable one is."""
    image_types = {"resize": 48}, {"train": "application/x-image", "validation": "application/x-image"}
    for name, channels, options in (("lst", data.lst_dataset(str(tmp_path / "lst")), image_types),
                                    ("manifest", data.manifest_dataset(str(tmp_path / "manifest")),
                                     ({}, {"input_mode": "Pipe", "attribute_names": ["source-ref", "class"]}))):
        folder = channels["train"] if name == "lst" else str(tmp_path / name)
        jpeg = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(".jpg"))[0]
        whole = open(jpeg, "rb").read()
        with open(jpeg, "wb") as f:
            f.write(whole[:-2] + b"\x00" + whole[-2:])
        hp, options = options
        report = run(hp, channels, check_images=True, **options)
        assert report.exit_code == 0 and errors(report) == [], name
        with open(jpeg, "wb") as f:
            f.write(data.undecodable(whole))
        # a .lst channel's images are judged by lst validate (its check), a manifest's by preflight itself
        found = only_error(run(hp, channels, check_images=True, **options), "lst" if name == "lst" else "image-decode")
        assert os.path.basename(jpeg) in found.message, name
