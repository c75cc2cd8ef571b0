"""GPU path: JPEG decoding with nvJPEG and augmentation on the GPU, batches as GPU tensors.

Importing this module needs neither PyTorch nor CUDA. :class:`GpuImageLoader` takes the same
arguments as :class:`~icformat.loader.ImageLoader`; where PyTorch, CUDA or a GPU decoder is
missing it says so with a :class:`GpuFallbackWarning` and runs the CPU loader instead (NumPy
batches, DLPack-capable like the GPU tensors).

On the GPU, one thread of the calling process reads each batch's records and draws the same
augmentation plans as the CPU loader (same order, same random streams), while the GPU decodes
the batch (``torchvision.io.decode_jpeg(device="cuda")`` or NVIDIA nvImageCodec) and renders
every crop, warp and mirror with one batched ``affine_grid`` and a ``grid_sample`` per image,
then the colour jitter and normalisation for the whole batch.
"""
from __future__ import annotations

import queue
import threading
import warnings
from typing import Any, Iterator

import numpy as np

from ..errors import BadRecordError, UsageError
from .augment import plan_sample
from .base import LoaderBase, bind_arguments
from .batch import Batch
from .decode import Decoder
from .gpu_decode import DECODERS, _has_module, make_decoder, pick_decoder
from .gpu_ops import render_batch, to_device
from .pipeline import sample_random
from .sources import image_and_labels, open_rec_file, read_file


class GpuFallbackWarning(UserWarning):
    """The GPU loader is not available here; the CPU loader runs instead."""


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def cuda_available() -> bool:
    """True when PyTorch is installed and sees a CUDA device."""
    torch = _torch()
    return bool(torch is not None and torch.cuda.is_available())


def _why_not(device: str, decoder: str) -> str | None:
    torch = _torch()
    if torch is None:
        return "PyTorch is not installed"
    if device.startswith("cuda") and not torch.cuda.is_available():
        return "no CUDA device is visible to PyTorch"
    try:
        pick_decoder(decoder, device)
    except LookupError as exc:
        return str(exc)
    return None


# ---- the loader ---------------------------------------------------------------------------


_CPU_ONLY = {"backend", "start_method", "worker_timeout"}  # ImageLoader options that mean nothing on the GPU path


class _Item:
    __slots__ = ("index", "key", "encoded", "decoded", "plan", "labels", "orientation", "jpeg", "where")


class GpuImageLoader(LoaderBase):
    """Like :class:`~icformat.loader.ImageLoader`, decoding and augmenting on ``device``.

    Extra arguments: ``device`` (``"cuda"``, ``"cuda:1"``; ``"cpu"`` runs the same tensor
    pipeline on the CPU, for tests), ``decoder`` (``auto``: torchvision's nvJPEG if installed,
    else nvImageCodec), ``prefetch`` (batches read ahead by the reader thread). Batches hold
    ``torch`` tensors on ``device``; ``uses_gpu`` is False when the CPU loader runs instead.
    ``profile=True`` waits for the GPU after decoding and after rendering each batch, to fill
    ``timing`` (seconds in decode, seconds in all); it costs some overlap, so leave it off for speed.
    """

    def __init__(self, source: Any, batch_size: int, data_shape, *args, device: str = "cuda", decoder: str = "auto",
                 prefetch: int = 2, profile: bool = False, **options):
        from .loader import ImageLoader

        arguments = bind_arguments(ImageLoader.__init__, source, batch_size, data_shape, *args, prefetch=prefetch, **options)
        reason = _why_not(str(device), decoder)
        self.uses_gpu = reason is None
        self.fallback_reason = reason
        self._cpu = None
        if reason is not None:
            warnings.warn(f"GPU loader unavailable ({reason}); using the CPU loader", GpuFallbackWarning, stacklevel=2)
            self._cpu = ImageLoader(**arguments)
            self.batch_size, self.prep, self.stats = self._cpu.batch_size, self._cpu.prep, self._cpu.stats
            self.decoder_name = None
            return
        import torch

        unused = set(options) & _CPU_ONLY
        if unused:
            raise UsageError(f"GpuImageLoader does not take: {', '.join(sorted(unused))} (CPU loader options)")
        self._configure(arguments)
        self.device = torch.device(device)
        self.decoder_name = pick_decoder(decoder, str(device))
        self._decode = make_decoder(self.decoder_name, self.device, self.prep.channels)
        self.prefetch = max(1, int(prefetch))
        self._rec = None
        self._cpu_decoder = Decoder(self.prep.channels, apply_exif=self.prep.apply_exif)
        self._size_reader = Decoder(self.prep.channels, apply_exif=self.prep.apply_exif)
        self._closed = False
        self._stop: threading.Event | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self.profile = bool(profile)
        self.timing = {"decode_s": 0.0, "total_s": 0.0, "images": 0}  # filled when profile is True

    # ---- common surface -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._cpu) if self._cpu is not None else super().__len__()

    @property
    def label_width(self) -> int | None:
        return self._cpu.label_width if self._cpu is not None else self.source.label_width

    @property
    def num_samples(self) -> int | None:
        return self._cpu.num_samples if self._cpu is not None else self.planner.num_samples

    @property
    def num_batches(self) -> int | None:
        return self._cpu.num_batches if self._cpu is not None else self.planner.num_batches

    def set_epoch(self, epoch: int) -> None:
        if self._cpu is not None:
            self._cpu.set_epoch(epoch)
        else:
            super().set_epoch(epoch)

    def close(self) -> None:
        if self._cpu is not None:
            self._cpu.close()
            return
        self._closed = True
        self._stop_reader()
        if self._rec is not None:
            self._rec.close()
            self._rec = None

    def __iter__(self) -> Iterator[Batch]:
        if self._cpu is not None:
            return iter(self._cpu)
        if self._closed:
            raise UsageError("the loader is closed")
        return self._iterate(self._next_epoch())

    # ---- reading (a background thread) ----------------------------------------------------

    def _fetch(self, planned, i: int):
        kind = self.source.kind
        if kind == "rec":
            if self._rec is None:
                self._rec = open_rec_file(self.source.spec)
            offset, span = planned.refs[i].tolist()
            return self._rec.read_at(offset, span), f"{self.source.path}@{offset}"
        if kind == "lst":
            return read_file(self.source.root, planned.refs[i]), f"{self.source.root}/{planned.refs[i]}"
        return planned.payloads[i], f"<stream> record {int(planned.keys[i])}"

    def _read_batch(self, epoch: int, planned) -> tuple[list, list]:
        """Items ready for the device, and ``(index, message)`` for each record skipped."""
        import torch

        from ..image.budget import check_jpeg
        from ..image.decode import is_jpeg

        items, bad = [], []
        prep = self.prep
        for i, key in enumerate(planned.keys.tolist()):
            where = "<record>"
            try:
                record, where = self._fetch(planned, i)
                if planned.labels is not None:
                    image, labels = record, planned.labels[i]
                    if np.isnan(labels).any():
                        raise BadRecordError(f"label does not have {self.source.label_width} value(s)")
                else:
                    image, labels = image_and_labels(record, self.source.label_width or 1)
                height, width, orientation = self._size_reader.size(image)
                if is_jpeg(image):  # decoded whole on the device: the budget applies to the full size
                    check_jpeg(image, self._size_reader.max_pixels)
                rng = sample_random(self.seed, epoch, key) if prep.augment.random else None
                item = _Item()
                item.index, item.key, item.where = i, key, where
                item.plan = plan_sample(height, width, prep, rng)
                item.labels = np.asarray(labels, np.float32)
                item.orientation = orientation
                item.jpeg = is_jpeg(image)
                item.encoded = torch.from_numpy(np.frombuffer(image, np.uint8).copy())
                items.append(item)
            except Exception as exc:
                bad.append((i, f"{where}: {exc}" if where not in str(exc) else str(exc)))
        return items, bad

    def _read_epoch(self, epoch: int, out: queue.Queue, stop: threading.Event) -> None:
        try:
            for planned in self.planner.plan(epoch):
                if stop.is_set():
                    return
                out.put((planned, *self._read_batch(epoch, planned)))
            out.put(None)
        except BaseException as exc:  # handed to the consumer
            out.put(exc)

    def _start_reader(self, epoch: int) -> queue.Queue:
        self._stop_reader()
        batches: queue.Queue = queue.Queue(self.prefetch)
        self._stop = threading.Event()
        self._queue = batches
        self._thread = threading.Thread(
            target=self._read_epoch, args=(epoch, batches, self._stop), daemon=True, name="icformat-gpu-reader"
        )
        self._thread.start()
        return batches

    def _stop_reader(self) -> None:
        """Stop the reader thread (it may be blocked on a full queue: empty it until it ends)."""
        if self._thread is None:
            return
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(0.05)
        self._thread = None

    # ---- the epoch --------------------------------------------------------------------------

    def _iterate(self, epoch: int) -> Iterator[Batch]:
        import time

        batches = self._start_reader(epoch)
        thread = self._thread
        self._skips.start_epoch()
        number = 0
        try:
            while True:
                if self._thread is not thread:
                    raise RuntimeError("this epoch's iterator was superseded by a newer one (or the loader closed)")
                got = batches.get()
                if got is None:
                    break
                if isinstance(got, BaseException):
                    raise got
                planned, items, bad = got
                start = time.perf_counter()
                items, more_bad = self._decode_items(items)
                bad = bad + more_bad
                for _, message in bad:
                    self._bad_record(message)
                if not items:
                    continue
                data = self._render(items)
                labels = self._labels(items)
                if self.profile:
                    self._sync()
                    self.timing["total_s"] += time.perf_counter() - start
                    self.timing["images"] += len(items)
                self._delivered(len(items))
                pad = max(0, planned.pad - sum(1 for i, _ in bad if i >= len(planned.keys) - planned.pad))
                keys = np.asarray([item.key for item in items], np.int64)
                yield Batch(data, labels, pad=pad, epoch=epoch, index=number, keys=keys)
                number += 1
            self._epoch_done(epoch)
        finally:
            if self._thread is thread:
                self._stop_reader()

    def _decode_items(self, items: list) -> tuple[list, list]:
        """Decode every item on the device (``item.decoded``); a failing item is dropped and reported."""
        import time

        start = time.perf_counter()
        fast = [it for it in items if it.jpeg and it.orientation == 1]
        slow = [it for it in items if not (it.jpeg and it.orientation == 1)]
        bad = []
        if fast:
            try:
                for it, image in zip(fast, self._decode([it.encoded for it in fast])):
                    it.decoded = image
            except Exception:  # find the culprits one by one
                for it in fast:
                    try:
                        it.decoded = self._decode([it.encoded])[0]
                    except Exception as exc:
                        it.decoded = None
                        bad.append((it, f"{it.where}: cannot decode image: {exc}"))
        for it in slow:  # not JPEG, or rotated by EXIF: libjpeg-turbo/Pillow on the CPU
            try:
                array = np.array(self._cpu_decoder.decode(it.encoded.numpy(), 0, 0, it.orientation))
                it.decoded = to_device(array, self.device)
            except Exception as exc:
                it.decoded = None
                bad.append((it, f"{it.where}: {exc}"))
        if self.profile:
            self._sync()
            self.timing["decode_s"] += time.perf_counter() - start
        return [it for it in items if it.decoded is not None], [(it.index, msg) for it, msg in bad]

    def _sync(self) -> None:
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def _render(self, items: list):
        return render_batch(items, self.prep, self.device)

    def _labels(self, items: list):
        import torch

        labels = torch.from_numpy(np.stack([it.labels for it in items]))
        if labels.shape[1] == 1:
            labels = labels[:, 0]
        return labels.to(self.device)


def gpu_summary() -> dict:
    """What the GPU path would use here (for reports and the benchmark)."""
    torch = _torch()
    info: dict = {"torch": getattr(torch, "__version__", None), "cuda": cuda_available()}
    if info["cuda"]:
        info["device"] = torch.cuda.get_device_name(0)
    info["torchvision"] = _has_module("torchvision")
    info["nvimgcodec"] = _has_module("nvidia.nvimgcodec")
    return info


__all__ = ["GpuImageLoader", "GpuFallbackWarning", "cuda_available", "pick_decoder", "gpu_summary", "DECODERS"]
