"""One image verdict (``icformat.image.verdict.judge_image``) for ``lst validate --check-images``,
``rec verify --decode`` and the loader: bytes MXNet decodes are at most a warning."""
from __future__ import annotations

import numpy as np
import pytest

from icformat.errors import ImageError
from icformat.image import encode_jpeg, encode_png
from icformat.image.verdict import judge_image
from icformat.loader.decode import Decoder


@pytest.fixture(scope="module")
def damaged(photos) -> dict:
    photo = next(iter(photos.values()))
    jpeg, png = encode_jpeg(photo), encode_png(photo)
    return {
        "good": jpeg,
        "extra-byte-before-eoi": jpeg[:-2] + b"\x00" + jpeg[-2:],
        "no-eoi": jpeg[:-2],
        "truncated-half": jpeg[: len(jpeg) // 2],
        "garbage-in-scan": jpeg[:5000] + bytes(100) + jpeg[5100:],
        "header-only": jpeg[:200],
        "png-truncated": png[: len(png) // 2],
        "not-an-image": b"hello world, this is text" * 10,
        "empty": b"",
    }


WARNING_AT_MOST = ["good", "extra-byte-before-eoi", "no-eoi", "truncated-half", "garbage-in-scan"]
ERRORS = {"header-only": "undecodable", "png-truncated": "undecodable", "not-an-image": "not-an-image", "empty": "empty-image"}


@pytest.mark.parametrize("name", WARNING_AT_MOST)
def test_bytes_mxnet_decodes_are_at_most_a_warning(damaged, name):
    verdict = judge_image(damaged[name])
    assert verdict.ok and verdict.info.height == 512
    assert [f.code for f in verdict.findings] == ([] if name in ("good", "extra-byte-before-eoi") else ["decode-warning"])


@pytest.mark.parametrize("name, code", sorted(ERRORS.items()))
def test_undecodable_bytes_are_errors(damaged, name, code):
    verdict = judge_image(damaged[name])
    assert not verdict.ok and [f.code for f in verdict.findings] == [code] and verdict.reason


def test_the_loader_says_what_the_verdict_says(damaged):
    from icformat.loader import make_preprocess
    from icformat.loader.pipeline import SampleProcessor

    processor = SampleProcessor(make_preprocess((3, 32, 32)))
    for name in ERRORS:
        with pytest.raises(ImageError) as caught:
            processor.image(damaged[name], 0, 0)
        assert str(caught.value) == judge_image(damaged[name]).reason, name


def test_the_loader_rejects_exactly_what_the_verdict_rejects(damaged):
    decoder = Decoder(3)
    for name, data in damaged.items():
        try:
            decoder.decode(data, 64, 64, decoder.probe(data))
            loaded = True
        except ImageError:
            loaded = False
        assert loaded == judge_image(data).ok, name


@pytest.mark.mxnet
@pytest.mark.parametrize("name", WARNING_AT_MOST)
def test_mxnet_decodes_what_the_verdict_lets_through(mx, damaged, name):
    image = mx.image.imdecode(damaged[name]).asnumpy()
    assert image.shape == (512, 512, 3) and np.asarray(image).mean() > 0


@pytest.mark.mxnet
def test_mxnet_refuses_a_truncated_png(mx, damaged):
    with pytest.raises(mx.base.MXNetError):
        mx.image.imdecode(damaged["png-truncated"]).asnumpy()
