"""Which epochs are kept, and the final ``model.tar.gz``.

Without ``checkpoint_frequency`` the best epoch by validation accuracy is kept (the last epoch when
there is no validation channel); with it, every N-th epoch. Checkpoints go to a work folder; the
archive is written once, atomically, at the end (an interrupted run leaves the previous one).
"""
from __future__ import annotations

import logging
import os

from .artifacts import params_file, write_model_tarball
from .hyperparameters import Hyperparameters
from ..mxnet_runtime import import_mxnet

LOG = logging.getLogger("icformat.train")


class CheckpointKeeper:
    """Saves ``(symbol, arg_params, aux_params)`` per epoch as SageMaker's policy says."""

    def __init__(self, hp: Hyperparameters, folder: str, symbol, *, write: bool = True):
        self.hp, self.folder, self.symbol, self.write = hp, folder, symbol, write
        self.prefix = os.path.join(folder, "image-classification")
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.kept: list[int] = []  # checkpoint numbers (epoch + 1, MXNet's file numbering) in the folder
        self.reason = ""  # why those were kept, in words
        self._last: tuple | None = None

    def end_epoch(self, epoch: int, get_params, validation_accuracy: float | None) -> None:
        """After ``epoch`` (0-based): keep its params when the policy says so."""
        number = epoch + 1
        if self.hp.checkpoint_frequency:
            if number % self.hp.checkpoint_frequency == 0:
                self.reason = f"every {self.hp.checkpoint_frequency} epoch(s) (checkpoint_frequency)"
                self._save(number, get_params())
            else:
                self._last = (number, get_params)
            return
        if validation_accuracy is None:
            self._last = (number, get_params)
            return
        if self.best is None or validation_accuracy > self.best:
            self.best, self.best_epoch = validation_accuracy, number
            self.reason = f"the best validation accuracy ({validation_accuracy:f})"
            LOG.info("Storing the best model with validation accuracy: %f", validation_accuracy)
            for old in self.kept:
                _remove(os.path.join(self.folder, params_file(old)))
            self.kept = []
            self._save(number, get_params())

    def finish(self) -> list[int]:
        """The checkpoint numbers (epoch + 1) to archive; the last epoch when the policy kept none (no validation channel,
        or early stopping before the first periodic checkpoint)."""
        if not self.kept and self._last is not None:
            number, get_params = self._last
            self.reason = ("the last epoch (checkpoint_frequency saved none before the end)" if self.hp.checkpoint_frequency
                           else "the last epoch (no validation channel to choose the best by)")
            self._save(number, get_params())
        return list(self.kept)

    def _save(self, number: int, params: tuple[dict, dict]) -> None:
        if not self.write:
            self.kept.append(number)
            return
        mx = import_mxnet()
        arg, aux = params
        wanted = set(self.symbol.list_arguments())
        mx.model.save_checkpoint(self.prefix, number, self.symbol, {k: v for k, v in arg.items() if k in wanted}, aux)
        self.kept.append(number)


def write_artifact(dest: str, folder: str, epochs: list[int], data_shape: tuple[int, ...]) -> None:
    """``model.tar.gz`` at ``dest`` (local or ``s3://``), complete or not at all."""
    write_model_tarball(dest, folder, epochs, data_shape)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
