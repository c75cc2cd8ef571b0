"""The loader's pieces: random streams, augmentation plans against MXNet's recipe, colour jitter,
reduced decoding, resampling backends."""
from __future__ import annotations

import math

import numpy as np
import pytest

from icformat import samples
from icformat.errors import ImageError
from icformat.loader import Augmentation, frame_size, make_preprocess, plan_sample
from icformat.loader.color import hls_to_rgb, jitter_hls, rgb_to_hls
from icformat.loader.decode import Decoder, dct_scale, has_exif
from icformat.loader.pipeline import SampleProcessor, sample_random
from icformat.loader.resample import Resampler
from icformat.loader.rng import SampleRandom, stream_key


def _cv2():
    return pytest.importorskip("cv2", reason="OpenCV not installed: its reference is skipped")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    _, image = next(samples.iter_variants(1, seed=2, size=(120, 90)))
    return np.ascontiguousarray(image)


# ---- random streams ----------------------------------------------------------------------------


def test_streams_are_deterministic_and_distinct():
    a = [SampleRandom(stream_key(1, 0, 5)).next64() for _ in range(2)]
    assert a[0] == a[1]
    keys = {stream_key(1, e, r) for e in range(10) for r in range(100)}
    assert len(keys) == 1000
    assert stream_key(-1, 0) == stream_key((1 << 64) - 1, 0)


def test_draws_cover_their_ranges():
    rng = SampleRandom(42)
    ints = [rng.randint(-3, 3) for _ in range(5000)]
    assert set(ints) == set(range(-3, 4))
    floats = [rng.random() for _ in range(5000)]
    assert 0 <= min(floats) and max(floats) < 1 and abs(np.mean(floats) - 0.5) < 0.02
    assert rng.randint(4, 4) == 4


# ---- plans ---------------------------------------------------------------------------------------


def test_frame_size_is_mxnet_integer_arithmetic():
    assert frame_size(375, 500, 256) == (256, 341)
    assert frame_size(500, 333, 256) == (384, 256)
    assert frame_size(300, 300, 256) == (256, 256)
    assert frame_size(300, 200, None) == (300, 200)


def test_centre_plan():
    prep = make_preprocess((3, 224, 224), resize=256)
    plan = plan_sample(375, 500, prep, None)
    assert plan.frame == (256, 341) and plan.axis_aligned and not plan.flip and plan.hls is None
    assert plan.matrix == (1.0, 0.0, float((341 - 224) // 2), 0.0, 1.0, float((256 - 224) // 2))


def test_random_crop_plan_stays_inside_the_frame():
    prep = make_preprocess((3, 224, 224), resize=256, augmentation_type="crop")
    flips = 0
    for key in range(300):
        plan = plan_sample(375, 500, prep, sample_random(0, 0, key))
        x, y = plan.matrix[2], plan.matrix[5]
        assert 0 <= x <= 341 - 224 and 0 <= y <= 256 - 224
        flips += plan.flip
    assert 100 < flips < 200


def test_color_plan_offsets():
    prep = make_preprocess((3, 224, 224), resize=256, augmentation_type="crop_color")
    offsets = np.array([plan_sample(375, 500, prep, sample_random(0, 0, k)).hls for k in range(500)])
    assert offsets[:, 0].min() >= -36 and offsets[:, 0].max() <= 36
    assert np.abs(offsets[:, 1:]).max() <= 50 and np.abs(offsets[:, 1:]).max() >= 45


def test_too_small_is_an_image_error():
    prep = make_preprocess((3, 224, 224))
    with pytest.raises(ImageError, match="smaller than data_shape"):
        plan_sample(200, 300, prep, None)


def _mxnet_reference(image, prep, key, cv2):
    """MXNet's default augmenter step by step (resize, warpAffine, crop, HLS), with our draws."""
    aug = prep.augment
    h, w = image.shape[:2]
    rh, rw = frame_size(h, w, prep.resize)
    res = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_LINEAR)
    rng = sample_random(0, 0, key)
    s = rng.random() * aug.max_shear_ratio * 2 - aug.max_shear_ratio
    angle = rng.randint(-aug.max_rotate_angle, aug.max_rotate_angle)
    ratio = rng.random() * aug.max_aspect_ratio * 2 - aug.max_aspect_ratio + 1
    a, b = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    hs = 2 / (1 + ratio)
    ws = ratio * hs
    m = np.array([[hs * a - s * b * ws, hs * b + s * a * ws, 0], [-b * ws, a * ws, 0]])
    m[0, 2] = (rw - (m[0, 0] * rw + m[0, 1] * rh)) / 2
    m[1, 2] = (rh - (m[1, 0] * rw + m[1, 1] * rh)) / 2
    warped = cv2.warpAffine(res, m, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(255,) * 3)
    y = rng.randint(0, rh - prep.height)
    x = rng.randint(0, rw - prep.width)
    crop = warped[y : y + prep.height, x : x + prep.width]
    dh = int(rng.random() * aug.random_h * 2 - aug.random_h)
    ds = int(rng.random() * aug.random_s * 2 - aug.random_s)
    dl = int(rng.random() * aug.random_l * 2 - aug.random_l)
    hls = cv2.cvtColor(crop, cv2.COLOR_RGB2HLS).astype(int) + (dh, dl, ds)
    crop = cv2.cvtColor(np.clip(hls, 0, (180, 255, 255)).astype(np.uint8), cv2.COLOR_HLS2RGB)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop


def test_crop_color_transform_matches_mxnet_recipe(photo):
    """Our one-step warp of only the kept window equals resize -> warp -> crop -> jitter done the
    long way. A smooth image keeps the comparison about geometry: on fine texture, MXNet's two
    bilinear passes blur more than our one."""
    cv2 = _cv2()
    import simplejpeg

    data = simplejpeg.encode_jpeg(cv2.GaussianBlur(photo, (0, 0), 4), quality=98)
    decoded = simplejpeg.decode_jpeg(data)
    prep = make_preprocess((3, 48, 48), resize=64, augmentation_type="crop_color_transform")
    processor = SampleProcessor(prep, backend="cv2")
    for key in range(40):
        ours, flip = processor.image(data, 0, key)
        ours = ours[:, ::-1] if flip else ours
        ref = _mxnet_reference(decoded, prep, key, cv2)
        assert np.abs(ours.astype(int) - ref).mean() < 1.5, key


def test_zero_warp_is_the_identity():
    prep = make_preprocess((3, 32, 32), augmentation_type=Augmentation(max_aspect_ratio=1e-12))
    plan = plan_sample(40, 50, prep, SampleRandom(1))
    assert not plan.axis_aligned
    np.testing.assert_allclose(plan.matrix, (1, 0, 9, 0, 1, 4), atol=1e-6)


# ---- colour ----------------------------------------------------------------------------------------


def test_hls_round_trip_without_opencv(photo):
    back = hls_to_rgb(rgb_to_hls(photo))
    assert np.abs(back.astype(int) - photo).max() <= 3


def test_hls_matches_opencv(photo):
    cv2 = _cv2()
    ours = rgb_to_hls(photo)
    theirs = cv2.cvtColor(photo, cv2.COLOR_RGB2HLS)
    assert np.abs(ours.astype(int) - theirs).max() <= 1
    assert np.array_equal(hls_to_rgb(theirs), cv2.cvtColor(theirs, cv2.COLOR_HLS2RGB))
    for offsets in [(10, -20, 30), (-36, 50, -50)]:
        a, b = jitter_hls(photo, offsets), jitter_hls(photo, offsets, cv2)
        assert np.abs(a.astype(int) - b).mean() < 0.05


def test_jitter_clamps_like_mxnet(photo):
    lighter = jitter_hls(photo, (0, 50, 0))
    assert lighter.mean() > photo.mean()
    assert np.array_equal(jitter_hls(photo, (0, 0, 0)), hls_to_rgb(rgb_to_hls(photo)))
    white = np.full((4, 4, 3), 250, np.uint8)
    assert (jitter_hls(white, (0, 50, 0)) == 255).all()


# ---- decoding ----------------------------------------------------------------------------------------


def test_dct_scale():
    assert dct_scale(375, 500, 256, 341) == 1
    assert dct_scale(1500, 2000, 256, 341) == 4
    assert dct_scale(3000, 4000, 256, 341) == 8
    assert dct_scale(600, 800, 256, 341) == 2
    assert dct_scale(600, 800, 0, 0) == 1


def test_reduced_decode_and_buffer_reuse(photo):
    import simplejpeg

    big = np.ascontiguousarray(np.repeat(np.repeat(photo, 4, 0), 4, 1))  # 360 x 480
    data = simplejpeg.encode_jpeg(big, quality=90)
    decoder = Decoder(3)
    assert decoder.size(data) == (360, 480, 1)
    small = decoder.decode(data, 90, 120)
    assert small.shape == (90, 120, 3)
    assert np.shares_memory(small, decoder.decode(data, 90, 120))  # one buffer, reused
    assert decoder.decode(data, 0, 0).shape == (360, 480, 3)
    gray = Decoder(1).decode(data, 180, 240)
    assert gray.shape == (180, 240, 1)


def test_png_goes_through_pillow(photo):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "PNG")
    decoder = Decoder(3)
    assert decoder.size(buf.getvalue())[:2] == photo.shape[:2]
    assert np.array_equal(decoder.decode(buf.getvalue(), 10, 10), photo)
    with pytest.raises(ImageError, match="not a readable image"):
        decoder.size(b"GIF89?not really")


def test_has_exif_reads_only_the_header(photo):
    import simplejpeg

    assert not has_exif(simplejpeg.encode_jpeg(photo))
    assert has_exif(b"\x89PNG....")


# ---- resampling ------------------------------------------------------------------------------------


def test_backends_agree(photo):
    _cv2()
    matrix_crop = (1.5, 0.0, 10.3, 0.0, 1.5, 5.7)
    angle = math.radians(8)
    matrix_warp = (math.cos(angle), -math.sin(angle), 30.0, math.sin(angle), math.cos(angle), 10.0)
    cv, pil = Resampler("cv2"), Resampler("pillow")
    for matrix, aligned in [(matrix_crop, True), (matrix_warp, False)]:
        a = cv.render(photo, matrix, (40, 50), aligned, 255)
        b = pil.render(photo, matrix, (40, 50), aligned, 255)
        assert a.shape == b.shape == (40, 50, 3)
        assert np.abs(a.astype(int) - b).mean() < 6
    fast = cv.render(photo, matrix_crop, (40, 50), True, 255, exact=False)
    assert np.abs(fast.astype(int) - cv.render(photo, matrix_crop, (40, 50), True, 255)).mean() < 12


def test_unscaled_whole_pixel_crop_is_a_slice(photo):
    out = Resampler("pillow").render(photo, (1.0, 0.0, 3.0, 0.0, 1.0, 2.0), (10, 20), True, 0)
    assert np.array_equal(out, photo[2:12, 3:23])


def test_unknown_backend():
    with pytest.raises(ValueError):
        Resampler("magick")
