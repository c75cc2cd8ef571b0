"""The shared preprocessing and postprocessing of every inference path (no runtime needed)."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from icformat.errors import ImageError
from icformat.image import encode_jpeg, encode_png
from icformat.serve import preprocess, preprocess_batch
from icformat.serve.http import HttpError, check_content_type, choose_accept
from icformat.serve.results import JSON, JSONLINES, response_body, top_k


def neo_reference(data: bytes, shape) -> np.ndarray:
    """SageMaker's Neo handler: PIL decode, convert, resize (without keeping the aspect), CHW, raw 0-255."""
    c, h, w = shape
    image = Image.open(io.BytesIO(data)).convert("L" if c == 1 else "RGB").resize((w, h))
    array = np.asarray(image, dtype=np.float32)
    return array[None] if c == 1 else array.transpose(2, 0, 1)


@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 24, 40), (1, 28, 28)])
def test_preprocess_matches_sagemaker_neo_handler(photos, shape):
    photo = photos["chelsea"]
    for data in (encode_png(photo), encode_jpeg(photo, 90)):
        got = preprocess(data, shape)
        assert got.dtype == np.float32 and got.shape == shape
        assert got.max() > 1.0  # raw 0-255, no normalisation outside the graph
        np.testing.assert_array_equal(got, neo_reference(data, shape))


def test_preprocess_drops_alpha_and_expands_gray(photos):
    rgba = np.dstack([photos["coffee"], np.full(photos["coffee"].shape[:2], 7, np.uint8)])
    assert preprocess(encode_png(rgba), (3, 16, 16)).shape == (3, 16, 16)
    gray = photos["coffee"][:, :, 0]
    out = preprocess(encode_png(gray), (3, 16, 16))
    np.testing.assert_array_equal(out[0], out[2])


def test_preprocess_batch_stacks(photos):
    batch = preprocess_batch([encode_png(photos["coffee"]), encode_png(photos["chelsea"])], (3, 8, 8))
    assert batch.shape == (2, 3, 8, 8)


@pytest.mark.parametrize("data, reason", [(b"", "empty"), (b"\xff\xd8\xff\xe0broken", "JPEG"),
                                          (b"plain text, not an image", "not a readable image")])
def test_preprocess_rejects_bad_images(data, reason):
    with pytest.raises(ImageError, match=reason):
        preprocess(data, (3, 8, 8))


def test_preprocess_rejects_bad_shapes():
    with pytest.raises(ValueError, match="image_shape"):
        preprocess(b"x", (4, 8, 8))


@pytest.mark.parametrize("header, expected", [
    (None, JSON), ("", JSON), ("*/*", JSON), ("application/json", JSON), ("application/jsonlines", JSONLINES),
    ("text/html, application/jsonlines;q=0.9", JSONLINES), ("application/json; charset=utf-8", JSON),
    ("application/*", JSON)])
def test_accept_negotiation(header, expected):
    assert choose_accept(header) == expected


@pytest.mark.parametrize("header", ["text/csv", "application/x-protobuf", "application/json;q=0"])
def test_unsupported_accept_is_406(header):
    with pytest.raises(HttpError) as info:
        choose_accept(header)
    assert info.value.status == 406


@pytest.mark.parametrize("header", [None, "text/plain", "application/x-recordio", "image/gif"])
def test_unsupported_content_type_is_415(header):
    with pytest.raises(HttpError) as info:
        check_content_type(header)
    assert info.value.status == 415
    check_content_type("image/jpeg; charset=binary")  # parameters are ignored


def test_response_bodies_follow_sagemaker():
    probs = np.array([0.25, 0.75], dtype=np.float32)
    assert json.loads(response_body(probs, JSON)) == [0.25, 0.75]
    body = response_body(probs, JSONLINES)
    assert body.endswith(b"\n") and json.loads(body) == {"prediction": [0.25, 0.75]}


def test_top_k_orders_and_names():
    probs = np.array([0.1, 0.6, 0.3], dtype=np.float32)
    best = top_k(probs, 2, ["a", "b", "c"])
    assert [b["label"] for b in best] == [1, 2] and [b["class"] for b in best] == ["b", "c"]
    assert "class" not in top_k(probs, 1)[0]
