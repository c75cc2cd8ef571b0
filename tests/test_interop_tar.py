"""The tar fast paths agree with :mod:`tarfile`: member headers byte for byte, and the memory-mapped
reader sample for sample and error for error, on tars of every format ``tarfile`` writes."""
from __future__ import annotations

import gzip
import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icformat.errors import FormatError
from icformat.interop.tar import END_OF_ARCHIVE, _tarfile_header, iter_tar_samples, member_header, member_pieces


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=120), st.integers(min_value=0, max_value=8**12))
def test_member_header_is_tarfiles(name, size):
    assert member_header(name, size) == _tarfile_header(name, size)


def _tar(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(data, str):
                info.type = tarfile.SYMTYPE
                info.linkname = data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _ours(members) -> bytes:
    return b"".join(bytes(p) for name, data in members for p in member_pieces(name, data)) + END_OF_ARCHIVE


def _read(path, fast):
    try:
        return [(s.key, s.members, s.offset) for s in iter_tar_samples(str(path), fast=fast)], None
    except FormatError as exc:
        return None, str(exc)


PLAIN = [("1.jpg", b"\xff\xd8" * 300), ("1.cls", b"3"), ("2.png", b"x" * 512), ("2.json", b"{}"), ("3.cls", b"")]
LONG = [("d" * 90 + "/" + "k" * 60 + ".jpg", b"a" * 10), ("d" * 90 + "/" + "k" * 60 + ".cls", b"1")]
CASES = {
    "ours": _ours(PLAIN),
    "ours-long-names": _ours(LONG),
    "ustar": _tar(PLAIN, tarfile.USTAR_FORMAT),
    "ustar-prefix": _tar(LONG, tarfile.USTAR_FORMAT),
    "gnu": _tar(PLAIN + LONG, tarfile.GNU_FORMAT),
    "pax": _tar(PLAIN + LONG + [("é.jpg", b"1")], tarfile.PAX_FORMAT),
    "folders": _tar([("a", None), ("a/1.jpg", b"z"), ("a/1.cls", b"0")], tarfile.USTAR_FORMAT),
    "link": _tar([("1.jpg", b"z"), ("1.cls", "1.jpg")], tarfile.USTAR_FORMAT),
    "no-dot": _tar([("README", b"z")], tarfile.USTAR_FORMAT),
    "twice": _tar([("1.jpg", b"z"), ("1.jpg", b"y")], tarfile.USTAR_FORMAT),
    "no-end": _ours(PLAIN)[: -len(END_OF_ARCHIVE)],
    "truncated-data": _ours(PLAIN)[:700],
    "truncated-header": _ours(PLAIN)[: 1024 + 1536 + 100],
    "zeros-first": b"\0" * 2048 + _ours(PLAIN),
    "bad-checksum": _ours(PLAIN)[:148] + b"0000001\0" + _ours(PLAIN)[156:],
    "gzip": gzip.compress(_ours(PLAIN), mtime=0),
    "not-a-tar": b"\x00\x01" * 600,
    "empty": b"",
}


@pytest.mark.parametrize("case", CASES)
def test_fast_reader_agrees_with_tarfile(tmp_path, case):
    path = tmp_path / "t.tar"
    path.write_bytes(CASES[case])
    assert _read(path, True) == _read(path, False)


def test_the_cases_cover_both_outcomes(tmp_path):
    outcomes = set()
    for case in CASES:
        (tmp_path / "t.tar").write_bytes(CASES[case])
        samples, error = _read(tmp_path / "t.tar", True)
        outcomes.add(error is None)
    assert outcomes == {True, False}
    (tmp_path / "t.tar").write_bytes(CASES["ours"])
    assert [key for key, _, _ in _read(tmp_path / "t.tar", True)[0]] == ["1", "2", "3"]


@pytest.mark.parametrize("case", ["ours", "ustar", "ustar-prefix", "folders"])
def test_plain_tars_take_the_fast_path(tmp_path, monkeypatch, case):
    (tmp_path / "t.tar").write_bytes(CASES[case])
    expected = _read(tmp_path / "t.tar", False)
    monkeypatch.setattr(tarfile, "open", None)  # the fast path must not need it
    assert _read(tmp_path / "t.tar", True) == expected
