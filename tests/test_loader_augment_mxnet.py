"""The loader's augmentations against MXNet's own augmenters (``mx.image``), where MXNet exposes
the same operation: shorter-side resize (``ResizeAug``), centre crop (``CenterCropAug``), a crop at
a given place (``fixed_crop``, what ``RandomCropAug`` cuts), mirror (``HorizontalFlipAug``) and
mean/std normalisation (``ColorNormalizeAug``). MXNet's HLS jitter and warp live only inside
``ImageRecordIter``'s C++ augmenter, compared step by step in test_loader_augment.py."""
from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

from icformat import samples
from icformat.loader import frame_size, make_preprocess, plan_sample
from icformat.loader.pipeline import SampleProcessor, sample_random

pytestmark = pytest.mark.mxnet


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    from PIL import Image, ImageFilter

    _, image = next(samples.iter_variants(1, seed=3, size=(120, 90)))
    smooth = Image.fromarray(np.ascontiguousarray(image)).filter(ImageFilter.GaussianBlur(2))
    return simplejpeg.encode_jpeg(np.ascontiguousarray(np.asarray(smooth)), quality=98)


def _mx_image(mx, jpeg: bytes):
    return mx.nd.array(simplejpeg.decode_jpeg(jpeg), dtype="uint8")


def _close(ours: np.ndarray, theirs: np.ndarray, mean_below: float = 1.5) -> None:
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(np.float32) - theirs.astype(np.float32)).mean() < mean_below


def test_shorter_side_resize_is_resize_aug(mx, jpeg):
    image = _mx_image(mx, jpeg)
    theirs = mx.image.ResizeAug(64, interp=1)(image).asnumpy()
    h, w = frame_size(image.shape[0], image.shape[1], 64)
    assert theirs.shape[:2] == (h, w)
    ours, _ = SampleProcessor(make_preprocess((3, h, w), resize=64), backend="cv2").image(jpeg, 0, 0)
    _close(ours, theirs)


def test_centre_crop_is_center_crop_aug(mx, jpeg):
    image = mx.image.ResizeAug(64, interp=1)(_mx_image(mx, jpeg))
    theirs = mx.image.CenterCropAug((48, 40), interp=1)(image).asnumpy()
    ours, flip = SampleProcessor(make_preprocess((3, 40, 48), resize=64), backend="cv2").image(jpeg, 0, 0)
    assert not flip
    _close(ours, theirs)


def test_random_crop_cuts_what_fixed_crop_cuts(mx, jpeg):
    prep = make_preprocess((3, 40, 48), resize=64, augmentation_type="crop")
    original = _mx_image(mx, jpeg)
    image = mx.image.ResizeAug(64, interp=1)(original)
    processor = SampleProcessor(prep, backend="cv2")
    places = set()
    for key in range(12):
        plan = plan_sample(original.shape[0], original.shape[1], prep, sample_random(0, 0, key))
        x0, y0 = int(plan.matrix[2]), int(plan.matrix[5])
        places.add((x0, y0))
        theirs = mx.image.fixed_crop(image, x0, y0, 48, 40).asnumpy()
        ours, flip = processor.image(jpeg, 0, key)
        _close(ours, theirs, 3.0)  # one resampling of the window against resize-then-cut: a little apart
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # and it is this place, not a pixel beside it
            x, y = x0 + dx, y0 + dy
            if 0 <= x <= image.shape[1] - 48 and 0 <= y <= image.shape[0] - 40:
                beside = mx.image.fixed_crop(image, x, y, 48, 40).asnumpy()
                assert np.abs(ours.astype(int) - theirs).mean() < np.abs(ours.astype(int) - beside).mean()
        if flip:
            mirrored = mx.image.HorizontalFlipAug(1.0)(mx.nd.array(ours, dtype="uint8")).asnumpy()
            assert np.array_equal(mirrored, ours[:, ::-1])
    assert len(places) > 3  # the crops really move


def test_mean_std_is_color_normalize_aug(mx, jpeg):
    mean, std = (123.68, 116.28, 103.53), (58.4, 57.1, 57.4)
    prep = make_preprocess((3, 40, 48), resize=64, mean=mean, std=std)
    processor = SampleProcessor(prep, backend="cv2")
    out = np.empty((3, 40, 48), np.float32)
    processor.write(jpeg, 0, 0, out)
    pixels, _ = processor.image(jpeg, 0, 0)
    theirs = mx.image.ColorNormalizeAug(mx.nd.array(mean), mx.nd.array(std))(mx.nd.array(pixels, dtype="float32")).asnumpy()
    assert np.allclose(out.transpose(1, 2, 0), theirs, atol=1e-4)
