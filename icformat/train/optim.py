"""SageMaker's optimizer hyperparameters as MXNet optimizer settings."""
from __future__ import annotations

from typing import Any

from .hyperparameters import Hyperparameters
from ..mxnet_runtime import import_mxnet


def optimizer_params(hp: Hyperparameters, batches_per_epoch: int) -> dict[str, Any]:
    """``Module.init_optimizer``'s ``optimizer_params`` for ``hp`` (``rescale_grad`` is set by
    the module: 1 / (batch x workers) under dist_sync). ``batches_per_epoch`` is the schedule's
    epoch length: :func:`~icformat.train.hyperparameters.schedule_batches_per_epoch`, counted from
    num_training_samples as SageMaker's algorithm counts it."""
    mx = import_mxnet()
    params: dict[str, Any] = {"learning_rate": hp.learning_rate}
    if hp.optimizer in ("sgd", "nag"):
        params.update(momentum=hp.momentum, wd=hp.weight_decay)
    elif hp.optimizer == "adam":
        params.update(beta1=hp.beta_1, beta2=hp.beta_2, epsilon=hp.eps)
    elif hp.optimizer == "rmsprop":
        params.update(gamma1=hp.gamma, epsilon=hp.eps)
    if hp.compute_dtype == "float16":
        params["multi_precision"] = True
    if hp.lr_scheduler_step:
        steps = [max(1, epoch * batches_per_epoch) for epoch in hp.lr_scheduler_step]
        params["lr_scheduler"] = mx.lr_scheduler.MultiFactorScheduler(
            step=steps, factor=hp.lr_scheduler_factor, base_lr=hp.learning_rate)
    return params


def parameter_block(hp: Hyperparameters, kv_store: str) -> list[str]:
    """The ``---- Parameters ----`` block SageMaker's algorithm logs at start."""
    return [
        "---- Parameters ----",
        f"num_layers: {hp.num_layers}",
        f"data type: <class 'numpy.{hp.compute_dtype}'>",
        f"epochs: {hp.epochs}",
        f"image resize size: {hp.resize}" if hp.resize else "image resize size: None",
        f"optimizer: {hp.optimizer}",
        f"momentum: {hp.momentum}",
        f"weight_decay: {hp.weight_decay}",
        f"learning_rate: {hp.learning_rate}",
        f"num_training_samples: {hp.num_training_samples}",
        f"mini_batch_size: {hp.mini_batch_size}",
        f"image_shape: {','.join(map(str, hp.image_shape))}",
        f"num_classes: {hp.num_classes}",
        f"augmentation_type: {hp.augmentation_type}",
        f"kv_store: {kv_store}",
        f"multi_label: {int(hp.multi_label)}",
    ] + ([f"top_k: {hp.top_k}"] if hp.top_k else []) + [
        f"checkpoint_frequency: {hp.checkpoint_frequency}" if hp.checkpoint_frequency
        else "checkpoint_frequency not set, will store the best model",
    ]
