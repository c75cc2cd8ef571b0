"""Label values of augmented manifests: single class ids, multi-hot and class-id lists, content types."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icformat.errors import IcformatError
from icformat.manifest import (
    LabelError,
    check_label,
    class_ids_to_multi_hot,
    decode_label,
    label_format_from_content_type,
    label_string_form,
    label_text,
    multi_hot_to_class_ids,
    parse_label,
)


@pytest.mark.parametrize(
    "content_type, expected",
    [
        (None, "multi-hot"),
        ("", "multi-hot"),
        ("application/x-recordio", "multi-hot"),
        ("application/x-recordio; label-format=multi-hot", "multi-hot"),
        ("application/x-recordio; label-format=class-id", "class-id"),
        ("application/x-recordio;label-format=class-id", "class-id"),
        ("application/x-recordio; Label-Format = \"class-id\"", "class-id"),
        ("application/x-image; charset=utf-8; label-format=class-id", "class-id"),
    ],
)
def test_label_format_from_content_type(content_type, expected):
    assert label_format_from_content_type(content_type) == expected


def test_unknown_label_format_in_content_type_is_refused():
    with pytest.raises(LabelError, match="unknown label format 'one-hot'"):
        label_format_from_content_type("application/x-recordio; label-format=one-hot")
    assert issubclass(LabelError, IcformatError)


@pytest.mark.parametrize(
    "value, expected",
    [("0", 0), (0, 0), ("  7 ", 7), ("2.0", 2.0), (3.5, 3.5), ("[1, 0, 1]", [1, 0, 1]), ([1, 0, 8], [1, 0, 8]), ("[]", [])],
)
def test_decode_label(value, expected):
    assert decode_label(value) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("cat", "neither a class id nor a list"),
        ("1_0", "neither a class id nor a list"),
        ("0x1", "neither a class id nor a list"),
        ("[1, 0", "not a valid JSON list"),
        (True, "must be a number, got true"),
        (None, "must be a number, got null"),
        ({"a": 1}, "must be a number"),
        (["1", 0], 'label list values must be a number, got "1"'),
        ([1, None], "got null"),
        (float("nan"), "finite"),
        ("1e999", "finite"),
    ],
)
def test_decode_label_rejects(value, message):
    with pytest.raises(LabelError, match=message.replace("[", r"\[")):
        decode_label(value)


def test_single_labels():
    assert check_label("0", num_classes=1) == ("single", 1)
    assert parse_label("3", num_classes=10) == 3.0
    assert parse_label(3) == 3.0
    for value, message in [("10", r"class id 10 is out of range: must be \[0, 10\)"), (-1, "class id -1 is out of range: must be 0 or more"), ("1.5", "1.5 is not a whole number")]:
        with pytest.raises(LabelError, match=message):
            check_label(value, num_classes=10 if value == "10" else None)


def test_multi_hot_labels():
    assert check_label("[1, 0, 1]") == ("multi-hot", 3)
    np.testing.assert_array_equal(parse_label([1, 0, 1], num_classes=3), np.array([1, 0, 1], np.float32))
    assert parse_label("[1.0, 0.0]").dtype == np.float32
    with pytest.raises(LabelError, match="multi-hot label has 4 values but num_classes is 3"):
        check_label("[1, 0, 1, 0]", num_classes=3)
    with pytest.raises(LabelError, match="0 or 1, got 8; for lists of class ids use label format class-id"):
        check_label([1, 0, 8])
    with pytest.raises(LabelError, match="0 or 1, got 0.5$"):
        check_label([0.5])


def test_class_id_labels():
    assert check_label("[0, 2]", "class-id", 3) == ("class-id", 2)
    assert check_label([], "class-id", 3) == ("class-id", 0)
    np.testing.assert_array_equal(parse_label([1, 0, 8], "class-id", 9), [1, 1, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(parse_label("[2]", "class-id", 3), [0, 0, 1])
    with pytest.raises(LabelError, match="need the number of classes"):
        parse_label("[0, 2]", "class-id")
    with pytest.raises(LabelError, match=r"class id 3 is out of range: must be \[0, 3\)"):
        check_label("[0, 3]", "class-id", 3)
    with pytest.raises(LabelError, match="class id 2 is listed twice"):
        check_label([2, 0, 2], "class-id")
    with pytest.raises(LabelError, match="unknown label format"):
        check_label([0], "one-hot")


def test_conversions_between_formats():
    np.testing.assert_array_equal(class_ids_to_multi_hot([0, 2], 4), [1, 0, 1, 0])
    assert multi_hot_to_class_ids([1, 0, 1, 0]) == [0, 2]
    with pytest.raises(LabelError, match="value 0.5 at position 1"):
        multi_hot_to_class_ids([1, 0.5])


def test_label_text():
    assert label_text([3.0]) == "3"
    assert label_text([0.5]) == "0.5"
    assert label_text([1, 0, 1]) == "[1, 0, 1]"
    assert label_text([1, 0, 1], "multi-hot") == "[1, 0, 1]"
    assert label_text([1, 0, 1], "class-id") == "[0, 2]"
    assert label_text([0, 0], "class-id") == "[]"
    assert label_text([1.0], "multi-hot") == "[1]"


def test_label_string_form_choices():
    # What the pipe stream carries for a non-reference attribute (UNCONFIRMED in SageMaker's docs).
    assert label_string_form("0") == "0"
    assert label_string_form("[1, 0, 1]") == "[1, 0, 1]"
    assert label_string_form(0) == "0"
    assert label_string_form(1.5) == "1.5"
    assert label_string_form([1, 0, 8]) == "[1, 0, 8]"
    assert label_string_form(True) == "true"
    assert label_string_form("é") == "é"


@given(st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=40))
def test_multi_hot_text_round_trips(vector):
    for label_format in ("multi-hot", "class-id"):
        text = label_text(vector, label_format)
        back = parse_label(text, label_format, len(vector))
        np.testing.assert_array_equal(back, np.asarray(vector, np.float32))


@given(st.integers(min_value=0, max_value=10**6))
def test_single_label_text_round_trips(class_id):
    assert parse_label(label_text([float(class_id)])) == class_id
    assert parse_label(label_string_form(class_id)) == class_id
