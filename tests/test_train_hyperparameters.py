"""SageMaker's hyperparameters: defaults, every invalid value, inconsistent sets (pure Python: runs in
the core environment too)."""
from __future__ import annotations

import pytest

from icformat.errors import HyperparameterError, IcformatError, TrainingDataError
from icformat.train.hyperparameters import (
    SPEC,
    Hyperparameters,
    check_dataset,
    ensure_dataset,
    merge_hyperparameters,
    parse_assignments,
    parse_hyperparameters,
    schedule_batches_per_epoch,
    schedule_warning,
    validate_hyperparameters,
)

BASE = {"num_classes": "10", "num_training_samples": "100"}


def parse(**extra):
    return parse_hyperparameters({**BASE, **extra})


def test_defaults_match_sagemaker():
    hp = parse()
    assert hp.num_classes == 10 and hp.num_training_samples == 100
    assert hp.num_layers == 152 and hp.image_shape == (3, 224, 224) and hp.epochs == 30
    assert hp.mini_batch_size == 32 and hp.learning_rate == 0.1 and hp.optimizer == "sgd"
    assert hp.momentum == 0.9 and hp.weight_decay == 0.0001 and hp.lr_scheduler_factor == 0.1
    assert (hp.beta_1, hp.beta_2, hp.eps, hp.gamma) == (0.9, 0.999, 1e-8, 0.9)
    assert hp.checkpoint_frequency is None and hp.augmentation_type is None and hp.kv_store is None
    assert (hp.early_stopping, hp.early_stopping_min_epochs, hp.early_stopping_patience) == (False, 10, 5)
    assert hp.early_stopping_tolerance == 0.0 and hp.precision_dtype == "float32" and hp.resize is None
    assert not hp.multi_label and not hp.use_pretrained_model and not hp.use_weighted_loss and hp.top_k is None


def test_strings_as_sagemaker_sends_them():
    hp = parse(num_layers="20", image_shape="3,32,32", mini_batch_size="16", learning_rate="0.05",
               lr_scheduler_step="10, 20", early_stopping="True", multi_label="1", use_weighted_loss="1",
               optimizer="adam", augmentation_type="crop_color", kv_store="dist_sync", checkpoint_frequency="5",
               top_k="3", resize="40", epochs="12")
    assert hp.num_layers == 20 and hp.cifar_stem and hp.image_shape == (3, 32, 32)
    assert hp.lr_scheduler_step == (10, 20) and hp.early_stopping and hp.multi_label and hp.use_weighted_loss
    assert hp.optimizer == "adam" and hp.augmentation_type == "crop_color" and hp.distributed
    assert (hp.checkpoint_frequency, hp.top_k, hp.resize) == (5, 3, 40)
    d = hp.to_dict()
    assert d["image_shape"] == "3,32,32" and d["lr_scheduler_step"] == "10,20" and d["num_classes"] == 10


def test_json_numbers_accepted_and_frozen():
    hp = parse_hyperparameters({"num_classes": 3, "num_training_samples": 12.0, "multi_label": 0, "early_stopping": False})
    assert hp.num_training_samples == 12 and not hp.early_stopping
    with pytest.raises(AttributeError):
        hp.epochs = 3  # type: ignore[misc]
    assert isinstance(hp, Hyperparameters)


def test_float16_on_cpu_is_noted_and_runs_float32():
    hp = parse(precision_dtype="float16")
    assert hp.precision_dtype == "float16" and hp.compute_dtype == "float32"
    assert any("GPU" in n for n in hp.notes)
    gpu = parse_hyperparameters({**BASE, "precision_dtype": "float16"}, device="gpu")
    assert gpu.compute_dtype == "float16" and not gpu.notes


def test_local_kv_store_and_service_keys_are_accepted():
    hp = parse(kv_store="device", _tuning_objective_metric="validation:accuracy", sagemaker_job_name="x")
    assert hp.kv_store is None and not hp.distributed


INVALID = [
    ("num_classes", "0"), ("num_classes", "ten"), ("num_classes", "2.5"), ("num_training_samples", "-1"),
    ("augmentation_type", "rotate"), ("beta_1", "1.5"), ("beta_2", "-0.1"), ("checkpoint_frequency", "0"),
    ("early_stopping", "yes"), ("early_stopping_min_epochs", "0"), ("early_stopping_patience", "-2"),
    ("early_stopping_tolerance", "2"), ("epochs", "0"), ("eps", "3"), ("gamma", "nan"),
    ("image_shape", "224,224"), ("image_shape", "4,32,32"), ("image_shape", "3,0,32"), ("image_shape", "a,b,c"),
    ("kv_store", "dist_device_sync"), ("learning_rate", "1.1"), ("lr_scheduler_factor", "inf"),
    ("lr_scheduler_step", "20,10"), ("lr_scheduler_step", "0"), ("lr_scheduler_step", "x"),
    ("mini_batch_size", "0"), ("momentum", "-0.5"), ("multi_label", "2"), ("num_layers", "19"),
    ("optimizer", "adagrad"), ("precision_dtype", "float64"), ("resize", "0"), ("top_k", "0"),
    ("use_pretrained_model", "yes"), ("use_weighted_loss", "true"), ("weight_decay", "1.01"),
]


@pytest.mark.parametrize("name,value", INVALID)
def test_every_invalid_value_names_parameter_and_range(name, value):
    with pytest.raises(HyperparameterError) as info:
        parse(**{name: value})
    message = str(info.value)
    assert info.value.name == name and "\n" not in message
    assert name in message and SPEC[name][1] in message
    assert isinstance(info.value, IcformatError) and isinstance(info.value, ValueError)


def test_every_table_entry_is_covered_by_an_invalid_case():
    untested = set(SPEC) - {n for n, _ in INVALID} - {"model_prefix"}
    assert not untested


@pytest.mark.parametrize("missing", ["num_classes", "num_training_samples"])
def test_required_missing(missing):
    raw = dict(BASE)
    del raw[missing]
    with pytest.raises(HyperparameterError, match=f"hyperparameter {missing}: missing") as info:
        parse_hyperparameters(raw)
    assert info.value.name == missing


def test_unknown_name_is_a_warning():
    # the reference does not confirm whether SageMaker rejects or ignores unknown names: never an error
    review = validate_hyperparameters({**BASE, "learning_rat": "0.1", "zzz": "1"}, sources={"learning_rat": "--hp"})
    assert review.errors == [] and [p.name for p in review.warnings] == ["learning_rat", "zzz"]
    assert "did you mean learning_rate" in review.warnings[0].message and review.warnings[0].source == "--hp"
    assert "known: augmentation_type, beta_1" in review.warnings[1].message
    assert any("learning_rat" in note for note in parse(learning_rat="0.1").notes)


def test_top_k_1_is_a_warning_not_an_error():
    # the reference marks SageMaker's behaviour as unconfirmed; AWS's Kubernetes sample uses it
    hp = parse(top_k="1")
    assert hp.top_k == 1 and any("top_k" in note and "not confirmed" in note for note in hp.notes)
    assert [p.severity for p in validate_hyperparameters({**BASE, "top_k": "1"}).problems] == ["warning"]


def test_every_problem_in_one_run_with_its_source():
    raw = {"num_classes": "10", "learning_rate": "abc", "epochs": "0", "mini_batch_size": "-1", "optimizer": "adam"}
    sources = {"num_classes": "hp.json", "learning_rate": "--hp", "epochs": "--hp", "mini_batch_size": "--hp",
               "optimizer": "hp.json"}
    review = validate_hyperparameters(raw, sources=sources)
    assert review.hp is None
    found = {(p.name, p.source) for p in review.errors}
    assert found == {("learning_rate", "--hp"), ("epochs", "--hp"), ("mini_batch_size", "--hp"),
                     ("num_training_samples", None)}
    with pytest.raises(HyperparameterError) as info:
        parse_hyperparameters(raw, sources=sources)
    message = str(info.value)
    assert message.startswith("4 hyperparameter errors: ") and "\n" not in message
    assert "hyperparameter epochs: got '0'; valid: a positive integer (from --hp)" in message
    assert "hyperparameter num_training_samples: missing" in message


INCONSISTENT = [
    ({"checkpoint_frequency": "5", "epochs": "3"}, "checkpoint_frequency", "above epochs=3"),
    ({"resize": "20", "image_shape": "3,32,32"}, "resize", "smaller than image_shape 32x32"),
    ({"resize": "40", "image_shape": "3,32,48"}, "resize", "smaller than image_shape 32x48"),
    ({"top_k": "11"}, "top_k", "above num_classes=10"),
    ({"use_weighted_loss": "1"}, "use_weighted_loss", "needs multi_label=1"),
    ({"use_pretrained_model": "1", "num_layers": "20"}, "num_layers", "no pretrained model"),
    ({"multi_label": "1", "num_classes": "1"}, "num_classes", "at least 2 classes"),
]


@pytest.mark.parametrize("extra,name,text", INCONSISTENT)
def test_inconsistent_sets(extra, name, text):
    with pytest.raises(HyperparameterError, match=text) as info:
        parse(**extra)
    assert info.value.name == name and name in str(info.value)


def test_assignments_and_merge():
    assert parse_assignments(["epochs=3", " optimizer = adam "]) == {"epochs": "3", "optimizer": "adam"}
    assert merge_hyperparameters({"epochs": "1", "a": "x"}, {"epochs": "2"}) == {"epochs": "2", "a": "x"}
    with pytest.raises(HyperparameterError, match="NAME=VALUE"):
        parse_assignments(["epochs"])


# ---- dataset consistency ----

def hp_small(**extra):
    return parse(num_training_samples="40", mini_batch_size="8", num_layers="20", image_shape="3,32,32", **extra)


def test_consistent_dataset_has_no_problems():
    assert check_dataset(hp_small(), num_examples=40, labels=range(10), label_width=1, min_image_shape=(32, 32)) == []
    assert check_dataset(hp_small(), num_examples=40, labels={0.0, 9.0}, label_width=None) == []


@pytest.mark.parametrize("kwargs,text", [
    (dict(num_examples=0, labels=[], label_width=None), "empty channel"),
    (dict(num_examples=40, labels=[0, 10, 12], label_width=1), "label(s) 10, 12 outside 0..9"),
    (dict(num_examples=40, labels=[-1], label_width=1), "outside 0..9"),
    (dict(num_examples=40, labels=[1.5], label_width=1), "whole class ids"),
    (dict(num_examples=40, labels=[0], label_width=3), "set multi_label=1"),
    (dict(num_examples=40, labels=[0], label_width=1, min_image_shape=(28, 40)), "28x40, smaller than image_shape 32x32"),
])
def test_each_dataset_problem_is_one_line(kwargs, text):
    problems = check_dataset(hp_small(), **kwargs)
    assert len(problems) == 1 and text in problems[0] and "\n" not in problems[0]
    with pytest.raises(TrainingDataError, match="train channel"):
        ensure_dataset(hp_small(), **kwargs)


def test_fewer_images_than_batch():
    hp = parse(num_training_samples="5", mini_batch_size="8")
    problems = check_dataset(hp, num_examples=5, labels=[0], label_width=1)
    assert len(problems) == 1 and "5 images, fewer than mini_batch_size=8" in problems[0]


def test_resize_excuses_small_images_and_validation_skips_counts():
    assert check_dataset(hp_small(resize="32"), num_examples=40, labels=[0], label_width=1, min_image_shape=(10, 10)) == []
    assert check_dataset(hp_small(), num_examples=3, labels=[0], label_width=1, channel="validation") == []
    assert "validation channel" in check_dataset(hp_small(), num_examples=0, labels=[], label_width=1,
                                                 channel="validation")[0]


def test_multi_label_width_and_values():
    hp = hp_small(multi_label="1")
    assert check_dataset(hp, num_examples=40, labels=[[1, 0] * 5], label_width=10) == []
    width = check_dataset(hp, num_examples=40, labels=[[1, 0, 1]], label_width=3)
    assert len(width) == 1 and "carry 3 labels but num_classes=10" in width[0]
    values = check_dataset(hp, num_examples=40, labels=[[2] * 10], label_width=10)
    assert len(values) == 1 and "0 or 1" in values[0]


def test_several_problems_reported_together():
    problems = check_dataset(hp_small(), num_examples=3, labels=[11], label_width=1, min_image_shape=(8, 8))
    assert len(problems) == 3
    with pytest.raises(TrainingDataError, match=r"and 2 more problem"):
        ensure_dataset(hp_small(), num_examples=3, labels=[11], label_width=1, min_image_shape=(8, 8))


def test_num_training_samples_mismatch_is_a_warning_about_the_schedule():
    # AWS's lst-format notebook ships num_training_samples=15240 for 15,420 images, and the job ran
    hp = parse(num_training_samples="15240", mini_batch_size="128", lr_scheduler_step="10,20")
    assert check_dataset(hp, num_examples=15420, labels=[0], label_width=1) == []
    assert schedule_batches_per_epoch(hp) == 120 and schedule_batches_per_epoch(hp, workers=2) == 60
    text = schedule_warning(hp, 15420)
    assert "15,420 images but num_training_samples=15,240; the job runs" in text
    assert "drops after 1200/2400 batches (120 per epoch" in text and text.endswith("set num_training_samples=15420")
    assert schedule_warning(hp, 15240) is None
