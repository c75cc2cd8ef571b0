"""The training run: checks, network, weights, the epoch loop, checkpoints and the artifact.

Everything that can be checked is checked before the first batch: hyperparameters (by the caller),
the channels' data (``data.survey``), and seed weights. Training binds one MXNet ``Module`` for
training; validation runs the same module forward in evaluation mode, with MXNet's fused CPU
inference path switched off (:mod:`icformat.mxnet_runtime`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace

from .checkpoints import CheckpointKeeper, write_artifact
from .data import Channel, FeedOptions, Survey, check_batch_labels, check_channel, make_loader, require_nonempty, survey
from .hyperparameters import Hyperparameters, schedule_batches_per_epoch, schedule_warning
from .metrics import Accuracy
from .network import POS_WEIGHT, build_symbol, build_weighted_training_symbol
from .optim import optimizer_params, parameter_block
from ..mxnet_runtime import import_mxnet, quiet_bind
from .seed import SeedWeights, check_against, load_incremental, load_pretrained

LOG = logging.getLogger("icformat.train")


@dataclass(frozen=True)
class TrainJob:
    """What to train: hyperparameters, channels, where the artifact goes, seed weights."""

    hp: Hyperparameters
    train: Channel
    validation: Channel | None = None
    output: str = os.path.join("model", "model.tar.gz")
    model: str | None = None
    pretrained: str | None = None
    feed: FeedOptions = FeedOptions()
    progress: bool = False


@dataclass
class TrainResult:
    """The run's summary (``--json``)."""

    epochs: int
    train_accuracy: float
    validation_accuracy: float | None
    best_validation_accuracy: float | None
    images_per_second: float
    artifact: str | None
    #: the epochs whose weights the artifact holds, numbered from 0 as ``history`` and the log lines
    #: (``Epoch[0]``); ``stored_checkpoints`` are the same as MXNet's checkpoint file numbers (epoch + 1,
    #: ``image-classification-0001.params``), and ``stored_because`` says why those were kept
    stored_epochs: list[int]
    stopped_early: bool
    stored_checkpoints: list[int] = field(default_factory=list)
    stored_because: str = ""
    rank: int = 0
    num_workers: int = 1
    #: SHA-256 of the final trained weights (not BatchNorm statistics): equal on every dist_sync worker
    weights_sha256: str | None = None
    history: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def detect_device() -> str:
    """``gpu`` when MXNet sees a GPU, else ``cpu``."""
    mx = import_mxnet()
    try:
        return "gpu" if mx.context.num_gpus() > 0 else "cpu"
    except Exception:  # a CPU-only build may raise instead of answering 0
        return "cpu"


def train(job: TrainJob) -> TrainResult:
    """Run ``job``; raises an ``IcformatError`` for bad data or seed weights before training."""
    mx = import_mxnet()
    hp = job.hp
    for note in hp.notes:
        LOG.warning(note)
    surveys = {c.name: _checked(hp, c) for c in (job.train, job.validation) if c is not None}
    kv, rank, workers = _kvstore(mx, hp)
    if workers > 1 and hp.early_stopping:
        LOG.warning("early_stopping is off under %s: every worker must run the same number of epochs", hp.kv_store)
    for line in parameter_block(hp, kv.type if kv is not None else "device"):
        LOG.info(line)
    with tempfile.TemporaryDirectory(prefix="icformat-train-") as work:
        seed = _seed_weights(job, work)
        feed = replace(job.feed, num_parts=workers, part_index=rank)
        with contextlib.ExitStack() as stack:
            train_loader = stack.enter_context(make_loader(job.train, hp, train=True, feed=feed))
            val_loader = None
            if job.validation is not None:
                val_loader = stack.enter_context(make_loader(job.validation, hp, train=False,
                                                             feed=_validation_feed(job.feed)))
            run = _Run(mx, job, kv, rank, workers, surveys.get("train"), work)
            result = run.fit(train_loader, val_loader, seed)
        if rank == 0:
            write_artifact(job.output, work, result.stored_checkpoints, (hp.mini_batch_size, *hp.image_shape))
            result.artifact = job.output
            LOG.info("Wrote %s: the weights of epoch %s, kept as %s", job.output,
                     ", ".join(f"Epoch[{e}]" for e in result.stored_epochs), result.stored_because)
    return result


def _validation_feed(feed: FeedOptions) -> FeedOptions:
    """Validation reads the whole channel on every worker, with at most one loader process."""
    return replace(feed, num_workers=1 if feed.num_workers is None else min(feed.num_workers, 1))


def _kvstore(mx, hp: Hyperparameters):
    if not hp.distributed:
        return None, 0, 1
    kv = mx.kv.create(hp.kv_store)
    LOG.info("kv_store %s: worker %d of %d", hp.kv_store, kv.rank, kv.num_workers)
    return kv, kv.rank, kv.num_workers


def _checked(hp: Hyperparameters, channel: Channel) -> Survey | None:
    found = survey(channel)
    if found is None:
        LOG.info("%s channel: %s, checked as it streams", channel.name, channel.describe())
        return None
    check_channel(hp, channel, found)
    LOG.info("%s channel: %d images, %s", channel.name, found.num_examples, channel.describe())
    warning = schedule_warning(hp, found.num_examples) if channel.name == "train" else None
    if warning:
        LOG.warning(warning)
    return found


def _seed_weights(job: TrainJob, work: str) -> SeedWeights | None:
    if job.model:
        if job.hp.use_pretrained_model:
            LOG.info("use_pretrained_model is ignored: a model to train incrementally was given")
        LOG.info("Incremental training from %s", job.model)
        return load_incremental(job.model, job.hp, work)
    if job.hp.use_pretrained_model:
        LOG.info("Using pretrained model for initializing weights and transfer learning.")
        return load_pretrained(job.pretrained, job.hp, work)
    return None


class _Run:
    """One training run's module, metrics and bookkeeping."""

    def __init__(self, mx, job: TrainJob, kv, rank: int, workers: int, train_survey: Survey | None, work: str):
        self.mx, self.job, self.hp, self.kv = mx, job, job.hp, kv
        self.rank, self.workers = rank, workers
        self.train_survey = train_survey
        self.weighted = self.hp.multi_label and self.hp.use_weighted_loss
        self.symbol = build_symbol(self.hp.num_classes, self.hp.num_layers, multi_label=self.hp.multi_label,
                                   dtype=self.hp.compute_dtype)
        self.train_symbol = (build_weighted_training_symbol(self.hp.num_classes, self.hp.num_layers,
                                                            dtype=self.hp.compute_dtype)
                             if self.weighted else self.symbol)
        self.output_index = 1 if self.weighted else 0
        self.keeper = CheckpointKeeper(self.hp, work, self.symbol, write=rank == 0)

    # ---- setup --------------------------------------------------------------------------

    def _contexts(self) -> list:
        mx = self.mx
        gpus = mx.context.num_gpus() if hasattr(mx.context, "num_gpus") else 0
        return [mx.gpu(i) for i in range(gpus)] if gpus else [mx.cpu()]

    def bind(self, train_iter, seed: SeedWeights | None):
        mx = self.mx
        module = mx.mod.Module(self.train_symbol, data_names=("data",), label_names=("softmax_label",),
                               context=self._contexts(), fixed_param_names=[POS_WEIGHT] if self.weighted else None)
        with quiet_bind():
            module.bind(data_shapes=train_iter.provide_data, label_shapes=train_iter.provide_label, for_training=True)
        arg, aux = self._initial_params(module, train_iter, seed)
        module.init_params(initializer=mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),
                           arg_params=arg, aux_params=aux, allow_missing=True, allow_extra=True)
        # the learning-rate schedule counts batches from num_training_samples, as SageMaker's does
        steps = schedule_batches_per_epoch(self.hp, self.workers)
        module.init_optimizer(kvstore=self.kv if self.kv is not None else "local", optimizer=self.hp.optimizer,
                              optimizer_params=optimizer_params(self.hp, steps))
        return module

    def _initial_params(self, module, train_iter, seed: SeedWeights | None):
        arg, aux = ({}, {}) if seed is None else (dict(seed.arg_params), dict(seed.aux_params))
        if seed is not None:
            shapes = self._param_shapes(train_iter)
            check_against(seed, shapes, skip_prefix="fc" if self.job.model is None else None)
        if self.weighted:
            arg[POS_WEIGHT] = self.mx.nd.array(self._positive_weights().reshape(1, -1))
        return arg, aux

    def _param_shapes(self, train_iter) -> dict:
        inputs = {d.name: d.shape for d in train_iter.provide_data + train_iter.provide_label}
        arg_shapes, _, aux_shapes = self.train_symbol.infer_shape(**inputs)
        shapes = dict(zip(self.train_symbol.list_arguments(), arg_shapes))
        shapes.update(zip(self.train_symbol.list_auxiliary_states(), aux_shapes))
        return {k: v for k, v in shapes.items() if k not in inputs and k != POS_WEIGHT}

    def _positive_weights(self):
        """Weight of each class's positive term: negatives / positives (1 when unknown)."""
        import numpy as np

        k = self.hp.num_classes
        if self.train_survey is None or not self.train_survey.num_examples:
            LOG.warning("use_weighted_loss: class counts are unknown for a streamed channel; using weight 1")
            return np.ones(k, np.float32)
        positives = self.train_survey.positive_counts().astype(np.float64)
        negatives = self.train_survey.num_examples - positives
        return (negatives / np.maximum(positives, 1.0)).clip(0.1, 100.0).astype(np.float32)

    def steps_per_epoch(self, train_iter) -> int:
        """Batches per epoch; every worker runs the same number under a dist kv_store."""
        total = self.train_survey.num_examples if self.train_survey is not None else self.hp.num_training_samples
        return max(1, -(-(total // self.workers) // self.hp.mini_batch_size))

    # ---- the loop -------------------------------------------------------------------------

    def fit(self, train_loader, val_loader, seed: SeedWeights | None) -> TrainResult:
        from ..loader import to_mxnet_iter

        train_iter = to_mxnet_iter(train_loader)
        val_iter = to_mxnet_iter(val_loader) if val_loader is not None else None
        module = self.bind(train_iter, seed)
        return _EpochLoop(self, module, train_iter, val_iter).run()


class _EpochLoop:
    """Epochs of training and validation, logged as SageMaker logs them."""

    def __init__(self, run: _Run, module, train_iter, val_iter):
        self.run_, self.hp, self.module = run, run.hp, module
        self.train_iter, self.val_iter = train_iter, val_iter
        self.train_metric = Accuracy(multi_label=self.hp.multi_label, top_k=self.hp.top_k)
        self.val_metric = Accuracy(multi_label=self.hp.multi_label)
        self.cap = run.steps_per_epoch(train_iter) if run.workers > 1 else None
        self.history: list[dict] = []
        self.images, self.seconds = 0, 0.0
        self.top_k_accuracy: float | None = None
        self.stopper = EarlyStopping(self.hp) if run.workers == 1 else None
        self.ctrl_c = _CtrlC()

    def run(self) -> TrainResult:
        with self.ctrl_c:
            return self._run()

    def _run(self) -> TrainResult:
        stopped = False
        for epoch in range(self.hp.epochs):
            images, seconds = self.images, self.seconds
            train_acc = self.train_epoch(epoch)
            val_acc = self.validate(epoch)
            self.history.append({"epoch": epoch, "train_accuracy": train_acc, "validation_accuracy": val_acc,
                                 "images": self.images - images, "seconds": self.seconds - seconds})
            if self.top_k_accuracy is not None:
                self.history[-1][f"train_top_k_accuracy_{self.hp.top_k}"] = self.top_k_accuracy
            self.run_.keeper.end_epoch(epoch, self.module.get_params, val_acc)
            if self.stopper is not None and self.stopper.update(epoch, val_acc):
                LOG.info("Early stopping at epoch %d: no improvement of validation accuracy above %g for %d epochs",
                         epoch, self.hp.early_stopping_tolerance, self.hp.early_stopping_patience)
                stopped = True
                break
        checkpoints = self.run_.keeper.finish()
        for entry in self.history:
            entry["stored"] = entry["epoch"] + 1 in checkpoints
        last = self.history[-1]
        vals = [h["validation_accuracy"] for h in self.history if h["validation_accuracy"] is not None]
        return TrainResult(
            epochs=len(self.history), train_accuracy=last["train_accuracy"], validation_accuracy=last["validation_accuracy"],
            best_validation_accuracy=max(vals) if vals else None,
            images_per_second=self.images / self.seconds if self.seconds else 0.0, artifact=None,
            stored_epochs=[n - 1 for n in checkpoints], stopped_early=stopped, stored_checkpoints=checkpoints,
            stored_because=self.run_.keeper.reason, rank=self.run_.rank, num_workers=self.run_.workers,
            weights_sha256=_digest(self.module.get_params()[0]), history=self.history,
        )

    def train_epoch(self, epoch: int) -> float:
        metric, module, run = self.train_metric, self.module, self.run_
        metric.reset()
        self.train_iter.reset()
        tic, seen = time.time(), 0
        speed = _Speedometer(epoch, enabled=not run.job.progress)
        with _progress(run.job.progress, run.steps_per_epoch(self.train_iter), f"epoch {epoch}") as bar:
            for step, batch in enumerate(self.train_iter):
                if self.cap is not None and step >= self.cap:
                    break
                labels = batch.label[0].asnumpy()
                if run.train_survey is None:
                    check_batch_labels(self.hp, labels[: len(labels) - batch.pad], run.job.train)
                self.ctrl_c.check()
                module.forward_backward(batch)
                module.update()
                metric.update(module.get_outputs()[run.output_index].asnumpy(), labels, batch.pad)
                seen += len(labels) - batch.pad
                bar.update(1)
                bar.set_postfix(accuracy=f"{metric.accuracy:.4f}", refresh=False)
                speed.batch_end(step, seen, metric.accuracy)
        if run.train_survey is None and epoch == 0:
            require_nonempty(run.job.train, seen, self.hp)
        elapsed = time.time() - tic
        self.images, self.seconds = self.images + seen, self.seconds + elapsed
        LOG.info("Epoch[%d] Train-accuracy=%f", epoch, metric.accuracy)
        if self.hp.top_k and not self.hp.multi_label:
            LOG.info("Epoch[%d] Train-top_k_accuracy_%d=%f", epoch, self.hp.top_k, metric.top_k_accuracy)
            self.top_k_accuracy = metric.top_k_accuracy
        LOG.info("Epoch[%d] Time cost=%.3f", epoch, elapsed)
        return metric.accuracy

    def validate(self, epoch: int) -> float | None:
        if self.val_iter is None:
            return None
        metric, module, run = self.val_metric, self.module, self.run_
        metric.reset()
        self.val_iter.reset()
        for batch in self.val_iter:
            self.ctrl_c.check()
            labels = batch.label[0].asnumpy()
            if run.job.validation.is_stream:
                check_batch_labels(self.hp, labels[: len(labels) - batch.pad], run.job.validation)
            module.forward(batch, is_train=False)
            metric.update(module.get_outputs()[run.output_index].asnumpy(), labels, batch.pad)
        if metric.count == 0:
            require_nonempty(run.job.validation, 0, self.hp)
        LOG.info("Epoch[%d] Validation-accuracy=%f", epoch, metric.accuracy)
        return metric.accuracy



class _CtrlC:
    """Ctrl-C during the epochs, never lost. Python raises ``KeyboardInterrupt`` wherever the main
    thread is; inside a finalizer (an MXNet array freed by the garbage collector: ``__del__``) it
    would be printed as ignored and training would go on. There the handler only notes the key,
    and the loop raises at the next batch (:meth:`check`). Installed only over Python's own
    handler, in the main thread."""

    def __init__(self) -> None:
        self.pressed = False
        self.previous = None

    def __enter__(self) -> "_CtrlC":
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._pressed)
        return self

    def _pressed(self, signum, frame) -> None:
        self.pressed = True
        while frame is not None:
            if frame.f_code.co_name == "__del__":
                return  # a finalizer would drop the exception: check() raises it next
            frame = frame.f_back
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _Speedometer:
    """Off a terminal (no progress bar), a log line every :attr:`FREQUENT` batches as SageMaker's
    algorithm (MXNet's ``Speedometer``) writes them: ``Epoch[0] Batch [20]\tSpeed: 123.45 samples/sec\t
    accuracy=0.500000`` (the speed since the previous line, the accuracy so far in the epoch)."""

    FREQUENT = 20

    def __init__(self, epoch: int, *, enabled: bool):
        self.epoch, self.enabled = epoch, enabled
        self.tic, self.samples = time.time(), 0

    def batch_end(self, step: int, samples: int, accuracy: float) -> None:
        """After batch ``step`` (0-based), with ``samples`` images seen in the epoch so far."""
        if not self.enabled or step == 0 or step % self.FREQUENT:
            return
        now = time.time()
        speed = (samples - self.samples) / max(now - self.tic, 1e-9)
        LOG.info("Epoch[%d] Batch [%d]\tSpeed: %.2f samples/sec\taccuracy=%f", self.epoch, step, speed, accuracy)
        self.tic, self.samples = now, samples


class EarlyStopping:
    """SageMaker's early stopping: after ``early_stopping_min_epochs``, stop once validation accuracy
    has not improved by more than ``early_stopping_tolerance`` (relative) for ``early_stopping_patience``
    epochs."""

    def __init__(self, hp: Hyperparameters):
        self.hp = hp
        self.best: float | None = None
        self.stale = 0

    def update(self, epoch: int, accuracy: float | None) -> bool:
        """True when training should stop after ``epoch`` (0-based)."""
        hp = self.hp
        if not hp.early_stopping or accuracy is None:
            return False
        if self.best is None or (accuracy - self.best) / max(self.best, 1e-12) > hp.early_stopping_tolerance:
            self.best, self.stale = accuracy, 0
        else:
            self.stale += 1
        return epoch + 1 >= hp.early_stopping_min_epochs and self.stale >= hp.early_stopping_patience


def _digest(arg_params: dict) -> str:
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(arg_params):
        digest.update(name.encode())
        digest.update(arg_params[name].asnumpy().tobytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _progress(enabled: bool, total: int | None, description: str):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="batch", leave=False, disable=not enabled, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
