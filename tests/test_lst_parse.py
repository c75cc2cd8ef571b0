"""The one ``.lst`` grammar (MXNet's im2rec read_list, made strict): the pyarrow fast path gives the
same rows and the same errors as the line-by-line parser, on any input (property test)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icformat.errors import LstError
from icformat.lst import read_lst
from icformat.lst.parse import parse_lst_bytes, parse_lst_tolerant
from icformat.lst.parse_arrow import parse_arrow
from icformat.lst.validate import validate_lst

_GOOD_INDEX = st.one_of(st.integers(-5, 10**6).map(str), st.sampled_from(["+5", "007", "-0", "9223372036854775807"]))
_BAD_INDEX = st.sampled_from(["2.0", "0x10", "1e3", "", "x", "99999999999999999999", "1_0", "٣", "-9223372036854775809"])
_GOOD_LABEL = st.one_of(st.integers(0, 20).map(str), st.floats(-1e6, 1e6, allow_nan=False).map(repr),
                        st.sampled_from(["1.000000", ".5", "1.", "1e3", "-0", "+1", "2.5E-3"]))
_BAD_LABEL = st.sampled_from(["", "nan", "inf", "1_0", "abc", "0x1", "1e999x", "--1"])
_PATH = st.one_of(st.sampled_from(["a.jpg", "dir/b c.png", "é/ü.jpg", "../up.jpg"]),
                  st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\r\n"), min_size=1, max_size=8))
_BLANK = st.sampled_from(["", "", "", " ", "  ", "\xa0", "\x0b", "\t"])
_END = st.sampled_from(["\n", "\n", "\r\n", "\r"])


def _cell(draw, good, bad):
    return draw(bad) if draw(st.integers(0, 24)) == 0 else draw(good)


@st.composite
def lst_lines(draw):
    width = draw(st.integers(1, 3))
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 29))
        if kind == 0:
            lines.append(draw(_BLANK))
            continue
        count = width if kind > 1 else draw(st.integers(0, 4))
        cells = [_cell(draw, _GOOD_INDEX, _BAD_INDEX)] + [_cell(draw, _GOOD_LABEL, _BAD_LABEL) for _ in range(count)] + [draw(_PATH)]
        blank = draw(st.integers(0, 9)) == 0
        lines.append("\t".join((draw(_BLANK) + c + draw(_BLANK)) if blank else c for c in cells))
    ends = [draw(_END) if draw(st.integers(0, 9)) == 0 else "\n" for _ in lines]
    text = "".join(line + end for line, end in zip(lines, ends))
    return (text.rstrip("\n") if draw(st.booleans()) else text).encode()


def _same_table(a, b) -> None:
    assert a.indices.tolist() == b.indices.tolist()
    assert a.labels.shape == b.labels.shape
    assert np.array_equal(a.labels, b.labels)
    assert a.paths == b.paths
    assert a.lines.tolist() == b.lines.tolist()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lst_lines())
def test_fast_path_gives_the_rows_and_errors_of_the_line_parser(data):
    fast = parse_arrow(data, "x.lst")
    plain, problems = parse_lst_tolerant(data, "x.lst")
    if fast is not None:
        assert problems == []  # the fast path never accepts a file with a bad line
        _same_table(fast, plain)
    try:
        table = parse_lst_bytes(data, name="x.lst")
    except LstError as exc:
        assert problems and exc.line == problems[0].line and exc.reason == problems[0].message
    else:
        assert problems == []
        _same_table(table, plain)


@pytest.mark.parametrize("bad", ["2.0", "0x10", "1e3", "1_0", " "])
@pytest.mark.parametrize("blank_line", [False, True])
def test_non_integer_indices_are_errors_in_every_path(tmp_path, bad, blank_line):
    rows = ["0\t1\ta.jpg", f"{bad}\t1\tb.jpg", "2\t1\tc.jpg"] * 50
    if blank_line:
        rows.insert(1, "")
    path = tmp_path / "x.lst"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(LstError, match="index .* is not an integer|expected index"):
        read_lst(str(path))
    result = validate_lst(str(path))
    assert not result.ok and result.errors[0].line == (3 if blank_line else 2)


@pytest.mark.parametrize("blank_line", [False, True])
def test_an_empty_label_cell_is_an_error_not_nan(tmp_path, blank_line):
    path = tmp_path / "x.lst"
    path.write_text("0\t0\ta.jpg\n" + ("\n" if blank_line else "") + "1\t\tb.jpg\n")
    with pytest.raises(LstError, match="empty cell"):
        read_lst(str(path))
    result = validate_lst(str(path))
    assert [p.code for p in result.errors] == ["bad-label"]


def test_mxnet_1x_and_newer_label_text_read_alike(tmp_path):
    path = tmp_path / "x.lst"
    path.write_text("0\t1.000000\ta.jpg\r\n1\t2\t b.jpg \r\n")
    table = read_lst(str(path))
    assert table.labels.tolist() == [[1.0], [2.0]] and table.paths == ["a.jpg", "b.jpg"]


def test_the_fast_path_takes_well_formed_files():
    """So that the property test above compares two real paths, not one and a refusal."""
    rows = "".join(f"{i}\t{i % 7}\t{float(i % 2):f}\tclass_{i % 7}/img {i:05d}.jpg\r\n" for i in range(2000)).encode()
    table = parse_arrow(rows, "big.lst")
    assert table is not None and len(table) == 2000 and table.label_width == 2
    assert table.paths[3] == "class_3/img 00003.jpg" and table.labels[3].tolist() == [3.0, 1.0]
