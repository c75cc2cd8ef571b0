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

from .augment import plan_sample
from .batch import Batch, LoaderStats, SkipReporter
from .decode import Decoder
from .gpu_decode import DECODERS, _has_module, make_decoder, pick_decoder
from .gpu_ops import render_batch, to_device
from .options import make_preprocess
from .pipeline import sample_random
from .planner import Planner
from .sources import open_rec_file, open_source, read_file, split_record


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


_GPU_OPTIONS = {"root", "idx", "label_width", "mean", "std", "strict", "shuffle_buffer", "apply_exif", "epoch", "max_warnings"}


class _Item:
    __slots__ = ("index", "key", "encoded", "decoded", "plan", "labels", "orientation", "jpeg", "where")


class GpuImageLoader:
    """Like :class:`~icformat.loader.ImageLoader`, decoding and augmenting on ``device``.

    Extra arguments: ``device`` (``"cuda"``, ``"cuda:1"``; ``"cpu"`` runs the same tensor
    pipeline on the CPU, for tests), ``decoder`` (``auto``: torchvision's nvJPEG if installed,
    else nvImageCodec), ``prefetch`` (batches read ahead by the reader thread). Batches hold
    ``torch`` tensors on ``device``; ``uses_gpu`` is False when the CPU loader runs instead.
    ``profile=True`` waits for the GPU after decoding and after rendering each batch, to fill
    ``timing`` (seconds in decode, seconds in all); it costs some overlap, so leave it off for speed.
    """

    def __init__(
        self,
        source: Any,
        batch_size: int,
        data_shape,
        resize: int | None = None,
        augmentation_type=None,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int | None = None,
        dtype: str = "float32",
        num_parts: int = 1,
        part_index: int = 0,
        last_batch: str = "keep",
        *,
        device: str = "cuda",
        decoder: str = "auto",
        prefetch: int = 2,
        profile: bool = False,
        **options,
    ):
        reason = _why_not(str(device), decoder)
        self.uses_gpu = reason is None
        self.fallback_reason = reason
        self._cpu = None
        if reason is not None:
            from .loader import ImageLoader

            warnings.warn(f"GPU loader unavailable ({reason}); using the CPU loader", GpuFallbackWarning, stacklevel=2)
            self._cpu = ImageLoader(
                source, batch_size, data_shape, resize, augmentation_type, shuffle, seed, num_workers, dtype,
                num_parts, part_index, last_batch, **options,
            )
            self.batch_size, self.prep, self.stats = self._cpu.batch_size, self._cpu.prep, self._cpu.stats
            self.decoder_name = None
            return
        import torch

        unknown = set(options) - _GPU_OPTIONS
        if unknown:
            raise TypeError(f"GpuImageLoader got unexpected arguments: {', '.join(sorted(unknown))}")
        self.batch_size = int(batch_size)
        self.prep = make_preprocess(
            data_shape, resize=resize, augmentation_type=augmentation_type, dtype=dtype,
            mean=options.get("mean"), std=options.get("std"), apply_exif=options.get("apply_exif", True),
        )
        self.device = torch.device(device)
        self.decoder_name = pick_decoder(decoder, str(device))
        self._decode = make_decoder(self.decoder_name, self.device, self.prep.channels)
        width = options.get("label_width")
        self.source = open_source(source, root=options.get("root"), idx=options.get("idx"), label_width=width)
        if options.get("label_width") is not None:
            self.source.label_width = int(options["label_width"])
        self.planner = Planner(
            self.source, self.batch_size, shuffle=shuffle, seed=seed, num_parts=num_parts, part_index=part_index,
            last_batch=last_batch, shuffle_buffer=options.get("shuffle_buffer", 1024),
        )
        self.seed = int(seed)
        self.strict = bool(options.get("strict", False))
        self.epoch = int(options.get("epoch", 0))
        self.prefetch = max(1, int(prefetch))
        self.stats = LoaderStats()
        self._skips = SkipReporter(self.stats, options.get("max_warnings", 10))
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
        return len(self._cpu) if self._cpu is not None else len(self.planner)

    @property
    def label_width(self) -> int | None:
        return self._cpu.label_width if self._cpu is not None else self.source.label_width

    def set_epoch(self, epoch: int) -> None:
        if self._cpu is not None:
            self._cpu.set_epoch(epoch)
        else:
            self.epoch = int(epoch)

    def close(self) -> None:
        if self._cpu is not None:
            self._cpu.close()
            return
        self._closed = True
        self._stop_reader()
        if self._rec is not None:
            self._rec.close()
            self._rec = None

    def __enter__(self) -> "GpuImageLoader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Batch]:
        if self._cpu is not None:
            return iter(self._cpu)
        if self._closed:
            raise ValueError("the loader is closed")
        epoch = self.epoch
        self.epoch += 1
        return self._iterate(epoch)

    # ---- reading (a background thread) ----------------------------------------------------

    def _fetch(self, planned, i: int):
        kind = self.source.kind
        if kind == "rec":
            if self._rec is None:
                self._rec = open_rec_file(self.source.spec)
            offset = int(planned.refs[i, 0])
            return self._rec.at(offset), f"{self.source.path}@{offset}"
        if kind == "lst":
            return read_file(self.source.root, planned.refs[i]), f"{self.source.root}/{planned.refs[i]}"
        return planned.payloads[i], f"<stream> record {int(planned.keys[i])}"

    def _read_batch(self, epoch: int, planned) -> tuple[list, list]:
        """Items ready for the device, and ``(index, message)`` for each record skipped."""
        import torch

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
                        raise ValueError(f"label does not have {self.source.label_width} value(s)")
                else:
                    image, labels = split_record(record, self.source.label_width or 1)
                height, width, orientation = self._size_reader.size(image)
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
                    if self.strict:
                        from .loader import BadRecordError

                        raise BadRecordError(message)
                    self._skips.skip(message)
                if not items:
                    continue
                data = self._render(items)
                labels = self._labels(items)
                if self.profile:
                    self._sync()
                    self.timing["total_s"] += time.perf_counter() - start
                    self.timing["images"] += len(items)
                self.stats.batches += 1
                self.stats.samples += len(items)
                pad = max(0, planned.pad - sum(1 for i, _ in bad if i >= len(planned.keys) - planned.pad))
                keys = np.asarray([item.key for item in items], np.int64)
                yield Batch(data, labels, pad=pad, epoch=epoch, index=number, keys=keys)
                number += 1
            self._skips.end_epoch(epoch)
            self.stats.epochs += 1
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
