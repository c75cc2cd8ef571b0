"""preflight's per-image facts: the JPEG header shortcut gives what image_info gives."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from icformat.errors import ImageError
from icformat.image.decode import image_info
from icformat.preflight.data import ChannelData, Collector, header_size

from . import preflight_data as data


def _exif_jpeg(array: np.ndarray, orientation: int) -> bytes:
    image = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def _cases() -> list[bytes]:
    photo = np.asarray(Image.open(io.BytesIO(data.jpegs(1, seed=3, size=(50, 30))[0])))
    jpeg = data.jpegs(1, seed=4, size=(41, 23))[0]
    cases = [jpeg, _png(photo), jpeg[:200], b"", b"\xff\xd8garbage", b"not an image at all"]
    cases += [_exif_jpeg(photo, o) for o in range(1, 9)]
    return cases


@pytest.mark.parametrize("image", _cases())
def test_header_size_agrees_with_image_info(image):
    try:
        info = image_info(image)
        expected = (info.height, info.width, None)
    except ImageError as exc:
        expected = (-1, -1, str(exc))
    got = header_size(image)
    assert got[:2] == expected[:2]
    assert (got[2] is None) == (expected[2] is None)
    got_view = header_size(memoryview(image))
    assert got_view[:2] == expected[:2]


def test_collector_keeps_order_and_truncates():
    images = data.jpegs(3, seed=5)
    collector = Collector()
    for i, image in enumerate(images):
        assert collector.add(float(i), memoryview(image), 0, 100 * i) is None
    collector.add(9.0, images[0], 0, 999)
    collector.truncate(3)
    channel = collector.finish(ChannelData("train", "rec", files=["t.rec"]))
    assert channel.count == 3 and channel.single.tolist() == [0.0, 1.0, 2.0]
    assert channel.position.tolist() == [0, 100, 200] and channel.heights.tolist() == [40, 40, 40]
    assert len(set(channel.digests.tolist())) == 3 and channel.locate(2) == ("t.rec", None, 200)
