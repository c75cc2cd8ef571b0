"""icformat im2rec against MXNet itself: tools/im2rec.py as the oracle (run as a subprocess, as users
run it) and mx.io.ImageRecordIter reading every output. Skipped where mxnet is not installed."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import simplejpeg

from icformat.im2rec import PackOptions, pack_lst
from icformat.lst import read_lst, write_lst
from icformat.lst.make import make_lst
from icformat.recordio import RecordReader, read_index, unpack

pytestmark = pytest.mark.mxnet

NUM_CLASSES = 4


def _hot(label: float) -> list[float]:
    """A multi-hot row: the class, plus class 3 for even ones."""
    return [1.0 if c == int(label) or (c == 3 and int(label) % 2 == 0) else 0.0 for c in range(NUM_CLASSES)]


@pytest.fixture(scope="module")
def lists(mx, tmp_path_factory, photo_tree) -> dict:
    """single.lst and multi.lst over the real photos, packed by MXNet's im2rec.py in two runs:
    --pass-through --pack-label (both lists), and --resize 40 --center-crop (single only)."""
    work = tmp_path_factory.mktemp("mxim2rec")
    script = os.path.join(os.path.dirname(mx.__file__), "tools", "im2rec.py")
    make_lst(str(work / "single"), photo_tree, recursive=True)
    table = read_lst(str(work / "single.lst"))
    write_lst(str(work / "multi.lst"), [(e.index, _hot(e.labels[0]), e.path) for e in table], style="mxnet")
    runs = {"pass": ["--pass-through", "--pack-label"], "resize": ["--resize", "40", "--center-crop"]}
    for run, flags in runs.items():
        folder = work / f"mx-{run}"
        folder.mkdir()
        shutil.copy(work / "single.lst", folder)
        if run == "pass":
            shutil.copy(work / "multi.lst", folder)
        subprocess.run([sys.executable, script, "--num-thread", "2", *flags, str(folder) + os.sep, photo_tree],
                       check=True, capture_output=True)
    return {"work": work, "root": photo_tree, "table": table}


def _records(prefix) -> list:
    return [unpack(r) for r in RecordReader(str(prefix) + ".rec")]


def test_pass_through_byte_identical_to_mxnet(lists, tmp_path):
    work, root = lists["work"], lists["root"]
    for name, options in (("single", PackOptions(pass_through=True)), ("multi", PackOptions(pass_through=True, pack_label=True))):
        pack_lst(str(work / f"{name}.lst"), root, str(tmp_path / name), options=options, num_workers=2)
        ours, theirs = _records(tmp_path / name), _records(work / "mx-pass" / name)
        assert len(ours) == len(theirs) == 12
        for (h1, p1), (h2, p2) in zip(ours, theirs):
            assert (h1.flag, h1.id, h1.id2) == (h2.flag, h2.id, h2.id2)
            assert np.array_equal(np.asarray(h1.label, np.float32), np.asarray(h2.label, np.float32))
            assert bytes(p1) == bytes(p2)
        assert (tmp_path / f"{name}.rec").read_bytes() == (work / "mx-pass" / f"{name}.rec").read_bytes()
        assert read_index(str(tmp_path / f"{name}.idx")) == read_index(str(work / "mx-pass" / f"{name}.idx"))


def test_resized_records_match_mxnet_sizes_and_pixels(lists, tmp_path):
    work, root = lists["work"], lists["root"]
    pack_lst(str(work / "single.lst"), root, str(tmp_path / "r"), options=PackOptions(resize=40, center_crop=True), num_workers=2)
    ours, theirs = _records(tmp_path / "r"), _records(work / "mx-resize" / "single")
    assert len(ours) == len(theirs) == 12
    for (h1, p1), (h2, p2) in zip(ours, theirs):
        assert (h1.id, h1.label) == (h2.id, h2.label)
        a, b = simplejpeg.decode_jpeg(bytes(p1)), simplejpeg.decode_jpeg(bytes(p2))
        assert a.shape == b.shape == (40, 40, 3)
        # same picture: OpenCV's bilinear skips most source pixels when shrinking 10x (aliasing) where
        # ours averages them all, so compare 8x8-pixel block means, not single pixels
        blocks = lambda x: x.astype(float).reshape(5, 8, 5, 8, 3).mean(axis=(1, 3))  # noqa: E731
        assert np.abs(blocks(a) - blocks(b)).mean() < 8
        assert np.corrcoef(blocks(a).ravel(), blocks(b).ravel())[0, 1] > 0.9


def _iter_labels(mx, prefix, label_width, shape):
    it = mx.io.ImageRecordIter(path_imgrec=str(prefix) + ".rec", path_imgidx=str(prefix) + ".idx", data_shape=shape,
                               batch_size=5, label_width=label_width, shuffle=False, preprocess_threads=1)
    labels = []
    for batch in it:
        got = batch.label[0].asnumpy()
        labels += got[: len(got) - batch.pad].tolist()
    return labels


@pytest.mark.parametrize("options", [PackOptions(resize=40, center_crop=True), PackOptions(pass_through=True),
                                     PackOptions(resize=36, encoding=".png", quality=3)], ids=["jpg", "pass-through", "png"])
def test_image_record_iter_reads_single_label_output(mx, lists, tmp_path, options):
    pack_lst(str(lists["work"] / "single.lst"), lists["root"], str(tmp_path / "s"), options=options, num_workers=2)
    labels = _iter_labels(mx, tmp_path / "s", 1, (3, 32, 32))
    assert labels == [e.labels[0] for e in lists["table"]]


def test_image_record_iter_reads_multi_label_output(mx, lists, tmp_path):
    options = PackOptions(resize=40, center_crop=True, pack_label=True)
    pack_lst(str(lists["work"] / "multi.lst"), lists["root"], str(tmp_path / "m"), options=options, num_workers=2)
    labels = _iter_labels(mx, tmp_path / "m", NUM_CLASSES, (3, 32, 32))
    assert labels == [_hot(e.labels[0]) for e in lists["table"]]


def test_mxnet_recordio_reads_ids_and_labels(mx, lists, tmp_path):
    pack_lst(str(lists["work"] / "multi.lst"), lists["root"], str(tmp_path / "m"), options=PackOptions(resize=32, pack_label=True), num_workers=1)
    record = mx.recordio.MXIndexedRecordIO(str(tmp_path / "m.idx"), str(tmp_path / "m.rec"), "r")
    for entry in lists["table"]:
        header, image = mx.recordio.unpack_img(record.read_idx(entry.index))
        assert header.id == entry.index and header.label.tolist() == _hot(entry.labels[0])
        assert min(image.shape[:2]) == 32
