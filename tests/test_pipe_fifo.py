"""SageMaker's pipe-mode FIFOs for real: a server feeding ``<channel>_<epoch>`` and PipeReader reading them."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from icformat.errors import IcformatError
from icformat.pipe import PipeReader, fifo_path, serve_channel, write_pipe_stream
from icformat.pipe.fifo import make_fifo
from icformat.recordio import IRHeader, RecordReader, RecordWriter, pack

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
NAMES = "source-ref,class"


def read_records(src) -> list[bytes]:
    """Every record of a .rec (path, URI or file object), the reader closed afterwards."""
    with RecordReader(src) as reader:
        return list(reader)


class Server(threading.Thread):
    """``serve_channel`` on a thread; ``join_result()`` returns its reports or raises its error."""

    def __init__(self, *args, **kwargs):
        super().__init__(daemon=True)
        kwargs.setdefault("timeout", 30)
        self.args, self.kwargs = args, kwargs
        self.reports = self.error = None
        self.start()

    def run(self) -> None:
        try:
            self.reports = serve_channel(*self.args, **self.kwargs)
        except BaseException as exc:  # handed to the test thread
            self.error = exc

    def join_result(self):
        self.join(30)
        assert not self.is_alive(), "server still running"
        if self.error is not None:
            raise self.error
        return self.reports


@pytest.fixture
def photo_manifest(tmp_path, photo_tree):
    paths = sorted(os.path.join(c, f) for c in os.listdir(photo_tree) for f in os.listdir(os.path.join(photo_tree, c)))
    path = tmp_path / "train.manifest"
    with open(path, "w") as f:
        for p in paths:
            f.write(json.dumps({"source-ref": os.path.join(photo_tree, p), "class": p.split("/")[0][-1], "class-metadata": {"type": "groundtruth/image-classification"}}) + "\n")
    expected = [(Path(os.path.join(photo_tree, p)).read_bytes(), float(p.split("/")[0][-1])) for p in paths]
    return str(path), expected


def big_rec(tmp_path, count=48, size=64 << 10) -> str:
    """A .rec larger than any pipe buffer, so the writer is still writing when a reader stops."""
    rec = str(tmp_path / "big.rec")
    with RecordWriter(rec) as w:
        for i in range(count):
            w.write(pack(IRHeader(0, float(i % 3), i, 0), bytes([i]) * size))
    return rec


def test_manifest_channel_for_3_epochs(tmp_path, photo_manifest):
    manifest, expected = photo_manifest
    pipes = str(tmp_path / "data")
    server = Server(pipes, "train", [manifest], epochs=3, attribute_names=NAMES)
    reader = PipeReader(pipes, "train", attribute_names=NAMES, timeout=30)
    epochs = [list(reader) for _ in range(3)]
    reports = server.join_result()
    assert epochs == [expected] * 3
    assert [(r.epoch, r.complete, r.stats.records, r.stats.rows) for r in reports] == [(e, True, 24, 12) for e in range(3)]
    for epoch in range(3):
        assert stat.S_ISFIFO(os.stat(os.path.join(pipes, f"train_{epoch}")).st_mode)
    assert reader.epoch == 3 and reader.path == os.path.join(pipes, "train_3")


def test_recordio_channel_for_3_epochs(tmp_path):
    rec = big_rec(tmp_path, count=10, size=5000)
    pipes = str(tmp_path / "data")
    server = Server(pipes, "validation", [rec, rec], epochs=3)
    with PipeReader(pipes, "validation", timeout=30) as reader:
        epochs = [list(reader) for _ in range(3)]
    server.join_result()
    assert epochs == [read_records(rec) * 2] * 3


def test_reader_may_start_before_the_server(tmp_path, photo_manifest):
    manifest, expected = photo_manifest
    pipes = str(tmp_path / "data")
    got = []
    reader = threading.Thread(target=lambda: got.append(list(PipeReader(pipes, "train", attribute_names=2, timeout=30))), daemon=True)
    reader.start()
    time.sleep(0.2)  # the reader is now waiting for train_0 to appear
    server = Server(pipes, "train", [manifest], attribute_names=NAMES)
    reader.join(30)
    server.join_result()
    assert got == [expected]


def test_reader_closing_early_ends_the_epoch(tmp_path):
    rec = big_rec(tmp_path)
    pipes = str(tmp_path / "data")
    server = Server(pipes, "train", [rec], epochs=3)
    reader = PipeReader(pipes, "train", timeout=30)
    first = list(reader)
    for record in reader:  # epoch 1: read one record, then stop
        break
    reader.next_epoch()
    third = list(reader)
    reports = server.join_result()
    assert len(first) == len(third) == 48 and record == first[0]
    assert [r.complete for r in reports] == [True, False, True]


def test_next_epoch_mid_iteration(tmp_path):
    rec = big_rec(tmp_path, count=40)
    pipes = str(tmp_path / "data")
    server = Server(pipes, "train", [rec], epochs=2)
    reader = PipeReader(pipes, "train", timeout=30)
    iterator = iter(reader)
    next(iterator)
    reader.next_epoch()
    assert list(iterator) == []  # closed
    assert len(list(reader)) == 40
    assert [r.complete for r in server.join_result()] == [False, True]


def test_empty_epochs(tmp_path):
    empty = tmp_path / "empty.rec"
    empty.write_bytes(b"")
    pipes = str(tmp_path / "data")
    server = Server(pipes, "train", [str(empty)], epochs=3)
    reader = PipeReader(pipes, "train", timeout=30)
    assert [list(reader) for _ in range(3)] == [[], [], []]
    server.join_result()


def test_reader_times_out_without_a_fifo(tmp_path):
    reader = PipeReader(str(tmp_path), "train", timeout=0.2)
    with pytest.raises(IcformatError, match=r"train_0: no pipe-mode FIFO appeared within 0.2 s; is 'icformat pipe serve'"):
        list(reader)
    assert reader.epoch == 0


def test_reader_times_out_without_a_writer(tmp_path):
    make_fifo(fifo_path(tmp_path, "train", 0))
    with pytest.raises(IcformatError, match=r"train_0: no writer opened the FIFO within 0.2 s"):
        list(PipeReader(str(tmp_path), "train", timeout=0.2))


def test_server_times_out_without_a_reader(tmp_path, photo_manifest):
    with pytest.raises(IcformatError, match=r"train_0: no reader opened the FIFO within 0.1 s"):
        serve_channel(str(tmp_path), "train", [photo_manifest[0]], attribute_names=NAMES, timeout=0.1)


def test_a_regular_file_in_the_way(tmp_path):
    (tmp_path / "train_0").write_bytes(b"")
    (tmp_path / "x.rec").write_bytes(b"")  # a source that exists: missing ones are refused first
    with pytest.raises(IcformatError, match="train_0: exists and is not a FIFO"):
        serve_channel(str(tmp_path), "train", [str(tmp_path / "x.rec")], timeout=0.1)


def test_reader_reads_captured_stream_files(tmp_path, photo_manifest):
    manifest, expected = photo_manifest
    for epoch in range(2):
        write_pipe_stream(fifo_path(tmp_path, "train", epoch), manifest, NAMES)
    reader = PipeReader(str(tmp_path), "train", attribute_names=2, timeout=1)
    assert [list(reader), list(reader)] == [expected, expected]


def test_multi_label_channel(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"A")
    (tmp_path / "b.jpg").write_bytes(b"B")
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":[0,2]}\n{"source-ref":"b.jpg","class":"[1]"}\n')
    server = Server(str(tmp_path / "d"), "train", [str(manifest)], attribute_names=NAMES)
    rows = list(PipeReader(str(tmp_path / "d"), "train", attribute_names=2, label_format="class-id", num_classes=3, timeout=30))
    server.join_result()
    assert [image for image, _ in rows] == [b"A", b"B"]
    np.testing.assert_array_equal(np.stack([label for _, label in rows]), [[1, 0, 1], [0, 1, 0]])


def test_payload_holding_the_magic_over_a_fifo(tmp_path):
    from icformat.recordio import MAGIC_BYTES

    image = b"\xff\xd8\xff\xe0" + MAGIC_BYTES * 2 + b"rest" + MAGIC_BYTES
    (tmp_path / "a.jpg").write_bytes(image)
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref":"a.jpg","class":"1"}\n' * 3)
    server = Server(str(tmp_path / "d"), "train", [str(manifest)], epochs=3, attribute_names=NAMES)
    reader = PipeReader(str(tmp_path / "d"), "train", attribute_names=2, timeout=30)
    assert [list(reader) for _ in range(3)] == [[(image, 1.0)] * 3] * 3
    server.join_result()


def test_cli_serve_in_another_process(tmp_path, photo_manifest):
    manifest, expected = photo_manifest
    pipes = str(tmp_path / "data")
    command = [sys.executable, "-m", "icformat", "pipe", "serve", pipes, manifest, "--channel", "train", "--epochs", "3", "--attribute-names", NAMES, "--timeout", "60"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reader = PipeReader(pipes, "train", attribute_names=NAMES, timeout=60)
        epochs = [list(reader) for _ in range(3)]
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert epochs == [expected] * 3
    assert f"{os.path.join(pipes, 'train_2')}: 24 records (12 rows)" in err
    assert out.strip() == f"train: served 3 epoch(s) in {pipes}"


def test_cli_read(tmp_path, photo_manifest, capsys):
    from icformat.cli import main

    manifest, _ = photo_manifest
    pipes = str(tmp_path / "data")
    server = Server(pipes, "train", [manifest], epochs=2, attribute_names=NAMES)
    assert main(["pipe", "read", pipes, "--epochs", "2", "--attribute-names", NAMES, "--timeout", "30"]) == 0
    server.join_result()
    assert capsys.readouterr().out.splitlines() == [f"{os.path.join(pipes, f'train_{e}')}: 12 rows" for e in range(2)]
