"""image.encode, image.resize and the header helpers added to image.decode, on real photos."""
from __future__ import annotations

import io

import numpy as np
import pytest
import simplejpeg
from PIL import Image

from icformat.errors import ImageError
from icformat.image import decode
from icformat.image.decode import image_info, verify_image
from icformat.image.encode import encode, encode_jpeg, encode_png, normalize_encoding
from icformat.image.resize import center_crop, center_crop_box, output_size, resize, shorter_side_size


@pytest.fixture(scope="module")
def photo(photos) -> np.ndarray:
    return photos["chelsea"]  # 300x451 RGB


def _png(array: np.ndarray, **kw) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", **kw)
    return out.getvalue()


# -- geometry: exactly im2rec's integer arithmetic -------------------------------------------------


@pytest.mark.parametrize(
    "h, w, size, expected",
    [(375, 500, 256, (256, 341)), (500, 375, 256, (341, 256)), (300, 300, 224, (224, 224)), (10, 1000, 3, (3, 300)), (100, 50, 200, (400, 200))],
)
def test_shorter_side_size_matches_im2rec(h, w, size, expected):
    # im2rec: h > w -> (w=size, h=h*size//w); else (w=w*size//h, h=size)
    ref = (h * size // w, size) if h > w else (size, w * size // h)
    assert shorter_side_size(h, w, size) == ref == expected


def test_center_crop_box_and_output_size():
    assert center_crop_box(375, 500) == (0, 62, 375)
    assert center_crop_box(501, 300) == (100, 0, 300)
    assert output_size(375, 500, resize=256, center_crop=True) == (256, 256)
    assert output_size(375, 500) == (375, 500)
    a = np.zeros((5, 9, 3), np.uint8)
    a[:, 2:7] = 1
    assert center_crop(a).shape == (5, 5, 3) and center_crop(a).min() == 1


def test_resize_shapes_and_dtypes(photo):
    assert resize(photo, 100, 150).shape == (100, 150, 3)
    gray = photo[:, :, 0]
    assert resize(gray, 30, 40).shape == (30, 40)
    rgba = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])
    assert resize(rgba, 50, 75).shape == (50, 75, 4)
    deep = (gray.astype(np.uint16) * 257)
    small = resize(deep, 60, 90)
    assert small.dtype == np.uint16 and small.shape == (60, 90) and small.max() > 255
    assert resize(photo, *photo.shape[:2]) is photo


def test_resize_keeps_content(photo):
    small = resize(photo, 150, 225).astype(float)
    ref = np.asarray(Image.fromarray(photo).resize((225, 150), Image.BOX)).astype(float)
    assert np.abs(small - ref).mean() < 3


def test_resize_rejects_unknown_method(photo):
    with pytest.raises(ValueError, match="unknown resize method"):
        resize(photo, 10, 10, method="magic")


# -- encoding --------------------------------------------------------------------------------------


def test_encode_jpeg_like_opencv(photo):
    data = encode_jpeg(photo, 95)
    h, w, colorspace, subsampling = simplejpeg.decode_jpeg_header(data)
    assert (h, w, colorspace, subsampling) == (300, 451, "YCbCr", "420")  # OpenCV's imencode default
    back = simplejpeg.decode_jpeg(data)
    assert np.abs(back.astype(int) - photo).mean() < 3


def test_encode_jpeg_gray_alpha_and_16bit(photo):
    gray = encode_jpeg(photo[:, :, 1])
    assert simplejpeg.decode_jpeg_header(gray)[2] == "Gray"
    rgba = np.dstack([photo, np.zeros(photo.shape[:2], np.uint8)])
    assert simplejpeg.decode_jpeg_header(encode_jpeg(rgba))[2] == "YCbCr"  # alpha dropped
    deep = photo[:, :, 0].astype(np.uint16) * 257
    assert np.abs(simplejpeg.decode_jpeg(encode_jpeg(deep), "GRAY")[:, :, 0].astype(int) - photo[:, :, 0]).mean() < 3


def test_quality_changes_size(photo):
    assert len(encode(photo, quality=30)) < len(encode(photo, quality=95))


def test_encode_png_is_lossless_and_compression_is_clamped(photo):
    for level in (0, 9, 95):  # im2rec's default quality 95 means zlib level 9 for PNG (OpenCV clamps)
        data = encode(photo, encoding=".png", quality=level)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), photo)
    assert len(encode_png(photo, 0)) > len(encode_png(photo, 9))
    deep = photo[:, :, 0].astype(np.uint16) * 257
    assert Image.open(io.BytesIO(encode_png(deep))).mode.startswith("I")


def test_normalize_encoding():
    assert normalize_encoding("JPEG") == ".jpg" and normalize_encoding("png") == ".png"
    with pytest.raises(ValueError, match="unknown encoding"):
        normalize_encoding(".gif")


# -- header information and strict verification ----------------------------------------------------


def test_image_info_jpeg_png_and_modes(photo):
    info = image_info(encode_jpeg(photo))
    assert (info.format, info.height, info.width, info.mode, info.bits, info.alpha) == ("jpeg", 300, 451, "RGB", 8, False)
    assert image_info(encode_jpeg(photo[:, :, 0])).mode == "L"
    rgba = np.dstack([photo, np.full(photo.shape[:2], 9, np.uint8)])
    assert image_info(_png(rgba)).alpha
    deep = image_info(_png(photo[:, :, 0].astype(np.uint16) * 257))
    assert deep.bits == 16
    cmyk = io.BytesIO()
    Image.fromarray(photo).convert("CMYK").save(cmyk, format="JPEG")
    assert image_info(cmyk.getvalue()).mode == "CMYK"


def test_image_info_applies_exif_orientation(photo):
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo).save(out, format="JPEG", exif=exif.tobytes())
    info = image_info(out.getvalue())
    assert (info.height, info.width, info.orientation) == (451, 300, 6)


def test_verify_image_finds_truncation_corruption_and_empties(photo):
    data = encode_jpeg(photo)
    assert verify_image(data).height == 300
    with pytest.raises(ImageError, match="truncated"):
        verify_image(data[: len(data) // 2])
    with pytest.raises(ImageError, match="empty"):
        verify_image(b"")
    with pytest.raises(ImageError, match="not a readable image"):
        verify_image(b"this is not an image at all")
    png = _png(photo)
    with pytest.raises(ImageError):
        verify_image(png[: len(png) // 2])


def test_decode_still_works_after_additions(photo):
    assert decode(encode_jpeg(photo)).shape == (300, 451, 3)
