"""Reading and writing augmented manifests in AttributeNames order (Ground Truth shapes included)."""
from __future__ import annotations

import io
import itertools
import json
import os
from pathlib import Path

import pytest

from icformat.errors import ManifestError
from icformat.manifest import ManifestRow, is_ref_attribute, parse_attribute_names, read_manifest, write_manifest

GT_SINGLE = [
    {
        "source-ref": "s3://bucket/images/dog1.jpg",
        "species": "0",
        "species-metadata": {
            "class-name": "dog",
            "job-name": "labeling-job/animals",
            "confidence": 0.93,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "creation-date": "2020-01-01T00:00:00.000000",
        },
    },
    {"source-ref": "s3://bucket/images/cat1.jpg", "species": 1, "species-metadata": {"class-name": "cat", "type": "groundtruth/image-classification"}},
]
GT_MULTI = [
    {
        "source-ref": "s3://bucket/images/a.jpg",
        "labels": [1, 0, 8],
        "labels-metadata": {
            "job-name": "labeling-job/multi",
            "class-map": {"0": "dog", "1": "cat", "8": "bird"},
            "confidence-map": {"0": 0.77, "1": 0.95, "8": 0.2},
            "type": "groundtruth/image-classification-multilabel",
            "human-annotated": "yes",
        },
        "unlisted": {"ignored": True},
    },
    {"source-ref": "s3://bucket/images/b.jpg", "labels": [], "labels-metadata": {"type": "groundtruth/image-classification-multilabel"}},
]


def write_lines(path, lines) -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))
    return str(path)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("source-ref,class", ("source-ref", "class")),
        (" source-ref , class ", ("source-ref", "class")),
        ('["image-ref", "label"]', ("image-ref", "label")),
        (["source-ref", "class"], ("source-ref", "class")),
        ("source-ref", ("source-ref",)),
    ],
)
def test_parse_attribute_names(spec, expected):
    assert parse_attribute_names(spec) == expected


@pytest.mark.parametrize("spec, message", [("", "separated by commas"), ("a,,b", "separated by commas"), ("a,a", "listed twice"), ('["a"', "not a valid JSON list")])
def test_parse_attribute_names_refuses(spec, message):
    with pytest.raises(ManifestError, match=message):
        parse_attribute_names(spec)


def test_ref_attributes():
    assert is_ref_attribute("source-ref") and is_ref_attribute("image-ref")
    assert not is_ref_attribute("class") and not is_ref_attribute("source-ref-metadata")


def test_ground_truth_single_label(tmp_path):
    path = write_lines(tmp_path / "gt.manifest", GT_SINGLE)
    rows = list(read_manifest(path, "source-ref,species"))
    assert [r.values for r in rows] == [("s3://bucket/images/dog1.jpg", "0"), ("s3://bucket/images/cat1.jpg", 1)]
    assert [r.line for r in rows] == [1, 2]
    assert rows[0].ref == "s3://bucket/images/dog1.jpg" and rows[0].label_value == "0"
    assert rows[0].record["species-metadata"]["class-name"] == "dog"


def test_ground_truth_multi_label(tmp_path):
    path = write_lines(tmp_path / "gt.manifest", GT_MULTI)
    rows = list(read_manifest(path, ["source-ref", "labels"]))
    assert [r.values for r in rows] == [("s3://bucket/images/a.jpg", [1, 0, 8]), ("s3://bucket/images/b.jpg", [])]


def test_attribute_names_order_sets_the_values_order(tmp_path):
    path = write_lines(tmp_path / "m.manifest", [{"class": "2", "source-ref": "x.jpg"}])
    assert next(read_manifest(path, "source-ref,class")).values == ("x.jpg", "2")
    assert next(read_manifest(path, "class,source-ref")).values == ("2", "x.jpg")


def test_blank_lines_crlf_and_bom_keep_line_numbers(tmp_path):
    path = tmp_path / "m.manifest"
    path.write_bytes(b'\xef\xbb\xbf{"source-ref":"a.jpg","class":"0"}\r\n\r\n  \n{"source-ref":"b.jpg","class":"1"}\r\n')
    rows = list(read_manifest(str(path), "source-ref,class"))
    assert [(r.line, r.values) for r in rows] == [(1, ("a.jpg", "0")), (4, ("b.jpg", "1"))]


def test_lines_split_across_read_chunks(tmp_path):
    from icformat.manifest import parse

    lines = [{"source-ref": f"img{i}.jpg", "class": str(i % 3)} for i in range(200)]
    path = write_lines(tmp_path / "m.manifest", lines)
    with open(path, "rb") as f:
        rows = list(parse.iter_lines(f, 37))
    assert [n for n, _ in rows] == list(range(1, 201))
    assert [json.loads(raw) for _, raw in rows] == lines


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"source-ref": "a.jpg", "class": "0"', "m.manifest:2: invalid JSON: Expecting ',' delimiter at column 37; each line must be one JSON object"),
        ("[1, 2]", "m.manifest:2: expected a JSON object, got an array"),
        ('{"source-ref": "a.jpg"}', "m.manifest:2: attribute 'class' is missing (AttributeNames: source-ref, class); SageMaker fails such a manifest with 'Got empty batch from pipe'"),
        ('{"source-ref": "a.jpg", "class": null}', "m.manifest:2: attribute 'class' is null"),
        ('{"source-ref": 7, "class": "0"}', "m.manifest:2: attribute 'source-ref' must be a URI string, got a number"),
        ('{"source-ref": "", "class": "0"}', "m.manifest:2: attribute 'source-ref' is an empty string; it must hold the object's URI"),
    ],
)
def test_bad_lines_raise_with_file_and_line(tmp_path, line, message):
    path = write_lines(tmp_path / "m.manifest", [{"source-ref": "ok.jpg", "class": "0"}, line + "\n"])
    rows = read_manifest(path, "source-ref,class")
    assert next(rows).line == 1
    with pytest.raises(ManifestError) as info:
        next(rows)
    assert str(info.value) == f"{path}:2: {message.split(': ', 1)[1]}"
    assert info.value.line == 2 and info.value.path == path


def test_invalid_utf8_is_named(tmp_path):
    path = tmp_path / "m.manifest"
    path.write_bytes(b'{"source-ref": "\xff.jpg", "class": "0"}\n')
    with pytest.raises(ManifestError, match=r"m.manifest:1: not valid UTF-8"):
        list(read_manifest(str(path), "source-ref,class"))


def test_read_from_file_object():
    data = io.BytesIO(b'{"source-ref":"a.jpg","class":"0"}\n')
    assert [r.values for r in read_manifest(data, "source-ref,class")] == [("a.jpg", "0")]
    assert not data.closed


def test_write_manifest_round_trip(tmp_path):
    dest = str(tmp_path / "out" / "m.manifest")
    assert write_manifest(dest, GT_MULTI + GT_SINGLE) == 4
    text = Path(dest).read_text(encoding="utf-8")
    assert text.count("\n") == 4 and text.startswith('{"source-ref":"s3://bucket/images/a.jpg","labels":[1,0,8],')
    assert [json.loads(line) for line in text.splitlines()] == GT_MULTI + GT_SINGLE
    rows = list(itertools.islice(read_manifest(dest, "source-ref,labels"), 2))
    copy = str(tmp_path / "copy.manifest")
    write_manifest(copy, rows)
    assert [r.record for r in read_manifest(copy, "source-ref,labels")] == GT_MULTI
    assert isinstance(rows[0], ManifestRow)


def test_write_manifest_keeps_non_ascii(tmp_path):
    dest = str(tmp_path / "m.manifest")
    write_manifest(dest, [{"source-ref": "s3://b/été.jpg", "class": "0"}])
    assert "été" in Path(dest).read_text(encoding="utf-8")


def test_write_manifest_leaves_nothing_on_error(tmp_path):
    dest = tmp_path / "m.manifest"

    def records():
        yield {"source-ref": "a.jpg", "class": "0"}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_manifest(str(dest), records())
    assert os.listdir(tmp_path) == []
