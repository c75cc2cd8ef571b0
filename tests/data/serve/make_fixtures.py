"""Regenerate the ONNX fixtures the core environment (no MXNet) tests onnxruntime with.

Run in the full environment (MXNet 1.9.1 + onnx 1.14.1), from the repository root:

    PYTHONPATH=. .venv/bin/python tests/data/serve/make_fixtures.py

It writes, beside this script: two small real photos (``photo-0.jpg``, ``photo-1.png``), the test
network of ``tests/serve_models.py`` (seeded, so the same every time) exported by ``icformat export``
as ``tiny-resnet.onnx`` (softmax) and ``tiny-resnet-ml.onnx`` (multi-label, sigmoid), and
``expected.json``: the probabilities MXNet's unfused path (a module bound for training) gives for the
photos after icformat's preprocessing. ``tests/test_serve_onnx_fixture.py`` checks in the full
environment that this script still reproduces the committed files.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # tests/ for serve_models

PHOTOS = {"photo-0.jpg": "chelsea", "photo-1.png": "coffee"}
MODELS = {"tiny-resnet.onnx": False, "tiny-resnet-ml.onnx": True}
CLASSES = ["cat", "coffee", "dog", "rocket"]  # stored in tiny-resnet.onnx's metadata


def write_photos(folder: str) -> list[str]:
    """Two real photos, downscaled to 60x45, as a JPEG and a PNG."""
    from PIL import Image

    from icformat import samples

    photos = samples.sample_photos()
    paths = []
    for name, key in PHOTOS.items():
        image = Image.fromarray(photos[key]).resize((60, 45), Image.Resampling.BICUBIC)
        path = os.path.join(folder, name)
        image.save(path, quality=90) if name.endswith(".jpg") else image.save(path)
        paths.append(path)
    return paths


def build(folder: str) -> dict:
    """Write every fixture into ``folder``; returns the expected probabilities per model and photo."""
    import numpy as np
    import serve_models as sm

    from icformat.serve import preprocess
    from icformat.serve.onnx_export import export_onnx
    from icformat.mxnet_runtime import import_mxnet

    mx = import_mxnet()
    paths = write_photos(folder)
    batch = np.stack([preprocess(open(p, "rb").read(), sm.IMAGE_SHAPE) for p in paths])
    expected = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, multi_label in MODELS.items():
            tarball = sm.write_model(mx, os.path.join(tmp, "model.tar.gz"), multi_label=multi_label)
            classes = None
            if not multi_label:
                classes = os.path.join(tmp, "model.classes")
                with open(classes, "w") as f:
                    f.write("\n".join(CLASSES) + "\n")
            export_onnx(tarball, os.path.join(folder, name), classes=classes)
            probs = sm.oracle_probabilities(mx, tarball, batch)
            expected[name] = {os.path.basename(p): [float(v) for v in row] for p, row in zip(paths, probs)}
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    return expected


if __name__ == "__main__":
    build(HERE)
    print(f"fixtures written to {HERE}")
