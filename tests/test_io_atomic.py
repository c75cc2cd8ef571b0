"""Atomic outputs: files and folders appear whole or not at all, and leave no folder behind."""
from __future__ import annotations

import os

import pytest

from icformat.errors import UsageError
from icformat.io import atomic_folder, open_output


def test_atomic_folder_appears_only_on_success(tmp_path):
    dest = tmp_path / "out"
    with atomic_folder(dest) as tmp:
        os.makedirs(os.path.join(tmp, "images"))
        with open(os.path.join(tmp, "images", "a.jpg"), "wb") as f:
            f.write(b"x")
        assert not dest.exists()
    assert (dest / "images" / "a.jpg").read_bytes() == b"x"
    assert os.listdir(tmp_path) == ["out"]


def test_atomic_folder_failure_leaves_nothing(tmp_path):
    dest = tmp_path / "late" / "deeper" / "out"
    with pytest.raises(RuntimeError):
        with atomic_folder(dest) as tmp:
            open(os.path.join(tmp, "partial"), "wb").close()
            raise RuntimeError("damage")
    assert os.listdir(tmp_path) == []


def test_atomic_folder_merges_into_existing_folder(tmp_path):
    dest = tmp_path / "out"
    (dest / "images").mkdir(parents=True)
    (dest / "keep.txt").write_text("kept")
    (dest / "images" / "old.jpg").write_bytes(b"old")
    with atomic_folder(dest) as tmp:
        os.makedirs(os.path.join(tmp, "images"))
        open(os.path.join(tmp, "images", "new.jpg"), "wb").close()
    assert sorted(os.listdir(dest / "images")) == ["new.jpg", "old.jpg"]
    assert (dest / "keep.txt").read_text() == "kept"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_atomic_folder_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="not a folder"):
        with atomic_folder(tmp_path / "f"):
            pass


def test_failed_output_file_leaves_no_folder(tmp_path):
    with pytest.raises(RuntimeError):
        with open_output(tmp_path / "late" / "m.rec") as f:
            f.write(b"abc")
            raise RuntimeError("failed")
    assert os.listdir(tmp_path) == []
    with open_output(tmp_path / "late" / "m.rec") as f:
        f.write(b"abc")
    assert (tmp_path / "late" / "m.rec").read_bytes() == b"abc"


def test_output_to_a_folder_name_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        open_output(str(tmp_path) + "/")


def test_a_named_pipe_is_written_in_place_not_replaced(tmp_path):
    """A FIFO as the output (a reader waiting on it): the records stream into it, and it is still
    a FIFO afterwards, with no temporary file beside it."""
    import stat
    import threading

    from icformat.recordio import RecordReader, RecordWriter

    fifo = tmp_path / "out.rec"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with RecordWriter(fifo, index=str(tmp_path / "out.idx")) as writer:
        for payload in (b"first", b"second record", b""):
            writer.write(payload)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["out.idx", "out.rec"]
    (tmp_path / "copy.rec").write_bytes(received[0])
    assert [bytes(r) for r in RecordReader(tmp_path / "copy.rec")] == [b"first", b"second record", b""]


def test_dev_null_is_written_in_place(tmp_path):
    """``-o /dev/null`` discards the output: no temporary file is made beside the device, so none
    can be renamed over it (as root, that replaced /dev/null with the output)."""
    import stat

    output = open_output("/dev/null")
    try:
        assert output.temporary_path is None
        output.file.write(b"discarded")
    finally:
        output.abort()  # on a regression: drops the temporary file, /dev/null untouched
    with open_output("/dev/null") as f:
        f.write(b"discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
