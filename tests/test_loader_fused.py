"""The loader's fused per-sample path: buffers reused from sample to sample, the OpenCV conversion
(mirror, split into planes, cast, mean/std, staged copy into the slot) against the plain NumPy
one, rendering and colour jitter into a given buffer, and the opt-in stage timing."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from icformat import samples
from icformat.loader import ImageLoader, make_preprocess
from icformat.loader.color import jitter_hls
from icformat.loader.pipeline import STAGES, SampleProcessor, StageClock
from icformat.loader.resample import Resampler, resolve_backend

from .test_loader import make_jpegs, write_rec

BACKENDS = ["pillow", "cv2"] if resolve_backend("auto") == "cv2" else ["pillow"]


def _plain_convert(image: np.ndarray, flip: bool, dtype: str, mean, std) -> np.ndarray:
    """The reference: one casting copy of the mirrored, transposed image, then mean and std."""
    out = np.empty((image.shape[2], *image.shape[:2]), dtype)
    np.copyto(out, (image[:, ::-1] if flip else image).transpose(2, 0, 1), casting="unsafe")
    shape = (image.shape[2], 1, 1)
    if mean is not None:
        out -= np.asarray(mean, np.float32).reshape(shape)
    if std is not None:
        out *= (1 / np.asarray(std, np.float32)).reshape(shape)
    return out


@st.composite
def _conversions(draw):
    channels = draw(st.sampled_from([1, 3]))
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    image = draw(arrays(np.uint8, (h, w, channels)))
    dtype = draw(st.sampled_from(["float32", "uint8"]))
    values = st.floats(-300, 300, width=32, allow_nan=False)
    mean = std = None
    if dtype == "float32" and draw(st.booleans()):
        mean = tuple(draw(values) for _ in range(channels))
    if dtype == "float32" and draw(st.booleans()):
        std = tuple(draw(values.filter(lambda v: abs(v) > 1e-3)) for _ in range(channels))
    return image, draw(st.booleans()), dtype, mean, std


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(case=_conversions())
def test_fused_conversion_is_the_plain_one(backend, case):
    image, flip, dtype, mean, std = case
    h, w, channels = image.shape
    prep = make_preprocess((channels, h, w), dtype=dtype, mean=mean, std=std)
    processor = SampleProcessor(prep, backend=backend)
    expected = _plain_convert(image, flip, dtype, prep.mean, prep.std)
    out = np.full((channels, h, w), 7, dtype)
    for _ in range(2):  # the second time through buffers already used
        processor._convert(image, flip, out)
        assert np.array_equal(out, expected)
    # a strided slot view (not one the loader makes) takes the same pixels
    wide = np.full((channels, h, 2 * w), 7, dtype)
    processor._convert(image, flip, wide[:, :, ::2])
    assert np.array_equal(wide[:, :, ::2], expected)
    # and a view of an image (the unscaled-crop case) as input
    framed = np.zeros((h + 2, w + 3, channels), np.uint8)
    framed[1 : h + 1, 2 : w + 2] = image
    processor._convert(framed[1 : h + 1, 2 : w + 2], flip, out)
    assert np.array_equal(out, expected)


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return make_jpegs(12, seed=4)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "options",
    [
        dict(resize=48, augmentation_type="crop"),
        dict(resize=48, augmentation_type="crop_color_transform", mean=(120, 110, 100), std=(60, 55, 50)),
        dict(augmentation_type="crop_color", dtype="uint8"),
        dict(resize=40),
    ],
)
def test_reused_buffers_do_not_leak_between_samples(backend, jpegs, options):
    """One processor writing many samples gives what a fresh processor gives for each."""
    prep = make_preprocess((3, 32, 40), **options)
    shared = SampleProcessor(prep, seed=5, backend=backend)
    out = np.empty((3, 32, 40), prep.dtype)
    for key, data in list(enumerate(jpegs)) * 2:
        shared.write(data, 1, key, out)
        fresh = np.empty_like(out)
        SampleProcessor(prep, seed=5, backend=backend).write(data, 1, key, fresh)
        assert np.array_equal(out, fresh)


def test_image_returns_a_new_array_each_time(jpegs):
    processor = SampleProcessor(make_preprocess((3, 32, 32), resize=40, augmentation_type="crop_color"), seed=1)
    first, _ = processor.image(jpegs[0], 0, 0)
    kept = first.copy()
    for key, data in enumerate(jpegs[1:]):
        processor.image(data, 0, key)
        processor.write(data, 0, key, np.empty((3, 32, 32), np.float32))
    assert np.array_equal(first, kept)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    _, image = next(samples.iter_variants(1, seed=3, size=(90, 70)))
    return np.ascontiguousarray(image)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("channels", [1, 3])
def test_render_into_a_buffer_is_render(backend, photo, channels):
    image = np.ascontiguousarray(photo[:, :, :1]) if channels == 1 else photo
    angle = math.radians(7)
    cases = [
        ((1.4, 0.0, 5.2, 0.0, 1.3, 3.9), True, True),
        ((1.4, 0.0, 5.2, 0.0, 1.3, 3.9), True, False),
        ((math.cos(angle), -math.sin(angle), 20.0, math.sin(angle), math.cos(angle), 6.0), False, True),
        ((1.0, 0.0, 4.0, 0.0, 1.0, 2.0), True, True),  # a plain slice
    ]
    resampler = Resampler(backend)
    for matrix, aligned, exact in cases:
        expected = resampler.render(image, matrix, (30, 40), aligned, 255, exact=exact)
        out = np.full((30, 40, channels), 3, np.uint8)
        got = resampler.render(image, matrix, (30, 40), aligned, 255, exact=exact, out=out)
        assert got.shape == (30, 40, channels)
        assert np.array_equal(got, expected)


def test_jitter_into_a_buffer_is_jitter(photo):
    cv2 = pytest.importorskip("cv2", reason="OpenCV not installed: its in-place jitter is not used")
    expected = jitter_hls(photo, (20, -30, 40), cv2)
    image = photo.copy()
    assert np.array_equal(jitter_hls(image, (20, -30, 40), cv2, out=image), expected)
    assert np.array_equal(image, expected)  # in place
    assert np.array_equal(jitter_hls(photo, (20, -30, 40), cv2, out=np.empty((3, 3, 3), np.uint8)), expected)


def test_stage_clock_takes_and_restarts():
    clock = StageClock()
    clock.seconds["decode"] += 2.0
    clock.images += 3
    taken = clock.take()
    assert taken == {"images": 3, "decode": 2.0, "resample": 0.0, "convert": 0.0, "handover": 0.0}
    assert clock.take()["images"] == 0
    total: dict = {}
    StageClock.add(total, taken)
    StageClock.add(total, taken)
    StageClock.add(total, None)
    assert total["images"] == 6 and total["decode"] == 4.0


@pytest.mark.parametrize("num_workers", [0, 2])
def test_profile_counts_every_sample_and_changes_no_pixel(tmp_path, jpegs, num_workers):
    rec = write_rec(str(tmp_path / "p.rec"), jpegs, [float(i) for i in range(len(jpegs))])
    kw = dict(resize=48, augmentation_type="crop", num_workers=num_workers, seed=2)
    with ImageLoader(rec, 5, (3, 32, 32), **kw) as plain:
        assert plain.stage_times is None
        expected = [np.array(data) for data, _ in plain]
    with ImageLoader(rec, 5, (3, 32, 32), profile=True, **kw) as timed:
        got = [np.array(data) for data, _ in timed]
        times = timed.stage_times
        assert set(times) == {"images", *STAGES}
        assert times["images"] == len(jpegs)
        assert times["decode"] > 0 and min(times[s] for s in STAGES) >= 0
        timed.reset_stage_times()
        assert timed.stage_times["images"] == 0
        list(timed)
        assert timed.stage_times["images"] == len(jpegs)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))
