"""``validate_manifest`` and ``icformat manifest validate``: every problem, with its line number."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from icformat.cli import cli
from icformat.manifest import Problem, validate_manifest
from icformat.manifest import validate as validate_module

ENGINES = ["auto", "python"]

# (line text, expected problems on that line as substrings); checked with num_classes=3.
BAD_LINES = [
    ('{"source-ref":"s3://b/0.jpg","class":"0"}', []),
    ('{"source-ref":"s3://b/1.jpg","class":"3"}', ["class id 3 is out of range: must be [0, 3)"]),
    ('{"source-ref": "s3://b/2.jpg", "class": }', ["invalid JSON: Expecting value at column 41"]),
    ("[1, 2]", ["expected a JSON object, got an array"]),
    ('{"source-ref":"s3://b/3.jpg"}', ["attribute 'class' is missing (AttributeNames: source-ref, class); SageMaker fails such a manifest with 'Got empty batch from pipe'"]),
    ('{"class":"1"}', ["attribute 'source-ref' is missing"]),
    ('{"source-ref":null,"class":"1"}', ["attribute 'source-ref' is null"]),
    ('{"source-ref":5,"class":"1"}', ["attribute 'source-ref' must be a URI string, got a number"]),
    ('{"source-ref":"","class":"1"}', ["attribute 'source-ref' is an empty string"]),
    ('{"source-ref":"s3://b/0.jpg","class":"1"}', ["same image as line 1: s3://b/0.jpg"]),
    ("", []),
    ('{"source-ref":"s3://b/4.jpg","class":"-1"}', ["class id -1 is out of range"]),
    ('{"source-ref":"s3://b/5.jpg","class":"1.5"}', ["class id 1.5 is not a whole number"]),
    ('{"source-ref":"s3://b/6.jpg","class":"[1, 0, 1]"}', ["label is a multi-hot list where line 1 has a single class id"]),
    ('{"source-ref":"s3://b/7.jpg","class":"cat"}', ['label "cat" is neither a class id nor a list of labels']),
    ('{"source-ref":"s3://b/8.jpg","class":true}', ["label must be a number, got true"]),
    ('{"source-ref":"s3://b/9.jpg","class":"2","class-metadata":{"class-name":"bird"}}', []),
    ('{"source-ref":"s3://b/0.jpg"}', ["attribute 'class' is missing", "same image as line 1: s3://b/0.jpg"]),
]


def write_manifest_text(path, lines) -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(line + "\n" for line in lines))
    return str(path)


def expected_problems(path, table):
    found = []
    for number, (_, messages) in enumerate(table, 1):
        found += [(number, m) for m in messages]
    return found


def assert_problems(problems, path, expected):
    assert [p.line for p in problems] == [line for line, _ in expected], "\n".join(map(str, problems))
    for problem, (_, message) in zip(problems, expected):
        assert message in problem.message, str(problem)
        assert problem.path == path


@pytest.mark.parametrize("engine", ENGINES)
def test_every_problem_with_its_line(tmp_path, engine):
    path = write_manifest_text(tmp_path / "bad.manifest", [line for line, _ in BAD_LINES])
    problems = validate_manifest(path, "source-ref,class", num_classes=3, engine=engine)
    assert_problems(problems, path, expected_problems(path, BAD_LINES))
    assert str(problems[0]) == f"{path}:2: class id 3 is out of range: must be [0, 3)"


@pytest.mark.parametrize("chunk_bytes", [1, 60, 200, 1000])
def test_engines_agree_across_chunk_sizes(tmp_path, chunk_bytes):
    path = write_manifest_text(tmp_path / "bad.manifest", [line for line, _ in BAD_LINES])
    reference = validate_manifest(path, "source-ref,class", num_classes=3, engine="python")
    assert validate_manifest(path, "source-ref,class", num_classes=3, chunk_bytes=chunk_bytes) == reference


def homogeneous_manifest(tmp_path, count=300):
    """String labels throughout (pyarrow reads every chunk), with label, presence and duplicate problems."""
    lines = []
    for i in range(count):
        record = {"source-ref": f"s3://bucket/train/img_{i % 250:05d}.jpg", "class": str(i % 4), "class-metadata": {"class-name": f"c{i % 4}", "confidence": 0.5}}
        if i % 37 == 5:
            del record["class"]
        if i % 41 == 7:
            record["class"] = None
        lines.append(json.dumps(record))
        if i % 53 == 0:
            lines.append("")
    return write_manifest_text(tmp_path / "big.manifest", lines)


def test_fast_path_is_used_and_agrees(tmp_path, monkeypatch):
    path = homogeneous_manifest(tmp_path)
    reference = validate_manifest(path, "source-ref,class", num_classes=3, engine="python")
    calls = []
    original = validate_module.Validator.check_chunk_python
    monkeypatch.setattr(validate_module.Validator, "check_chunk_python", lambda self, *a: calls.append(a) or original(self, *a))
    problems = validate_manifest(path, "source-ref,class", num_classes=3, chunk_bytes=4000)
    assert calls == []  # every chunk went through pyarrow
    assert problems == reference
    messages = {p.message.split(";")[0] for p in problems}
    assert "class id 3 is out of range: must be [0, 3)" in messages
    assert any(m.startswith("same image as line") and m.endswith("s3://bucket/train/img_00000.jpg") for m in messages)
    assert "attribute 'class' is null" in messages and "attribute 'class' is missing (AttributeNames: source-ref, class)" in messages


@pytest.mark.parametrize("engine", ENGINES)
def test_ground_truth_manifests_are_valid(tmp_path, engine):
    from tests.test_manifest_parse import GT_MULTI, GT_SINGLE

    single = write_manifest_text(tmp_path / "single.manifest", [json.dumps(r) for r in GT_SINGLE])
    assert validate_manifest(single, "source-ref,species", num_classes=2, engine=engine).problems == []
    multi = write_manifest_text(tmp_path / "multi.manifest", [json.dumps(r) for r in GT_MULTI])
    assert validate_manifest(multi, "source-ref,labels", num_classes=9, label_format="class-id", engine=engine).problems == []
    problems = validate_manifest(multi, "source-ref,labels", num_classes=9, engine=engine)
    assert [str(p) for p in problems] == [
        f"{multi}:1: multi-hot values must be 0 or 1, got 8; for lists of class ids use label format class-id",
        f"{multi}:2: multi-hot label has 0 values but num_classes is 9",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_label_width_and_format_problems(tmp_path, engine):
    lines = ['{"image-ref":"a.jpg","class":"[1, 0, 1]"}', '{"image-ref":"b.jpg","class":"[0, 1]"}', '{"image-ref":"c.jpg","class":[0, 0, 1]}', '{"image-ref":"d.jpg","class":"1"}']
    path = write_manifest_text(tmp_path / "m.manifest", lines)
    assert [str(p) for p in validate_manifest(path, "image-ref,class", engine=engine)] == [
        f"{path}:2: multi-hot label has 2 values where line 1 has 3",
        f"{path}:4: label is a single class id where line 1 has a multi-hot list",
    ]
    assert [p.line for p in validate_manifest(path, "image-ref,class", num_classes=3, engine=engine)] == [2, 4]
    ids = write_manifest_text(tmp_path / "ids.manifest", ['{"image-ref":"a.jpg","class":"[0, 2]"}', '{"image-ref":"b.jpg","class":"[2, 2]"}', '{"image-ref":"c.jpg","class":"[5]"}'])
    assert [p.message for p in validate_manifest(ids, "image-ref,class", num_classes=3, label_format="class-id", engine=engine)] == [
        "class id 2 is listed twice",
        "class id 5 is out of range: must be [0, 3)",
    ]


@pytest.mark.parametrize(
    "names, message",
    [
        ("class,source-ref", "the image attribute 'source-ref' must come first in AttributeNames (image, then label); got class, source-ref"),
        ("image,class", "no attribute in AttributeNames ends in -ref, so SageMaker would stream the text of 'image' instead of the image bytes"),
        ("source-ref,class,extra", "image classification reads 2 attributes (the image reference, then the label); AttributeNames has 3"),
        ("source-ref,label-ref", "'label-ref' ends in -ref, so SageMaker would send the object it points to"),
    ],
)
def test_attribute_names_problems(tmp_path, names, message):
    record = {"source-ref": "a.jpg", "class": "0", "image": "a.jpg", "extra": 1, "label-ref": "b.jpg"}
    path = write_manifest_text(tmp_path / "m.manifest", [json.dumps(record)])
    problems = validate_manifest(path, names)
    assert problems[0].line is None and message in problems[0].message
    assert str(problems[0]).startswith(f"{path}: ")


def test_empty_manifest_is_a_problem(tmp_path):
    path = write_manifest_text(tmp_path / "m.manifest", ["", "  "])
    assert [p.message.split(";")[0] for p in validate_manifest(path, "source-ref,class")] == ["the manifest has no lines"]


@pytest.mark.parametrize("engine", ENGINES)
def test_invalid_utf8_and_odd_whitespace(tmp_path, engine):
    path = tmp_path / "m.manifest"
    path.write_bytes(b'{"source-ref":"a.jpg","class":"0"}\n{"source-ref":"\xff.jpg","class":"0"}\n  {"source-ref":"c.jpg","class":"0"}  \r\n\t\n\x0c{"source-ref":"d.jpg","class":"0"}\n')
    problems = validate_manifest(str(path), "source-ref,class", engine=engine)
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [(2, "not valid UTF-8"), (5, "invalid JSON: Expecting value at column 1; each line must be one JSON object")]


@pytest.mark.parametrize("engine", ENGINES)
def test_check_refs_local(tmp_path, engine):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(b"\xff\xd8\xff")
    lines = [
        json.dumps({"source-ref": "imgs/a.jpg", "class": "0"}),
        json.dumps({"source-ref": str(tmp_path / "imgs" / "a.jpg"), "class": "0"}),
        json.dumps({"source-ref": "imgs/missing.jpg", "class": "0"}),
        json.dumps({"source-ref": "imgs", "class": "0"}),
        json.dumps({"source-ref": "imgs/missing.jpg", "class": "0"}),
    ]
    path = write_manifest_text(tmp_path / "m.manifest", lines)
    assert validate_manifest(path, "source-ref,class", engine=engine).problems == [
        Problem(path, 5, "same image as line 3: imgs/missing.jpg", "warning", "duplicate-image")
    ]
    problems = validate_manifest(path, "source-ref,class", check_refs=True, engine=engine)
    assert [str(p) for p in problems] == [
        f"{path}:3: cannot read 'imgs/missing.jpg': no such file",
        f"{path}:4: cannot read 'imgs': not a regular file",
        f"{path}:5: warning: same image as line 3: imgs/missing.jpg",
        f"{path}:5: cannot read 'imgs/missing.jpg': no such file",
    ]


def test_bad_options():
    from icformat.errors import IcformatError

    with pytest.raises(IcformatError, match="num_classes must be at least 1"):
        validate_manifest("x", "source-ref,class", num_classes=0)
    with pytest.raises(IcformatError, match="unknown label format"):
        validate_manifest("x", "source-ref,class", label_format="one-hot")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        validate_manifest(str(tmp_path / "nope.manifest"), "source-ref,class")


# Property: the pyarrow fast path and the line-by-line reference report exactly the same problems.
LINE_POOL = [
    '{"source-ref":"s3://b/a.jpg","class":"0"}',
    '{"source-ref":"s3://b/b.jpg","class":"1","class-metadata":{"x":[1,2]}}',
    '{"source-ref":"s3://b/c.jpg","class":"7"}',
    '{"source-ref":"s3://b/c.jpg","class":2}',
    '{"source-ref":"s3://b/d.jpg","class":"[1, 0, 1]"}',
    '{"source-ref":"s3://b/e.jpg","class":[0, 2]}',
    '{"source-ref":"s3://b/f.jpg","class":[1, 0]}',
    '{"source-ref":"s3://b/g.jpg"}',
    '{"source-ref":"s3://b/h.jpg","class":null}',
    '{"class":"1"}',
    '{"source-ref":"","class":"1"}',
    '{"source-ref":3,"class":"1"}',
    '{"source-ref":"s3://b/i.jpg","class":"x"}',
    '{"source-ref":"s3://b/j.jpg","class":1.5}',
    '{"source-ref":"s3://b/k.jpg","class":"0"} {"source-ref":"s3://b/l.jpg","class":"0"}',
    '{"source-ref":"s3://b/m.jpg",',
    '"class":"0"}',
    "[]",
    "",
    "   ",
    ' {"source-ref":"s3://b/n.jpg","class":"1"} ',
    '{"source-ref":"s3://b/o.jpg","class":"1","class":"2"}',
    '{"source-ref":"s3://b/p.jpg","class":[1, null]}',
    '{"source-ref":"s3://b/q.jpg","class":true}',
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(LINE_POOL), min_size=0, max_size=25),
    st.integers(min_value=1, max_value=400),
    st.sampled_from([None, 3]),
    st.sampled_from(["multi-hot", "class-id"]),
)
def test_property_engines_agree(tmp_path_factory, lines, chunk_bytes, num_classes, label_format):
    path = write_manifest_text(tmp_path_factory.mktemp("prop") / "m.manifest", lines)
    options = dict(num_classes=num_classes, label_format=label_format)
    reference = validate_manifest(path, "source-ref,class", engine="python", **options)
    assert validate_manifest(path, "source-ref,class", chunk_bytes=chunk_bytes, **options) == reference
    assert validate_manifest(path, "source-ref,class", **options) == reference


# CLI --------------------------------------------------------------------------------------------
def run_cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``icformat`` through ``main`` (which returns the exit status) and capture its output."""
    from icformat.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_lists_problems_and_exits_1(tmp_path, capsys):
    path = write_manifest_text(tmp_path / "bad.manifest", [line for line, _ in BAD_LINES])
    code, out, err = run_cli(capsys, "manifest", "validate", path, "--attribute-names", "source-ref,class", "--num-classes", "3")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{path}:2: class id 3 is out of range: must be [0, 3)"
    assert len([line for line in lines[:-1] if line.startswith(path + ":")]) == len(expected_problems(path, BAD_LINES))
    assert lines[-1] == f"{path}: 17 rows: {len(expected_problems(path, BAD_LINES)) - 2} errors, 2 warnings"


def test_cli_ok_exits_0(tmp_path, capsys):
    good = write_manifest_text(tmp_path / "good.manifest", ['{"source-ref":"a.jpg","class":"[0, 2]"}'])
    code, out, _ = run_cli(
        capsys, "manifest", "validate", good, "--attribute-names", "source-ref,class",
        "--content-type", "application/x-recordio; label-format=class-id", "--num-classes", "3",
    )
    assert code == 0 and out.strip() == f"{good}: 1 rows: 0 errors, 0 warnings"
    result = CliRunner().invoke(cli, ["manifest", "validate", good, "--attribute-names", "source-ref,class", "--label-format", "class-id"])
    assert result.exit_code == 0 and result.stdout.strip() == f"{good}: 1 rows: 0 errors, 0 warnings"


def test_problems_carry_stable_codes(tmp_path):
    lines = ['{"source-ref":"a.jpg","class":"0"}', '{"source-ref":"b.jpg","class":"7"}', '{"source-ref":"c.jpg","class":"1.5"}',
             '{"source-ref":"a.jpg","class":"1"}', '{"class":"1"}', 'not json']
    path = write_manifest_text(tmp_path / "m.manifest", lines)
    codes = [(p.line, p.code, p.severity) for p in validate_manifest(path, "source-ref,class", num_classes=3)]
    assert codes == [(2, "label-out-of-range", "error"), (3, "label-not-integer", "error"), (4, "duplicate-image", "warning"),
                     (5, "missing-attribute", "error"), (6, "invalid-json", "error")]


def test_cli_json(tmp_path, capsys):
    good = write_manifest_text(tmp_path / "good.manifest", ['{"source-ref":"a.jpg","class":"[0, 2]"}'])
    code, out, _ = run_cli(capsys, "manifest", "validate", good, "--attribute-names", "source-ref,class", "--num-classes", "3", "--json")
    assert code == 1
    assert json.loads(out) == {
        "path": good,
        "ok": False,
        "rows": 1,
        "errors": 1,
        "warnings": 0,
        "problems": [{"path": good, "line": 1, "offset": None, "code": "multi-hot-value", "severity": "error",
                      "message": "multi-hot values must be 0 or 1, got 2; for lists of class ids use label format class-id"}],
    }


def test_cli_contradicting_label_options(tmp_path, capsys):
    good = write_manifest_text(tmp_path / "good.manifest", ['{"source-ref":"a.jpg","class":"0"}'])
    code, _, err = run_cli(
        capsys, "manifest", "validate", good, "--attribute-names", "source-ref,class",
        "--label-format", "multi-hot", "--content-type", "application/x-recordio; label-format=class-id",
    )
    assert code == 2 and "contradicts" in err


def test_cli_bad_attribute_names_is_one_line(tmp_path, capsys):
    good = write_manifest_text(tmp_path / "good.manifest", ['{"source-ref":"a.jpg","class":"0"}'])
    code, _, err = run_cli(capsys, "manifest", "validate", good, "--attribute-names", "a,a")
    assert code == 2 and err.strip().startswith("icformat: usage: ") and "listed twice" in err and len(err.strip().splitlines()) == 1


def test_cli_check_refs(tmp_path, capsys):
    path = write_manifest_text(tmp_path / "m.manifest", ['{"source-ref":"missing.jpg","class":"0"}'])
    code, out, _ = run_cli(capsys, "manifest", "validate", path, "--attribute-names", "source-ref,class", "--check-refs")
    assert code == 1
    assert out.splitlines() == [f"{path}:1: cannot read 'missing.jpg': no such file", f"{path}: 1 rows: 1 error, 0 warnings"]
