"""``read_bytes``'s fast path for local files (``read_local_file``: one os.open, fstat and read)
gives the bytes and the errors of opening the file the usual way."""
from __future__ import annotations

import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icformat.errors import IcformatError
from icformat.io.objects import read_bytes, read_local_file
from icformat.io.streams import open_input


def usual_read(path: str) -> bytes:
    with open_input(path, "rb") as f:
        return f.read()


def outcome(fn, path):
    try:
        return "ok", fn(path)
    except (IcformatError, OSError, ValueError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=5000) | st.sampled_from([b"", b"x", b"\0" * 70000]), scheme=st.sampled_from(["", "file://"]))
def test_same_bytes_as_the_usual_read(tmp_path_factory, data, scheme):
    path = tmp_path_factory.mktemp("read") / "f.bin"
    path.write_bytes(data)
    assert read_local_file(str(path)) == data
    assert read_bytes(scheme + str(path)) == usual_read(scheme + str(path)) == data


@pytest.mark.parametrize("kind", ["missing", "folder", "nul"])
def test_same_errors_as_the_usual_read(tmp_path, kind):
    path = str(tmp_path / "x")
    if kind == "folder":
        os.mkdir(path)
    elif kind == "nul":
        path += "\0y"
    assert read_local_file(path) is None  # left to the usual open...
    assert outcome(read_bytes, path) == outcome(usual_read, path)  # ...which raises as before
    assert outcome(read_bytes, path)[0] != "ok"


def test_a_fifo_is_opened_once_and_read_to_its_end(tmp_path):
    path = str(tmp_path / "fifo")
    os.mkfifo(path)

    def feed() -> None:
        with open(path, "wb") as f:
            f.write(b"streamed bytes" * 1000)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert read_bytes(path) == b"streamed bytes" * 1000
    finally:
        writer.join()


def test_a_file_that_grows_while_read_is_read_to_its_end(tmp_path):
    """The read after the first one finds what was appended since the size was taken."""
    path = tmp_path / "growing"
    path.write_bytes(b"a" * 10)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        first = read_local_file(str(path))
        os.write(fd, b"b" * (3 << 20))
        second = read_local_file(str(path))
    finally:
        os.close(fd)
    assert first == b"a" * 10 and second == b"a" * 10 + b"b" * (3 << 20)


def test_a_file_that_says_it_is_empty_is_still_read_to_its_end():
    """Files of /proc report size 0 yet have content: the read does not stop at the size."""
    assert b"Name:" in read_local_file("/proc/self/status")
