"""icformat's own RecordIO handles as MXNet users need them (issue 20, items 2-4): an
``IndexedRecordFile`` pickles and reopens (spawn/forkserver workers), a ``RecordWriter`` nobody
closed leaves no litter, and ``.idx`` keys are parsed as MXNet parses them."""
from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icformat.errors import LineError, UsageError
from icformat.recordio.index import read_index, write_index
from icformat.recordio.random_access import IndexedRecordFile
from icformat.recordio.writer import RecordWriter, UnclosedWriterWarning


def _write(path, count=20, keys=None):
    with RecordWriter(str(path), index=True) as writer:
        for i in range(count):
            writer.write(b"record %d " % i * (i + 1), key=None if keys is None else keys[i])


def _read_in_child(records, position):
    return records.at(position)


def test_indexed_record_file_pickles_and_reopens(tmp_path):
    _write(tmp_path / "a.rec", keys=[f"k {i:03d}" for i in range(20)])
    with IndexedRecordFile(str(tmp_path / "a.rec"), key_type=str) as records:
        copy = pickle.loads(pickle.dumps(records))
        assert copy.keys == records.keys and copy.offsets == records.offsets
        assert copy["k 007"] == records["k 007"] == b"record 7 " * 8
        copy.close()
        for method in ("spawn", "forkserver"):
            with multiprocessing.get_context(method).Pool(1) as pool:
                assert pool.starmap(_read_in_child, [(records, 3), (records, 19)]) == [records.at(3), records.at(19)]


def _leftovers(folder):
    return sorted(os.listdir(folder))


def test_writer_dropped_without_close_leaves_nothing_and_warns(tmp_path):
    writer = RecordWriter(str(tmp_path / "a.rec"), index=True)
    writer.write(b"x" * 100)
    assert len(_leftovers(tmp_path)) == 2  # the two hidden temporary files
    with pytest.warns(UnclosedWriterWarning, match="a.rec: RecordWriter was never closed"):
        del writer
        gc.collect()
    assert _leftovers(tmp_path) == []


def test_closed_or_aborted_writers_do_not_warn(tmp_path, recwarn):
    _write(tmp_path / "a.rec")
    writer = RecordWriter(str(tmp_path / "b.rec"))
    writer.abort()
    del writer
    gc.collect()
    assert not [w for w in recwarn if w.category is UnclosedWriterWarning]
    assert _leftovers(tmp_path) == ["a.idx", "a.rec"]


def test_writer_left_open_when_the_script_ends(tmp_path):
    script = textwrap.dedent(f"""
        from icformat.recordio.writer import RecordWriter
        writer = RecordWriter({str(tmp_path / 'out.rec')!r}, index=True)
        writer.write(b"payload")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "RecordWriter was never closed" in done.stderr and "UnclosedWriterWarning" in done.stderr
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("key_type, expected", [
    (None, ["007", "8", "a key with spaces"]),
    (str, ["007", "8", "a key with spaces"]),
])
def test_idx_keys_as_mxnet_parses_them(tmp_path, key_type, expected):
    (tmp_path / "a.idx").write_text("007\t0\n8\t16\n  a key with spaces\t32  \n\n")
    assert read_index(tmp_path / "a.idx", key_type=key_type) == (expected, [0, 16, 32])


def test_idx_keys_typed(tmp_path):
    (tmp_path / "a.idx").write_text("007\t0\n8\t16\n")
    assert read_index(tmp_path / "a.idx", key_type=int) == ([7, 8], [0, 16])
    assert read_index(tmp_path / "a.idx") == (["007", "8"], [0, 16])  # not every key is written as an int
    (tmp_path / "b.idx").write_text("7\t0\n8 16\n-1\t32\n9 \t48\n")  # dmlc's C++ reader splits on any whitespace
    assert read_index(tmp_path / "b.idx") == ([7, 8, -1, 9], [0, 16, 32, 48])
    (tmp_path / "c.idx").write_text("a b\t0\n")
    with pytest.raises(UsageError, match="c.idx: key 'a b' is not a valid int.*key_type=str"):
        read_index(tmp_path / "c.idx", key_type=int)
    (tmp_path / "d.idx").write_text("1\t0\n2\t16\t9\n")
    with pytest.raises(LineError, match="d.idx:2: expected 'key<TAB>offset'"):
        read_index(tmp_path / "d.idx")


def test_string_keys_with_spaces_round_trip(tmp_path):
    keys = ["face 0001", "007", "x"]
    _write(tmp_path / "a.rec", count=3, keys=keys)
    with IndexedRecordFile(str(tmp_path / "a.rec")) as records:
        assert records.keys == keys
        assert records["007"] == b"record 1 " * 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=12)
                .map(str.strip).filter(bool), min_size=1, max_size=20))
def test_string_keys_written_are_read_back(keys):
    """Whatever MXIndexedRecordIO(key_type=str) writes (a stripped key without tabs or line breaks)
    comes back as written."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "a.idx")
        write_index(path, keys, range(0, 16 * len(keys), 16))
        assert read_index(path, key_type=str) == (keys, list(range(0, 16 * len(keys), 16)))
