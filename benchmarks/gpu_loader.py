#!/usr/bin/env python3
"""GPU loader: check it against the CPU loader, then time it (images/s, share of time in decode).

Prepared to run in one short call on a machine with a CUDA GPU (PyTorch plus torchvision and/or
nvidia-nvimgcodec installed): same .rec of ImageNet-size JPEGs as benchmarks/loader.py, data_shape
3x224x224, resize 256, float32.
  1. check: centre crop (no augmentation), first batches, GPU vs CPU loader sample by sample
     (mean absolute difference on the 0-255 scale; bilinear vs OpenCV's bilinear: under 1.5;
     a failed check is reported, and the timings still run);
  2. speed: random crop + mirror, best of two epochs after a warm-up, for each GPU decoder that
     is installed (torchvision's nvJPEG, nvImageCodec), beside the CPU loader on all cores;
  3. decode share: seconds in batched GPU decode over seconds in the whole GPU pipeline;
  4. a plain torchvision pipeline on the same .rec in the same run (records read in order,
     ``decode_jpeg(device="cuda")`` on each batch, then per image a shorter-side resize to 256, a
     random 224x224 crop and a random mirror on the GPU, stacked to float32): the anchor users
     would write themselves, and the target of at least 10,000 images/s on one H100-class GPU;
  5. the host-side ceiling: the GpuImageLoader's reader thread alone (read, parse headers, draw
     the plans), which bounds the whole loader whatever the GPU does.
Without a GPU it says so and exits 0 with no figures (``--device cpu`` runs the same tensor
pipeline on the CPU, with the CPU decoder, to check the script itself).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np  # noqa: E402
from icformat.benchmarks._report import Report, emit  # noqa: E402
from icformat.benchmarks._report import work_dir  # noqa: E402
from icformat.benchmarks.loader import RESIZE, SHAPE, build_rec, cores  # noqa: E402


def check(rec: str, device: str, decoder: str, batch: int, batches: int) -> dict:
    from icformat.loader import ImageLoader
    from icformat.loader.gpu import GpuImageLoader

    kw = dict(resize=RESIZE, shuffle=False)
    diffs = []
    with GpuImageLoader(rec, batch, SHAPE, device=device, decoder=decoder, **kw) as gpu, ImageLoader(
        rec, batch, SHAPE, num_workers=cores(), **kw
    ) as cpu:
        for number, (a, b) in enumerate(zip(gpu, cpu)):
            if not np.array_equal(a.keys, b.keys):
                raise SystemExit("check failed: the GPU and CPU loaders read different records")
            diffs += np.abs(a.data.cpu().numpy() - b.data).mean(axis=(1, 2, 3)).tolist()
            if number + 1 >= batches:
                break
        backend = cpu.backend
    return {"max": float(np.max(diffs)), "median": float(np.median(diffs)), "samples": len(diffs), "cpu_backend": backend}


def time_loader(make, epochs: int) -> tuple[float, dict]:
    with make() as loader:
        best, timing = 0.0, {}
        for epoch in range(epochs + 1):
            if hasattr(loader, "timing"):
                loader.timing.update(decode_s=0.0, total_s=0.0, images=0)
            images, start = 0, time.perf_counter()
            for data, _ in loader:
                images += len(data)
            if getattr(getattr(data, "device", None), "type", None) == "cuda":  # wait for the GPU
                import torch

                torch.cuda.synchronize()
            rate = images / (time.perf_counter() - start)
            if epoch and rate > best:
                best, timing = rate, dict(getattr(loader, "timing", {}))
    return best, timing


def plain_torchvision(rec: str, batch: int, device: str, epochs: int, seed: int = 0) -> float:
    """Images/s of a plain torchvision pipeline over the records of ``rec``: batched
    ``decode_jpeg`` on ``device``, then per image resize (shorter side 256), random crop, random
    mirror, stacked as float32 ``N x 3 x 224 x 224``. Best epoch after a warm-up epoch."""
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2 import functional as F

    from icformat.recordio import RecordReader, unpack

    with RecordReader(rec) as reader:
        payloads = [torch.frombuffer(bytearray(unpack(r)[1]), dtype=torch.uint8) for r in reader]
    gen = torch.Generator().manual_seed(seed)
    _, out_h, out_w = SHAPE
    best = 0.0
    for epoch in range(epochs + 1):
        start, images = time.perf_counter(), 0
        for first in range(0, len(payloads), batch):
            chunk = payloads[first : first + batch]
            decoded = decode_jpeg(chunk, mode=ImageReadMode.RGB, device=device)
            crops = []
            for image in decoded:
                image = F.resize(image, [RESIZE], antialias=False)
                h, w = image.shape[-2:]
                y = int(torch.randint(0, h - out_h + 1, (1,), generator=gen))
                x = int(torch.randint(0, w - out_w + 1, (1,), generator=gen))
                image = image[:, y : y + out_h, x : x + out_w]
                if torch.rand(1, generator=gen).item() < 0.5:
                    image = image.flip(-1)
                crops.append(image)
            data = torch.stack(crops).float()
            images += data.shape[0]
        if data.device.type == "cuda":
            torch.cuda.synchronize()
        rate = images / (time.perf_counter() - start)
        if epoch and rate > best:
            best = rate
    return best


def host_ceiling(rec: str, batch: int, device: str) -> float:
    """Images/s of the GpuImageLoader's reader thread alone (read, headers, plans; no decode)."""
    from icformat.loader.gpu import GpuImageLoader

    with GpuImageLoader(rec, batch, SHAPE, resize=RESIZE, augmentation_type="crop", device=device) as loader:
        if not loader.uses_gpu and device.startswith("cuda"):
            return float("nan")
        epoch = loader._next_epoch() if hasattr(loader, "_next_epoch") else 0
        images, start = 0, time.perf_counter()
        for planned in loader.planner.plan(epoch):
            items, _ = loader._read_batch(epoch, planned)
            images += len(items)
        return images / (time.perf_counter() - start)


def run(args) -> Report:
    from icformat.loader import ImageLoader
    from icformat.loader.gpu import GpuImageLoader, cuda_available, gpu_summary

    info = gpu_summary()
    report = Report(f"GPU loader on {info.get('device', args.device)}: ImageNet-size JPEGs -> 3x224x224 float32")
    if args.device.startswith("cuda") and not cuda_available():
        report.note = f"no CUDA GPU here (torch {info['torch'] or 'not installed'}): nothing measured"
        return report
    work = args.dir or work_dir("loader")
    os.makedirs(work, exist_ok=True)
    count = args.count or (256 if args.quick else 3000)
    rec = args.rec or build_rec(work, count)  # --rec: a .rec built elsewhere (no photo corpus needed here)
    epochs = 1 if args.quick else 2
    if args.device.startswith("cuda"):
        decoders = [d for d in ("torchvision", "nvimgcodec") if info[d]]
    else:
        decoders = ["simplejpeg"]
    if not decoders:
        report.note = "no GPU JPEG decoder installed (pip install torchvision or nvidia-nvimgcodec-cu12)"
        return report

    result = check(rec, args.device, decoders[0], args.batch_size, 2 if args.quick else 4)
    print(f"check vs CPU loader ({result['cpu_backend']}): mean |diff| per sample max {result['max']:.2f}, "
          f"median {result['median']:.2f} over {result['samples']} samples", file=sys.stderr)
    allowed = 1.5 if result["cpu_backend"] == "cv2" else 6.0  # bilinear vs bilinear, or vs Pillow's antialiased
    if result["max"] > allowed:  # reported, not fatal: the timings below are still worth having
        print(f"gpu_loader: CHECK FAILED: GPU output differs from the CPU loader: {json.dumps(result)}", file=sys.stderr)

    cpu_rate, _ = time_loader(
        lambda: ImageLoader(rec, args.batch_size, SHAPE, resize=RESIZE, augmentation_type="crop", num_workers=cores()),
        epochs,
    )
    notes = []
    for decoder in decoders:
        def make(profile: bool = False, decoder: str = decoder):
            return GpuImageLoader(rec, args.batch_size, SHAPE, resize=RESIZE, augmentation_type="crop",
                                  device=args.device, decoder=decoder, profile=profile)

        try:
            rate, _ = time_loader(make, epochs)
            _, timing = time_loader(lambda: make(profile=True), 1)  # waits for the GPU: timing only
        except Exception as exc:  # one decoder failing (a missing library) leaves the others measured
            notes.append(f"{decoder}: failed: {type(exc).__name__}: {exc}")
            print(f"gpu_loader: {notes[-1]}", file=sys.stderr)
            continue
        report.add(f"GpuImageLoader ({decoder})", rate, "img/s", f"CPU ImageLoader ({cores()} procs)", cpu_rate)
        if timing.get("total_s"):
            decode_rate = timing["images"] / timing["decode_s"]
            report.add(f"  {decoder} batched decode alone", decode_rate, "img/s", f"GpuImageLoader ({decoder})", rate)
            share = 100 * timing["decode_s"] / timing["total_s"]
            report.add("  share of GPU pipeline time in decode", share, "%", "whole GPU pipeline", 100.0)
    try:
        plain = plain_torchvision(rec, args.batch_size, args.device, epochs)
    except Exception as exc:
        notes.append(f"plain torchvision pipeline: failed: {type(exc).__name__}: {exc}")
        print(f"gpu_loader: {notes[-1]}", file=sys.stderr)
    else:
        for row in [r for r in report.rows if r.name.startswith("GpuImageLoader")]:
            report.add(f"{row.name} vs plain torchvision", row.value, "img/s", "plain torchvision pipeline", plain,
                       target=">= 1x")
        report.add("plain torchvision pipeline", plain, "img/s", f"CPU ImageLoader ({cores()} procs)", cpu_rate)
        best_gpu = max((r.value for r in report.rows if r.name.startswith("GpuImageLoader (")), default=0.0)
        if best_gpu:
            report.add("GpuImageLoader, best decoder", best_gpu, "img/s", "aim", 10_000.0, target=">= 1x")
    ceiling = host_ceiling(rec, args.batch_size, args.device)
    if ceiling == ceiling:
        report.add("  host side alone (reader thread)", ceiling, "img/s", f"CPU ImageLoader ({cores()} procs)", cpu_rate)
    if notes:
        report.note = "; ".join(notes)
    report.add(
        "check: mean |GPU - CPU| per sample (max)", result["max"], "/255", "allowed", allowed,
        higher_is_better=False, target=f"<= {allowed} /255",
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="256 images, one timed epoch")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", default=None, help="work folder (default: .bench/loader, shared with loader.py)")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--rec", default=None, help="an existing .rec (+ .idx) of JPEGs to use instead of building one")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu to check the script itself")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        data = report.to_json()
        if getattr(report, "note", None):
            data["note"] = report.note
        print(json.dumps([data], indent=2))
    else:
        if report.rows:
            emit([report], False)
        if getattr(report, "note", None):
            print(f"gpu_loader: {report.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
