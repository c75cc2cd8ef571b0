"""Issue 22, item 9: ``im2rec --resize`` gives the same bytes with or without OpenCV.

The default interpolation is im2rec.py's bilinear (``cv2.resize``'s sample points); OpenCV's
bit-exact bilinear runs when it is installed and the same fixed-point arithmetic in numpy otherwise.
A property test holds the two to the same bytes; an end-to-end run packs real photos twice on each
JPEG path (the YUV planes and the RGB path), once in a process where ``import cv2`` fails.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from icformat import samples
from icformat.im2rec.pack import PackOptions
from icformat.image import transcode
from icformat.lst.make import make_lst

from .conftest import FULL_ENV, HAS_MXNET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
resize_module = importlib.import_module("icformat.image.resize")

if FULL_ENV or HAS_MXNET:  # the full environment installs OpenCV (the train extra): it must import there
    import cv2  # noqa: F401
else:
    cv2 = pytest.importorskip("cv2", reason="OpenCV not installed (core environment): nothing to compare against")

WITHOUT_OPENCV = "import sys; sys.modules['cv2'] = None; from icformat.cli import main; sys.exit(main(sys.argv[1:]))"


def _numpy_only(*args, **kwargs) -> np.ndarray:
    saved, resize_module._CV2 = resize_module._CV2, False
    try:
        return resize_module.resize_linear(*args, **kwargs)
    finally:
        resize_module._CV2 = saved


images = st.tuples(st.integers(1, 70), st.integers(1, 70), st.sampled_from([0, 1, 3, 4]), st.integers(0, 2**32 - 1))


@settings(max_examples=300, deadline=None)
@given(images, st.integers(1, 90), st.integers(1, 90), st.booleans())
def test_numpy_bilinear_is_opencvs_bit_exact_bilinear(image, height, width, halve):
    h, w, channels, seed = image
    array = np.random.default_rng(seed).integers(0, 256, (h, w) + ((channels,) if channels else ()), dtype=np.uint8)
    if halve:  # exactly 2x smaller: OpenCV takes its area-averaging shortcut there
        height, width = max(1, h // 2), max(1, w // 2)
    with_opencv = resize_module.resize_linear(array, height, width)
    assert resize_module.opencv() is not None
    assert with_opencv.shape == _numpy_only(array, height, width).shape
    assert np.array_equal(with_opencv, _numpy_only(array, height, width))


@settings(max_examples=200, deadline=None)
@given(images, st.integers(1, 90), st.integers(1, 90), st.floats(0.3, 3.0), st.floats(0.3, 3.0))
def test_numpy_bilinear_matches_opencv_with_scale_factors(image, height, width, fy, fx):
    h, w, channels, seed = image
    array = np.random.default_rng(seed).integers(0, 256, (h, w) + ((channels,) if channels else ()), dtype=np.uint8)
    fast = resize_module.resize_linear(array, height, width, inv_scale=(fy, fx))
    assert np.array_equal(fast, _numpy_only(array, height, width, inv_scale=(fy, fx)))


def test_bilinear_samples_like_im2rec(photos):
    """Pixel centres and no antialiasing, as ``cv2.resize(img, newsize)`` in im2rec.py: within one
    level of OpenCV's INTER_LINEAR (11-bit weights), where an antialiasing filter is far off."""
    photo = photos["chelsea"]
    ours = resize_module.resize(photo, 96, 144).astype(int)
    im2rec = cv2.resize(photo, (144, 96), interpolation=cv2.INTER_LINEAR).astype(int)
    assert np.abs(ours - im2rec).max() <= 1
    boxed = resize_module.resize(photo, 96, 144, method="box").astype(int)
    assert np.abs(boxed - im2rec).max() > 16


@pytest.fixture(scope="module")
def listed_photos(tmp_path_factory) -> tuple[str, str]:
    work = tmp_path_factory.mktemp("resize-bytes")
    root = str(work / "photos")
    samples.write_photo_tree(root, classes=2, per_class=5, seed=4)
    make_lst(str(work / "s"), root, recursive=True)
    return str(work / "s.lst"), root


@pytest.mark.parametrize("path", ["yuv", "rgb"])
@pytest.mark.parametrize("args", [["--resize", "57"], ["--resize", "33", "--center-crop"], ["--resize", "700"],
                                  ["--resize", "101", "--color", "0"]])
def test_im2rec_resize_same_bytes_without_opencv(listed_photos, tmp_path, path, args):
    if path == "yuv" and not transcode.available():
        pytest.fail(f"the YUV path cannot run here: {transcode.unavailable_reason()}")
    lst, root = listed_photos
    env = dict(os.environ, PYTHONPATH=REPO, ICFORMAT_JPEG_PATH=path)
    outputs = []
    for name, code in (("with", None), ("without", WITHOUT_OPENCV)):
        command = [sys.executable, "-m", "icformat"] if code is None else [sys.executable, "-c", code]
        done = subprocess.run([*command, "im2rec", lst, root, "-o", str(tmp_path / name / "x"), *args],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert ("turbojpeg-yuv" if path == "yuv" else "rgb (simplejpeg)") in done.stdout
        outputs.append((tmp_path / name / "x.rec").read_bytes())
    assert outputs[0] == outputs[1]


def test_interpolation_is_checked():
    assert PackOptions(resize=10, resize_method="lanczos").resize_method == "lanczos"
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'; use one of bilinear, bicubic"):
        PackOptions(resize=10, resize_method="cubic")
