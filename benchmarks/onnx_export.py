"""ONNX export fidelity and speed: ResNet-18 at 3x224x224 and ResNet-20 at 3x32x32 (the trainer's
networks, random weights with non-trivial BatchNorm statistics) exported by ``icformat export``;
``icformat predict`` on onnxruntime (run by the core environment's interpreter, numpy 2, no MXNet)
beside the same on MXNet, on the same real photos and cores, in one run. Probabilities must agree
to 1e-5 (the largest difference over all images and classes is reported).

    python benchmarks/onnx_export.py            # 96 images
    python benchmarks/onnx_export.py --quick    # 32 images, ResNet-20 only

(Named onnx_export.py: an ``onnx.py`` here would shadow the onnx package for every script in benchmarks/.)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np

from icformat.benchmarks._models import REPO, core_python, images, run_predict, write_resnet  # noqa: E402
from icformat.benchmarks._report import Report, emit, work_dir  # noqa: E402

TOLERANCE = 1e-5
MODELS = {"ResNet-18 3x224x224": (18, (3, 224, 224)), "ResNet-20 3x32x32": (20, (3, 32, 32))}

def _int8(core: str, onnx_path: str, paths: list[str], listing: str, work: str) -> tuple[float, np.ndarray]:
    """Quantize (calibrated on the first 16 photos) in the core env, then predict with it."""
    int8 = onnx_path.replace(".onnx", ".int8.onnx")
    env = {**os.environ, "PYTHONPATH": REPO}
    done = subprocess.run([core, "-m", "icformat", "export", "-m", onnx_path, "--quantize", "int8", "-o", int8,
                           *[a for p in paths[:16] for a in ("--calibration", p)]], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"quantization failed:\n{done.stderr[-2000:]}")
    return run_predict(core, int8, listing, os.path.join(work, "int8.npy"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="32 images, the small ResNet-20 only: a smoke run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--work", default=work_dir("onnx"))
    args = parser.parse_args(argv)
    core = core_python()
    if core is None:
        raise SystemExit("no core environment (make .venv-core, or set ICFORMAT_CORE_PYTHON) to run onnxruntime in")
    os.makedirs(args.work, exist_ok=True)
    paths = images(os.path.join(args.work, "images"), 32 if args.quick else 96)
    listing = os.path.join(args.work, "images.txt")
    with open(listing, "w") as f:
        f.write("\n".join(paths))
    from icformat.serve.onnx_export import export_onnx

    report = Report("ONNX: icformat export + predict on onnxruntime (core env) vs MXNet, same images and cores")
    models = {k: v for k, v in MODELS.items() if v[0] != 18} if args.quick else MODELS
    for name, (layers, shape) in models.items():
        tag = f"resnet{layers}-{shape[1]}"
        tarball = write_resnet(os.path.join(args.work, f"{tag}.tar.gz"), layers, shape)
        onnx_path = os.path.join(args.work, f"{tag}.onnx")
        export_onnx(tarball, onnx_path)
        mx_rate, mx_probs = run_predict(sys.executable, tarball, listing, os.path.join(args.work, "mx.npy"))
        ort_rate, ort_probs = run_predict(core, onnx_path, listing, os.path.join(args.work, "ort.npy"))
        diff = float(np.abs(mx_probs - ort_probs).max())
        report.add(f"{name}: predict on onnxruntime", ort_rate, "img/s", "predict on MXNet", mx_rate, target=">= 1x")
        report.add(f"{name}: max |p_ort - p_mxnet|", diff, "", f"tolerance ({len(paths)} photos)", TOLERANCE,
                   higher_is_better=False, target=f"<= {TOLERANCE:.5f}")
        if layers == 18:
            int8_rate, int8_probs = _int8(core, onnx_path, paths, listing, args.work)
            report.add(f"{name}: predict int8 on onnxruntime", int8_rate, "img/s", "float32 on onnxruntime", ort_rate)
            agree = float(np.mean(int8_probs.argmax(1) == ort_probs.argmax(1)))
            report.add(f"{name}: int8 same best class as float32", agree * 100, "%", "float32", 100)
    emit([report], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
