"""image.transcode: JPEG -> JPEG through Y/Cb/Cr planes (libturbojpeg), against the RGB path.

Where libturbojpeg and PyTurboJPEG load (required in the full environment: ``make test`` installs
them), the YUV path must give exactly the RGB path's sizes and decode to within a PSNR floor of the
RGB path's output, and be as faithful to the original photo as the RGB path is. Where they do not
load (the core environment), the same cases check the fallback: the RGB path's bytes exactly.

PSNR floors: 40 dB where the output keeps the source's resolution (re-encode, center crop). A resized
output's pixels go through a second 4:2:0 JPEG encode whose own error is 34-40 dB on these photos at
100-300 px (measured: the RGB path's output against its own input), so two paths that resample
slightly differently cannot agree to 40 dB there: the floors are 38 dB for outputs of 224 px and
more, 33 dB for 100 px and less, with the closeness to the original photo checked beside them.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import simplejpeg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icformat.im2rec import PackOptions, pack_image, pack_lst, transform_image
from icformat.image import transcode
from icformat.image.budget import jpeg_scale
from icformat.image.resize import center_crop
from icformat.lst.make import make_lst
from icformat.recordio import RecordReader, unpack
from tests.conftest import FULL_ENV

YUV = transcode.available()
SUBSAMPLINGS = ("420", "422", "444", "440", "411")
PHOTOS = ("astronaut", "chelsea", "coffee")  # 512x512, 300x451, 400x600


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of one shape (99 when identical)."""
    assert a.shape == b.shape
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def jpeg(array: np.ndarray, subsampling: str = "420", quality: int = 90) -> bytes:
    if array.ndim == 2:
        return simplejpeg.encode_jpeg(np.ascontiguousarray(array[:, :, None]), quality=quality, colorspace="GRAY")
    return simplejpeg.encode_jpeg(np.ascontiguousarray(array), quality=quality, colorsubsampling=subsampling)


def both_paths(data: bytes, options: PackOptions, monkeypatch, notes: list | None = None) -> tuple[bytes, bytes]:
    """(what transform_image gives as installed, what it gives with the RGB path forced)."""
    monkeypatch.setenv(transcode.ENV_VAR, "rgb")
    rgb_notes: list[str] = []
    rgb = transform_image(data, options, rgb_notes)
    monkeypatch.delenv(transcode.ENV_VAR)
    auto_notes: list[str] = []
    auto = transform_image(data, options, auto_notes)
    if notes is not None:
        notes += [auto_notes, rgb_notes]
    return auto, rgb


def check(data: bytes, options: PackOptions, monkeypatch, floor: float, original: np.ndarray | None = None) -> None:
    """The YUV path's output against the RGB path's (the fallback where the YUV path is missing)."""
    auto, rgb = both_paths(data, options, monkeypatch)
    if not YUV:  # core environment: the fallback is the RGB path, byte for byte
        assert transcode.codec_path() == transcode.PATH_RGB
        assert auto == rgb
        return
    assert auto != rgb, "the YUV path did not run"
    a, b = simplejpeg.decode_jpeg(auto), simplejpeg.decode_jpeg(rgb)
    assert a.shape == b.shape  # exactly the RGB path's (MXNet's) size
    assert psnr(a, b) >= floor
    if original is not None:  # as faithful to the photo as the RGB path (within 1 dB)
        from PIL import Image

        source = center_crop(original) if options.center_crop else original
        truth = np.asarray(Image.fromarray(np.ascontiguousarray(source)).resize((a.shape[1], a.shape[0]), Image.LANCZOS))
        assert psnr(a, truth) >= psnr(b, truth) - 1.0


def test_the_full_environment_has_the_yuv_path():
    if FULL_ENV:
        assert YUV, f"ICFORMAT_FULL_ENV is set but the YUV path cannot run: {transcode.unavailable_reason()}"
    if YUV:
        assert transcode.unavailable_reason() == ""
        assert transcode.codec_path() == transcode.PATH_YUV
    else:  # says why, and what to install
        assert "turbojpeg" in transcode.unavailable_reason().lower()
        assert transcode.codec_path() == transcode.PATH_RGB


@pytest.mark.parametrize("odd", [False, True], ids=["even", "odd"])
@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("name", PHOTOS)
def test_reencode_and_center_crop_every_subsampling(photos, monkeypatch, name, subsampling, odd):
    photo = photos[name][1:, :-2] if odd else photos[name]  # odd: both sides change parity
    data = jpeg(photo, subsampling)
    for options, floor in ((PackOptions(), 40.0), (PackOptions(center_crop=True), 40.0), (PackOptions(quality=80), 34.0)):
        check(data, options, monkeypatch, floor)  # quality 80: the encode's own error is larger


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("options,floor", [
    (PackOptions(resize=256), 38.0),  # chelsea: shrink < 2x; astronaut: 2x (DCT 1/2); coffee: 1.6x
    (PackOptions(resize=224, center_crop=True), 38.0),
    (PackOptions(resize=100), 33.0),  # DCT scaling: 1/4, 3/8
    (PackOptions(resize=40, center_crop=True), 33.0),  # DCT 1/8
], ids=["resize256", "crop224", "resize100", "crop40"])
def test_resize_and_crop(photos, monkeypatch, name, subsampling, options, floor):
    photo = photos[name][1:, :-2]  # odd sides
    check(jpeg(photo, subsampling), options, monkeypatch, floor, original=photo)


@pytest.mark.parametrize("options", [PackOptions(), PackOptions(resize=128, center_crop=True)], ids=["reencode", "crop128"])
def test_gray_jpeg_in_colour_and_in_gray(photos, monkeypatch, options):
    """Only luma is resampled, as in the RGB path, and the chroma is neutral (or absent): the same
    bytes as the RGB path's."""
    gray = photos["coffee"][1:, :-1].mean(axis=2).astype(np.uint8)
    colour = jpeg(photos["coffee"][1:, :-1])
    size = (128, 128) if options.resize else gray.shape
    for data, color in ((jpeg(gray), 1), (jpeg(gray), 0), (colour, 0)):
        opts = PackOptions(resize=options.resize, center_crop=options.center_crop, color=color)
        auto, rgb = both_paths(data, opts, monkeypatch)
        assert auto == rgb
        assert simplejpeg.decode_jpeg_header(auto)[2] == ("Gray" if color == 0 else "YCbCr")
        direct = transcode.transcode(data, *size, center_crop=options.center_crop, gray=color == 0)  # no DCT scaling
        assert (direct is not None) == YUV
        if direct is not None and not options.resize:
            assert direct == auto


def _with_orientation(data: bytes, orientation: int) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif.tobytes(), subsampling=2)
    return out.getvalue()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_applied_to_the_planes(photos, monkeypatch, orientation):
    data = _with_orientation(jpeg(photos["chelsea"]), orientation)
    check(data, PackOptions(), monkeypatch, 40.0)
    check(data, PackOptions(resize=120, center_crop=True), monkeypatch, 33.0)
    auto, _ = both_paths(data, PackOptions(), monkeypatch)
    h, w = simplejpeg.decode_jpeg_header(auto)[:2]
    assert (h, w) == ((451, 300) if orientation in (6, 8) else (300, 451))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(height=st.integers(1, 70), width=st.integers(1, 70), subsampling=st.sampled_from(SUBSAMPLINGS + ("gray",)),
       resize=st.sampled_from([0, 1, 2, 7, 16, 33]), crop=st.booleans(), color=st.sampled_from([0, 1]),
       seed=st.integers(0, 2**16))
def test_sizes_are_the_rgb_paths_on_any_size(monkeypatch, height, width, subsampling, resize, crop, color, seed):
    """Tiny, odd and lopsided images of every subsampling, any resize: the RGB path's size (MXNet's
    arithmetic), and a JPEG of the right kind."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width) if subsampling == "gray" else (height, width, 3), dtype=np.uint8)
    options = PackOptions(resize=resize, center_crop=crop, color=color)
    data = jpeg(pixels, "420" if subsampling == "gray" else subsampling)
    auto, rgb = both_paths(data, options, monkeypatch)
    header = simplejpeg.decode_jpeg_header(rgb)
    assert simplejpeg.decode_jpeg_header(auto)[:3] == header[:3]
    ran = transcode.transcode(data, header[0], header[1], center_crop=crop, gray=color == 0)
    assert (ran is not None) == YUV  # the YUV path applies (a tiny image may give the same bytes)


@settings(max_examples=150, deadline=None)
@given(luma=st.tuples(st.integers(2, 300), st.integers(2, 300)), out=st.tuples(st.integers(1, 300), st.integers(1, 300)),
       factors=st.sampled_from([(2, 2), (1, 2), (1, 1), (2, 1), (1, 4)]), crop=st.booleans(), seed=st.integers(0, 2**16))
def test_chroma_fast_path_is_the_exact_mapping(luma, out, factors, crop, seed):
    """The chroma plane (through image.resize.resize_linear, with or without OpenCV) is the exact
    mapping (each 4:2:0 sample centered on its 2x2 luma block) sampled bilinearly: within the
    8-bit weights' rounding of a float64 reference, after an odd crop offset too. Shrinking the
    chroma more than 2x: the whole samples under the box, resized by the RGB path's rule."""
    from icformat.image.resize import center_crop_box, resize

    (height, width), (fy, fx) = luma, factors
    plane = np.random.default_rng(seed).integers(0, 256, (-(-height // fy), -(-width // fx)), dtype=np.uint8)
    top, left, rows, cols = (*center_crop_box(height, width)[:2], *[center_crop_box(height, width)[2]] * 2) if crop else (0, 0, height, width)
    got = transcode._chroma(plane, (top, left, rows, cols), factors, out, "bilinear")
    out_h, out_w = (out[0] + 1) // 2, (out[1] + 1) // 2
    assert got.shape == (out_h, out_w)
    ay, ax = 2 * rows / out[0] / fy, 2 * cols / out[1] / fx
    if ay > 2 or ax > 2:  # the RGB path's rule on the whole samples under the box
        region = plane[top // fy : -(-(top + rows) // fy), left // fx : -(-(left + cols) // fx)]
        assert np.array_equal(got, resize(region, out_h, out_w))
        return
    ys = ay * np.arange(out_h) + (top + rows / out[0]) / fy - 0.5  # where each output sample lies
    xs = ax * np.arange(out_w) + (left + cols / out[1]) / fx - 0.5
    # weights in 1/256 steps on each axis (up to 255/512 off each), then rounding
    assert np.abs(got.astype(float) - _bilinear(plane, ys, xs)).max() <= 2.0


def _bilinear(plane: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``plane`` sampled at rows ``ys`` x columns ``xs`` (float, edges repeated), in float64."""
    def taps(coords, size):
        coords = np.clip(coords, 0, size - 1)
        low = np.floor(coords).astype(int)
        return low, np.minimum(low + 1, size - 1), coords - low

    y0, y1, wy = taps(ys, plane.shape[0])
    x0, x1, wx = taps(xs, plane.shape[1])
    p = plane.astype(np.float64)
    top = p[y0][:, x0] * (1 - wx) + p[y0][:, x1] * wx
    bottom = p[y1][:, x0] * (1 - wx) + p[y1][:, x1] * wx
    return top * (1 - wy[:, None]) + bottom * wy[:, None]


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), subsampling=st.sampled_from(SUBSAMPLINGS + ("gray",)),
       scale=st.sampled_from([None, (1, 2), (3, 8), (1, 4), (1, 8)]), quality=st.integers(1, 100),
       cut=st.sampled_from([None, 0.3, 0.7]), seed=st.integers(0, 2**16))
def test_two_call_codec_is_pyturbojpegs(height, width, subsampling, scale, quality, cut, seed):
    """image.turbo (per-thread handles, two library calls an image) against PyTurboJPEG's own
    methods: the same planes, the same JPEG bytes, and a failure exactly where PyTurboJPEG raises
    or warns (libjpeg's warnings: a JPEG cut short)."""
    import warnings

    from icformat.image import turbo

    if not YUV:  # core environment: nothing to call; it says why
        assert not turbo.available() and turbo.unavailable_reason()
        return
    lib = turbo.codec()
    rng = np.random.default_rng(seed)
    gray = subsampling == "gray"
    pixels = rng.integers(0, 256, (height, width) if gray else (height, width, 3), dtype=np.uint8)
    data = jpeg(cv2_blur(pixels), "420" if gray else subsampling, quality)
    if cut is not None:
        data = data[: max(4, int(len(data) * cut))]
    h, w = (height, width) if scale is None else (-(-height * scale[0] // scale[1]), -(-width * scale[0] // scale[1]))
    samp = {"444": 0, "422": 1, "420": 2, "gray": 3, "440": 4, "411": 5}[subsampling]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if gray:  # PyTurboJPEG 1.x's planes method fails on gray JPEGs: its gray decode instead
                theirs = [lib.decode(data, pixel_format=6, scaling_factor=scale)[:, :, 0]]
            else:
                theirs = lib.decode_to_yuv_planes(data, scaling_factor=scale)
        except (OSError, ValueError):
            theirs = None
    ours = turbo.decode_gray(data, h, w) if gray else turbo.decode_planes(data, h, w, samp)
    if theirs is None or caught:
        assert ours is None
        return
    ours = [ours] if gray else ours
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    # the samples past the image's edge (planes are padded to whole MCUs) are left unset by libjpeg-turbo,
    # on both sides: only the visible ones are compared
    sv, sh = {"444": (1, 1), "422": (1, 2), "420": (2, 2), "gray": (1, 1), "440": (2, 1), "411": (1, 4)}[subsampling]
    visible = [(h, w)] + [(-(-h // sv), -(-w // sh))] * (len(ours) - 1)
    assert all(np.array_equal(a[:vh, :vw], b[:vh, :vw]) for a, b, (vh, vw) in zip(ours, theirs, visible))
    luma = ours[0][:h, :w]
    planes = [luma] if gray else [luma, *[p[: (h + 1) // 2, : (w + 1) // 2] for p in ours[1:]]]
    if not gray and any(p.shape != ((h + 1) // 2, (w + 1) // 2) for p in planes[1:]):
        return  # only 4:2:0 planes are encoded; other subsamplings are resampled first
    packed = packed_yuv(planes, not gray)
    out_samp = 3 if gray else 2
    theirs = lib.encode_from_yuv(packed, h, w, quality=quality, jpeg_subsample=out_samp)
    assert turbo.encode_planes(transcode._encoder_planes(planes, not gray), h, w, out_samp, quality) == theirs
    # the decoder's own plane padded in place (no copy) gives the same JPEG
    assert turbo.encode_planes(transcode._encoder_planes(planes, not gray, ours[0]), h, w, out_samp, quality) == theirs


def packed_yuv(planes: list[np.ndarray], even_luma: bool) -> np.ndarray:
    """The planes in TurboJPEG's packed YUV format, what PyTurboJPEG's ``encode_from_yuv`` reads
    (the oracle's input): rows padded to 4 bytes; with ``even_luma`` the luma padded to even
    sides by repeating its edge pixels, as libjpeg pads."""
    out = []
    for i, plane in enumerate(planes):
        if i == 0 and even_luma:
            plane = np.pad(plane, ((0, plane.shape[0] % 2), (0, plane.shape[1] % 2)), mode="edge")
        out.append(np.pad(plane, ((0, 0), (0, -plane.shape[1] % 4)), mode="edge").ravel())
    return np.concatenate(out)


def cv2_blur(pixels: np.ndarray) -> np.ndarray:
    """Noise smoothed a little (box blur in numpy), so JPEG sizes are like photos'."""
    p = pixels.astype(np.float32)
    for axis in (0, 1):
        p = (p + np.roll(p, 1, axis) + np.roll(p, -1, axis)) / 3
    return p.astype(np.uint8)


def test_dct_scale_is_the_rgb_paths():
    """The reduced-scale decode picks the size simplejpeg's (the RGB path's) does."""
    photo = np.zeros((1000, 1411, 3), np.uint8)
    data = jpeg(photo)
    for need in [(500, 706), (375, 530), (250, 353), (125, 177), (126, 177), (1, 1), (600, 800), (0, 0)]:
        scale = jpeg_scale(1000, 1411, *need)
        h, w = (1000, 1411) if scale is None else (-(-1000 * scale[0] // scale[1]), -(-1411 * scale[0] // scale[1]))
        assert (h, w) == simplejpeg.decode_jpeg(data, min_height=need[0], min_width=need[1], min_factor=1.0).shape[:2]


def test_damaged_jpeg_takes_the_rgb_path_with_its_note(photos, monkeypatch):
    data = jpeg(photos["chelsea"])
    cut = data[: len(data) * 2 // 3]
    for options in (PackOptions(), PackOptions(resize=100)):
        notes: list = []
        auto, rgb = both_paths(cut, options, monkeypatch, notes)
        assert auto == rgb
        assert notes[0] == notes[1] and len(notes[0]) == 1 and "damaged part gray" in notes[0][0]
    assert transcode.transcode(cut, 300, 451) is None


def test_fallbacks_give_the_rgb_paths_bytes(photos, monkeypatch, tmp_path):
    from PIL import Image

    photo = photos["chelsea"]
    data = jpeg(photo)
    cmyk = io.BytesIO()
    Image.fromarray(photo).convert("CMYK").save(cmyk, format="JPEG", quality=90)
    png = io.BytesIO()
    Image.fromarray(photo).save(png, format="PNG")
    cases = [
        (cmyk.getvalue(), PackOptions()),
        (cmyk.getvalue(), PackOptions(resize=100)),
        (png.getvalue(), PackOptions()),
        (data, PackOptions(color=-1)),
        (data, PackOptions(encoding=".png", quality=1)),
        (data, PackOptions(resize=64, encoding=".png")),
    ]
    for image, options in cases:
        auto, rgb = both_paths(image, options, monkeypatch)
        assert auto == rgb
    assert transcode.transcode(cmyk.getvalue(), 300, 451) is None
    assert transcode.transcode(png.getvalue(), 300, 451) is None
    assert transcode.transcode(b"\xff\xd8 not really a JPEG", 1, 1) is None
    assert pack_image(3, [1.0], data, PackOptions(pass_through=True)).endswith(data)


def test_without_pyturbojpeg_the_rgb_path_runs(photos, monkeypatch):
    """PyTurboJPEG missing (as in the core environment): a fresh interpreter that cannot import it
    packs with the RGB path, byte for byte, and says why."""
    code = (
        "import sys; sys.modules['turbojpeg'] = None\n"
        "import simplejpeg\n"
        "from icformat import samples\n"
        "from icformat.image import transcode\n"
        "from icformat.im2rec import PackOptions, transform_image\n"
        "data = simplejpeg.encode_jpeg(samples.sample_photos()['chelsea'], quality=90, colorsubsampling='420')\n"
        "assert not transcode.available() and transcode.codec_path() == transcode.PATH_RGB\n"
        "assert 'PyTurboJPEG not installed' in transcode.unavailable_reason()\n"
        "assert transcode.transcode(data, 300, 451) is None\n"
        "sys.stdout.buffer.write(transform_image(data, PackOptions(resize=100)))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != transcode.ENV_VAR}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env={**env, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    monkeypatch.setenv(transcode.ENV_VAR, "rgb")
    assert done.stdout == transform_image(jpeg(photos["chelsea"]), PackOptions(resize=100))


def test_forcing_the_rgb_path(photos, monkeypatch):
    data = jpeg(photos["chelsea"])
    monkeypatch.setenv(transcode.ENV_VAR, "rgb")
    assert transcode.codec_path() == transcode.PATH_RGB
    assert transcode.transcode(data, 300, 451) is None
    monkeypatch.setenv(transcode.ENV_VAR, "auto")
    assert transcode.codec_path() == (transcode.PATH_YUV if YUV else transcode.PATH_RGB)
    assert (transcode.transcode(data, 300, 451) is not None) == YUV


def test_pack_report_says_which_path_ran(photo_tree, tmp_path, monkeypatch):
    make_lst(str(tmp_path / "all"), photo_tree, recursive=True)
    lst = str(tmp_path / "all.lst")
    report = pack_lst(lst, photo_tree, str(tmp_path / "a"), options=PackOptions(resize=64), num_workers=1)
    assert report.to_dict()["jpeg_path"] == (transcode.PATH_YUV if YUV else transcode.PATH_RGB)
    monkeypatch.setenv(transcode.ENV_VAR, "rgb")
    report = pack_lst(lst, photo_tree, str(tmp_path / "b"), options=PackOptions(resize=64), num_workers=1)
    assert report.to_dict()["jpeg_path"] == transcode.PATH_RGB
    report = pack_lst(lst, photo_tree, str(tmp_path / "c"), options=PackOptions(pass_through=True), num_workers=1)
    assert "jpeg_path" not in report.to_dict()


def test_threads_share_the_codec(photos, monkeypatch):
    """Workers on threads (im2rec's default on few cores) each get their own image, warnings
    included: a damaged JPEG among good ones still falls back, with its note."""
    from concurrent.futures import ThreadPoolExecutor

    good = [jpeg(photos[name]) for name in PHOTOS]
    cut = good[0][: len(good[0]) // 2]
    items = (good + [cut]) * 8
    expected = []
    for data in items:
        notes: list[str] = []
        expected.append((transform_image(data, PackOptions(resize=128), notes), notes))

    def one(data):
        notes: list[str] = []
        return transform_image(data, PackOptions(resize=128), notes), notes

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, items)) == expected


def _psnrs(ours: str, theirs: str) -> list[tuple[tuple, tuple, float]]:
    out = []
    for a, b in zip(RecordReader(ours), RecordReader(theirs)):
        x, y = simplejpeg.decode_jpeg(bytes(unpack(a)[1])), simplejpeg.decode_jpeg(bytes(unpack(b)[1]))
        out.append((x.shape, y.shape, psnr(x, y) if x.shape == y.shape else 0.0))
    return out


@pytest.mark.mxnet
def test_yuv_path_against_mxnet_im2rec(mx, photo_tree, tmp_path):
    """MXNet's tools/im2rec.py (OpenCV: RGB decode, bilinear, encode) as the oracle: same sizes, and
    the same pixels within JPEG noise, re-encoded and resized to 600 (enlarging most of these
    photos: both sides use bilinear there; measured 43-51 dB)."""
    script = os.path.join(os.path.dirname(mx.__file__), "tools", "im2rec.py")
    make_lst(str(tmp_path / "all"), photo_tree, recursive=True)
    for run, flags, options, floor in (("re", [], PackOptions(), 40.0), ("rs", ["--resize", "600"], PackOptions(resize=600), 40.0)):
        folder = tmp_path / f"mx-{run}"
        folder.mkdir()
        shutil.copy(tmp_path / "all.lst", folder)
        subprocess.run([sys.executable, script, "--num-thread", "2", *flags, str(folder) + os.sep, photo_tree],
                       check=True, capture_output=True)
        report = pack_lst(str(tmp_path / "all.lst"), photo_tree, str(tmp_path / run), options=options, num_workers=2)
        assert report.to_dict()["jpeg_path"] == transcode.PATH_YUV  # the full environment has it
        pairs = _psnrs(str(tmp_path / f"{run}.rec"), str(folder / "all.rec"))
        assert len(pairs) == 12
        for ours, theirs, value in pairs:
            assert ours == theirs
            assert value >= floor


def test_cli_says_which_path_ran(photo_tree, tmp_path, monkeypatch, capsys):
    from icformat.cli import main

    make_lst(str(tmp_path / "all"), photo_tree, recursive=True)
    monkeypatch.setenv(transcode.ENV_VAR, "rgb")
    capsys.readouterr()
    assert main(["im2rec", str(tmp_path / "all.lst"), photo_tree, "--resize", "64"]) == 0
    assert f"JPEGs re-encoded through {transcode.PATH_RGB}" in capsys.readouterr().out


def _orientation_pillow_reads_from_exif(data: bytes) -> int:
    """The orientation in the EXIF segment Pillow's JPEG reader keeps (``info["exif"]``, the first
    APP1 Exif segment; OpenCV's imread, which im2rec.py uses, reads no XMP either); 1 when the file
    does not open or has none."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            raw = im.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
        value = exif.get(0x0112, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orientation=st.sampled_from([None, 1, 3, 6, 8]), xmp=st.sampled_from([None, 1, 6]), exif_in_scan=st.booleans(),
       padding=st.sampled_from([0, 70_000]), cut=st.sampled_from([None, 3, 20, 0.5]), seed=st.integers(0, 2**16))
def test_exif_orientation_searches_only_the_header_segments_with_the_same_answers(orientation, xmp, exif_in_scan, padding, cut,
                                                                                   seed):
    """Only the EXIF segment before the scan data is read: the orientation Pillow reads from it,
    with an XMP orientation beside it (ignored, as OpenCV ignores it), b"Exif" inside the scan data,
    headers past 64 KiB, files cut short and not JPEGs."""
    from PIL import Image

    from icformat.image.decode import exif_orientation

    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    Image.fromarray(cv2_blur(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))).save(out, "JPEG", **kwargs)
    data = out.getvalue()
    segments = b""
    if xmp is not None:
        packet = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:ExifVersion="0231" tiff:Orientation="{xmp}"/>'
                  "</x:xmpmeta>").encode()
        body = b"http://ns.adobe.com/xap/1.0/\0" + packet
        segments += b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    if padding:  # a long comment run pushes what follows past 64 KiB
        body = b"c" * 60_000
        segments += (b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body) * (padding // 60_000 + 1)
    data = data[:2] + segments + data[2:]
    if exif_in_scan:
        sos = data.index(b"\xff\xda")
        data = data[: sos + 40] + b"Exif" + data[sos + 44 :]
    if cut is not None:
        data = data[: int(len(data) * cut)] if isinstance(cut, float) else data[:cut]
    if cut is None:
        assert exif_orientation(data) == _orientation_pillow_reads_from_exif(data)
    else:  # Pillow opens no file cut before its scan data; OpenCV still reads the EXIF segment it holds
        assert exif_orientation(data) in ((orientation or 1), 1)
    assert exif_orientation(b"GIF89a" + data) == _orientation_pillow_reads_from_exif(b"GIF89a" + data)
