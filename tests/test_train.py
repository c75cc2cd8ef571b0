"""icformat train on real digits: inputs, the artifact under plain MXNet, multi-label, incremental
and transfer learning, checkpoints, optimizers (small shapes, few epochs)."""
from __future__ import annotations

import json
import os
import tarfile

import numpy as np
import pytest

from .train_fixtures import (
    N_TRAIN, N_VAL, SIZE, digits_data, lst_channel, multi_hot, rec_channel, rec_job_channels, run_train, split_indices,
    tar_names,
)

from icformat import samples
from icformat.errors import InputNotFound, ModelMismatchError
from icformat import mxnet_runtime as runtime
from icformat.train.network import build_symbol
from icformat.train.trainer import _digest

__all__ = ["digits_data"]


def _val_arrays(multi=False):
    images, targets = samples.digit_images(SIZE)
    _, val_idx = split_indices()
    data = images[val_idx].transpose(0, 3, 1, 2).astype(np.float32)
    labels = multi_hot(targets[val_idx]) if multi else targets[val_idx].astype(np.float32)
    return data, labels


def _plain_mxnet_accuracy(artifact: str, tmp_path, *, for_training: bool, multi=False) -> float:
    """Accuracy of the archived model on the validation digits, with nothing but MXNet's own API.
    The images went through JPEG in the .rec: decode them the same way for a like-for-like check."""
    mx = runtime.import_mxnet()
    folder = tmp_path / "extracted"
    with tarfile.open(artifact) as tar:
        tar.extractall(folder)
    epoch = int(sorted(n for n in os.listdir(folder) if n.endswith(".params"))[-1][-11:-7])
    sym, arg, aux = mx.model.load_checkpoint(str(folder / "image-classification"), epoch)
    data, labels = _decoded_val(multi)
    module = mx.mod.Module(sym, context=mx.cpu())
    module.bind(data_shapes=[("data", data.shape)], label_shapes=[("softmax_label", labels.shape)], for_training=for_training)
    module.set_params(arg, aux)
    module.forward(mx.io.DataBatch([mx.nd.array(data)], [mx.nd.array(labels)]), is_train=False)
    probs = module.get_outputs()[0].asnumpy()
    if multi:
        return float(((probs >= 0.5) == (labels >= 0.5)).mean())
    return float((probs.argmax(axis=1) == labels).mean())


def _decoded_val(multi: bool):
    from icformat.image import decode
    from icformat.recordio import RecordReader, unpack

    root = _DATA["root"]
    data, labels = [], []
    for record in RecordReader(os.path.join(root, "ml_val.rec" if multi else "val.rec")):
        header, image = unpack(record)
        data.append(decode(image).transpose(2, 0, 1))
        labels.append(header.label)
    return np.asarray(data, np.float32), np.asarray(labels, np.float32)


_DATA: dict = {}


@pytest.fixture(autouse=True)
def _remember(digits_data):
    _DATA.update(digits_data)


def test_rec_training_artifact_matches_plain_mxnet(digits_data, tmp_path):
    train_ch, val_ch = rec_job_channels(digits_data)
    result = run_train(tmp_path, train_ch, val_ch, epochs=3)
    assert result.epochs == 3 and len(result.history) == 3
    assert result.best_validation_accuracy > 0.5  # far above chance (0.1): BatchNorm statistics were learnt
    names = tar_names(result.artifact)
    best_epoch = 1 + max(range(3), key=lambda e: (result.history[e]["validation_accuracy"], -e))
    assert names == sorted(["image-classification-symbol.json", f"image-classification-{best_epoch:04d}.params",
                            "model-shapes.json"])
    with tarfile.open(result.artifact) as tar:
        assert json.load(tar.extractfile("model-shapes.json")) == [{"shape": [16, 3, SIZE, SIZE], "name": "data"}]
    # pitfall: BatchNorm statistics update in backward; bn_data's must have left their initial 0/1
    mx = runtime.import_mxnet()
    with tarfile.open(result.artifact) as tar:
        tar.extractall(tmp_path / "stats")
    saved = mx.nd.load(str(tmp_path / "stats" / f"image-classification-{best_epoch:04d}.params"))
    assert abs(saved["aux:bn_data_moving_mean"].asnumpy().mean()) > 1.0
    assert saved["aux:bn_data_moving_var"].asnumpy().mean() > 10.0
    # the unfused oracle (a module bound for training) and an inference-bound one under the safe runtime
    assert os.environ["MXNET_SUBGRAPH_BACKEND"] == "NONE"
    oracle = _plain_mxnet_accuracy(result.artifact, tmp_path, for_training=True)
    assert oracle == pytest.approx(result.best_validation_accuracy, abs=1e-9)
    assert _plain_mxnet_accuracy(result.artifact, tmp_path, for_training=False) == pytest.approx(oracle, abs=1e-9)


def test_symbol_names_as_sagemaker(digits_data):
    sym = build_symbol(10, 18)
    args = sym.list_arguments()
    assert args[:4] == ["data", "bn_data_gamma", "bn_data_beta", "conv0_weight"]
    assert "stage4_unit2_conv2_weight" in args and "stage2_unit1_sc_weight" in args
    assert args[-3:] == ["fc_weight", "fc_bias", "softmax_label"]
    internals = sym.get_internals().list_outputs()
    for name in ("id_output", "bn_data_output", "bn0_output", "relu0_output", "pooling0_output", "bn1_output",
                 "relu1_output", "pool1_output", "flatten0_output", "fc_output", "softmax_output"):
        assert name in internals
    _, out, _ = sym.infer_shape(data=(1, 3, 180, 320))
    assert out == [(1, 10)]
    cifar = build_symbol(5, 110).list_arguments()
    assert "stage3_unit18_conv2_weight" in cifar and "bn0_gamma" not in cifar
    assert "stage3_unit3_conv3_weight" in build_symbol(5, 50).list_arguments()


def test_shard_folder_and_lst_inputs(digits_data, tmp_path):
    shards = run_train(tmp_path / "a", rec_channel("train", digits_data["shards"]),
                       rec_channel("validation", digits_data["val"]), epochs=1)
    assert shards.history[0]["train_accuracy"] > 0 and shards.stored_epochs == [0]
    lst = run_train(tmp_path / "b", lst_channel("train", digits_data["train_lst"], digits_data["train_root"]),
                    lst_channel("validation", digits_data["val_lst"], digits_data["val_root"]), epochs=1)
    assert lst.validation_accuracy is not None and os.path.exists(lst.artifact)


def test_multi_label_artifact_and_weighted_loss(digits_data, tmp_path):
    train_ch, val_ch = rec_job_channels(digits_data, multi=True)
    result = run_train(tmp_path, train_ch, val_ch, num_classes=3, multi_label=1, epochs=2)
    assert result.best_validation_accuracy > 0.55
    accuracy = _plain_mxnet_accuracy(result.artifact, tmp_path, for_training=True, multi=True)
    assert accuracy == pytest.approx(result.best_validation_accuracy, abs=1e-9)
    weighted = run_train(tmp_path / "w", train_ch, val_ch, num_classes=3, multi_label=1, use_weighted_loss=1,
                         epochs=1, top_k=2)
    with tarfile.open(weighted.artifact) as tar:
        symbol = json.load(tar.extractfile("image-classification-symbol.json"))
    ops = {node["op"] for node in symbol["nodes"]}
    assert "LogisticRegressionOutput" in ops and "MakeLoss" not in ops  # the artifact is the plain network


def test_incremental_training_starts_from_the_model(digits_data, tmp_path):
    train_ch, val_ch = rec_job_channels(digits_data)
    first = run_train(tmp_path / "first", train_ch, val_ch, epochs=1)
    # learning_rate 0: the weights must stay exactly those of the model given
    again = run_train(tmp_path / "again", train_ch, val_ch, epochs=1, learning_rate=0, model=first.artifact)
    assert again.weights_sha256 == first.weights_sha256


@pytest.mark.parametrize("change,text", [
    ({"num_classes": 12}, "num_classes 10 (hyperparameters: 12)"),
    ({"num_layers": 32}, "num_layers 20 (hyperparameters: 32)"),
    ({"image_shape": f"3,{SIZE + 8},{SIZE + 8}", "resize": SIZE + 8}, f"image_shape 3,{SIZE},{SIZE}"),
])
def test_incremental_refuses_a_mismatched_model(digits_data, tmp_path, change, text):
    model = _one_epoch_model(digits_data, tmp_path)
    train_ch, val_ch = rec_job_channels(digits_data)
    with pytest.raises(ModelMismatchError, match=text.replace("(", r"\(").replace(")", r"\)")):
        run_train(tmp_path / "x", train_ch, val_ch, model=model, **change)
    assert not os.path.exists(tmp_path / "x")


_MODEL: dict = {}


def _one_epoch_model(digits_data, tmp_path, num_layers=20) -> str:
    if num_layers not in _MODEL:
        train_ch, val_ch = rec_job_channels(digits_data)
        folder = tmp_path.parent / f"one-epoch-model-{num_layers}"
        _MODEL[num_layers] = run_train(folder, train_ch, val_ch, epochs=1, num_layers=num_layers).artifact
    return _MODEL[num_layers]


def _resnet18_checkpoint(tmp_path, num_classes=1000) -> tuple[str, dict]:
    """An MXNet checkpoint prefix of a ResNet-18 with ImageNet-style names (initialised, not trained)."""
    mx = runtime.import_mxnet()
    sym = build_symbol(num_classes, 18)
    module = mx.mod.Module(sym, context=mx.cpu())
    module.bind(data_shapes=[("data", (1, 3, SIZE, SIZE))], label_shapes=[("softmax_label", (1,))])
    module.init_params(mx.init.Xavier())
    arg, aux = module.get_params()
    prefix = str(tmp_path / "resnet-18")
    mx.model.save_checkpoint(prefix, 3, sym, arg, aux)
    return prefix, arg


def test_transfer_learning_reinitialises_only_fc(digits_data, tmp_path):
    mx = runtime.import_mxnet()
    prefix, seed = _resnet18_checkpoint(tmp_path)
    train_ch, val_ch = rec_job_channels(digits_data, multi=True)
    result = run_train(tmp_path, train_ch, val_ch, num_classes=3, multi_label=1, use_pretrained_model=1, num_layers=18,
                       pretrained=prefix, epochs=1, learning_rate=0)
    with tarfile.open(result.artifact) as tar:
        name = [n for n in tar.getnames() if n.endswith(".params")][0]
        tar.extractall(tmp_path / "out")
    out = {k[4:]: v for k, v in mx.nd.load(str(tmp_path / "out" / name)).items() if k.startswith("arg:")}
    assert np.array_equal(out["conv0_weight"].asnumpy(), seed["conv0_weight"].asnumpy())
    assert np.array_equal(out["stage4_unit2_conv2_weight"].asnumpy(), seed["stage4_unit2_conv2_weight"].asnumpy())
    assert out["fc_weight"].shape == (3, 512) and seed["fc_weight"].shape == (1000, 512)


def test_transfer_learning_refusals(digits_data, tmp_path):
    prefix, _ = _resnet18_checkpoint(tmp_path)
    train_ch, val_ch = rec_job_channels(digits_data)
    with pytest.raises(ModelMismatchError, match="needs pretrained weights: give --pretrained"):
        run_train(tmp_path, train_ch, val_ch, use_pretrained_model=1, num_layers=18)
    with pytest.raises(ModelMismatchError, match="is a ResNet-18, but num_layers=34"):
        run_train(tmp_path, train_ch, val_ch, use_pretrained_model=1, num_layers=34, pretrained=prefix)
    with pytest.raises(ModelMismatchError, match="is a ResNet-18, but num_layers=34"):
        run_train(tmp_path, train_ch, val_ch, use_pretrained_model=1, num_layers=34, pretrained=prefix + "-0003.params")
    with pytest.raises(InputNotFound, match="no checkpoint there"):
        run_train(tmp_path, train_ch, val_ch, use_pretrained_model=1, num_layers=18, pretrained=str(tmp_path / "nothing"))
    assert not os.path.exists(tmp_path / "model")


def test_checkpoint_frequency_and_early_stopping(digits_data, tmp_path):
    train_ch, val_ch = rec_job_channels(digits_data)
    every = run_train(tmp_path / "a", train_ch, val_ch, epochs=2, checkpoint_frequency=1)
    assert every.stored_epochs == [0, 1] and every.stored_checkpoints == [1, 2]
    assert "checkpoint_frequency" in every.stored_because and all(h["stored"] for h in every.history)
    assert "image-classification-0001.params" in tar_names(every.artifact)
    assert "image-classification-0002.params" in tar_names(every.artifact)
    stop = run_train(tmp_path / "b", train_ch, val_ch, epochs=6, early_stopping="True", early_stopping_min_epochs=1,
                     early_stopping_patience=1, early_stopping_tolerance=1, learning_rate=0)
    assert stop.stopped_early and stop.epochs < 6 and stop.stored_epochs == [0]


def test_early_stopping_rule():
    from icformat.train.hyperparameters import parse_hyperparameters
    from icformat.train.trainer import EarlyStopping

    hp = parse_hyperparameters({"num_classes": "3", "num_training_samples": "9", "early_stopping": "True",
                                "early_stopping_min_epochs": "3", "early_stopping_patience": "2",
                                "early_stopping_tolerance": "0.1"})
    rule = EarlyStopping(hp)
    # 0.5 -> 0.54 is +8%: below the 10% tolerance, so not an improvement
    decisions = [rule.update(e, a) for e, a in enumerate([0.5, 0.6, 0.64, 0.65, 0.9, 0.91, 0.92])]
    assert decisions == [False, False, False, True, False, False, True]
    off = EarlyStopping(parse_hyperparameters({"num_classes": "3", "num_training_samples": "9"}))
    assert not any(off.update(e, 0.5) for e in range(20))


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "nag"])
def test_optimizers_train(digits_data, tmp_path, optimizer):
    train_ch, _ = rec_job_channels(digits_data)
    lr = "0.01" if optimizer in ("adam", "rmsprop") else "0.1"
    result = run_train(tmp_path, train_ch, None, epochs=2, optimizer=optimizer, learning_rate=lr,
                       lr_scheduler_step="1", precision_dtype="float16", mini_batch_size=64, top_k=3)
    assert result.stored_epochs == [1] and result.stored_checkpoints == [2]  # no validation channel: the last epoch
    assert "no validation channel" in result.stored_because
    top = result.history[-1]["train_top_k_accuracy_3"]
    assert result.history[-1]["train_accuracy"] <= top <= 1
    assert result.history[1]["train_accuracy"] > result.history[0]["train_accuracy"] or result.train_accuracy > 0.5


def test_optimizer_settings():
    from icformat.train.hyperparameters import parse_hyperparameters
    from icformat.train.optim import optimizer_params

    hp = parse_hyperparameters({"num_classes": "3", "num_training_samples": "9", "optimizer": "rmsprop", "gamma": "0.8",
                                "eps": "0.001", "lr_scheduler_step": "2,4", "lr_scheduler_factor": "0.5"})
    params = optimizer_params(hp, 10)
    assert params["gamma1"] == 0.8 and params["epsilon"] == 0.001 and "momentum" not in params
    assert params["lr_scheduler"].step == [20, 40] and params["lr_scheduler"].factor == 0.5
    sgd = optimizer_params(parse_hyperparameters({"num_classes": "3", "num_training_samples": "9"}), 10)
    assert sgd == {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.0001}


def test_schedule_counts_batches_from_num_training_samples():
    """As SageMaker's (MXNet's fit.py): 200 samples / batch 16 -> 13 batches per epoch, whatever the
    channel holds; under dist_sync each of 2 workers counts floor(200 / 2) = 100 -> 7."""
    from icformat.train.hyperparameters import parse_hyperparameters, schedule_batches_per_epoch
    from icformat.train.optim import optimizer_params

    hp = parse_hyperparameters({"num_classes": "3", "num_training_samples": "200", "mini_batch_size": "16",
                                "lr_scheduler_step": "1,3"})
    assert optimizer_params(hp, schedule_batches_per_epoch(hp))["lr_scheduler"].step == [13, 39]
    assert schedule_batches_per_epoch(hp, workers=2) == 7


def test_digest_matches_a_fresh_load(digits_data, tmp_path):
    mx = runtime.import_mxnet()
    train_ch, _ = rec_job_channels(digits_data)
    result = run_train(tmp_path, train_ch, None, epochs=1)
    with tarfile.open(result.artifact) as tar:
        tar.extractall(tmp_path / "x")
    _, arg, _ = mx.model.load_checkpoint(str(tmp_path / "x" / "image-classification"), 1)
    assert _digest(arg) == result.weights_sha256
    assert N_TRAIN > N_VAL
