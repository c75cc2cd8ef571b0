"""The real readers on what rec2wds and rec2parquet write: ``webdataset.WebDataset`` yields the
records' bytes and labels, Hugging Face ``datasets`` decodes every image as the record's own image
decodes, with the class names, and ``pyarrow.dataset`` reads the files.

webdataset and datasets need numpy 2, so these tests run in the core environment (`make test-core`,
the `interop` extra); there a failed import is an error. Beside MXNet (numpy 1.23) they skip, saying so.
"""
from __future__ import annotations

import glob
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from icformat.interop.parquet import rec_to_parquet
from icformat.interop.wds import rec_to_wds
from icformat.recordio.header import split_record
from icformat.recordio.reader import RecordReader
from tests.conftest import FULL_ENV, HAS_MXNET

from .interop_data import CLASSES, KINDS, photo_images, write_set

if FULL_ENV or HAS_MXNET:
    pytest.skip("webdataset and datasets need numpy 2, beside MXNet's 1.23: runs in the core environment", allow_module_level=True)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local files only: never ask the Hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
import datasets  # noqa: E402  (the core environment installs both: a failed import is an error, never a skip)
import pyarrow.dataset  # noqa: E402
import webdataset  # noqa: E402


@pytest.fixture(scope="module")
def images():
    return photo_images()


def _records(rec: str):
    return [split_record(r) for r in RecordReader(rec)]


@pytest.mark.parametrize("kind", KINDS)
def test_webdataset_yields_the_records_bytes_and_labels(tmp_path, images, kind):
    rec = str(tmp_path / "t.rec")
    write_set(rec, kind, images)
    out = rec_to_wds(rec, str(tmp_path / "w"), max_records=3, classes=CLASSES)
    samples = list(webdataset.WebDataset(out.shards, shardshuffle=False))
    records = _records(rec)
    assert len(samples) == len(records)
    for sample, record in zip(samples, records):
        image = [v for k, v in sample.items() if k in ("jpg", "png")]
        assert image == ([bytes(record.image)] if len(record.image) else [])
        if "cls" in sample:
            assert int(sample["cls"]) == record.labels[0] and record.header.flag == 0
            assert sample["__key__"] == str(record.id)
        else:
            meta = json.loads(sample["json"])
            assert meta["id"] == record.id and meta["id2"] == record.header.id2
            label = np.asarray(meta["label"], np.float32)
            if "header" not in meta:  # the readable fields are the header's
                assert np.array_equal(np.atleast_1d(label), record.labels) and (label.ndim == 1) == (record.header.flag > 0)


def test_datasets_decodes_every_image_with_class_names(tmp_path, images):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "plain", images)
    out = rec_to_parquet(rec, str(tmp_path / "p"), max_records=5, classes=CLASSES)
    ds = datasets.load_dataset("parquet", data_files=out.shards, split="train", cache_dir=str(tmp_path / "hf"))
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.features["label"].names == CLASSES
    records = _records(rec)
    assert len(ds) == len(records)
    for row, record in zip(ds, records):
        expected = np.asarray(Image.open(io.BytesIO(bytes(record.image))).convert("RGB"))
        assert np.array_equal(np.asarray(row["image"].convert("RGB")), expected)
        assert ds.features["label"].int2str(row["label"]) == CLASSES[int(record.labels[0])]
        assert row["id"] == record.id


def test_datasets_reads_multilabel_and_insightface_columns(tmp_path, images):
    for kind in ("multilabel", "insightface"):
        rec = str(tmp_path / f"{kind}.rec")
        write_set(rec, kind, images)
        out = rec_to_parquet(rec, str(tmp_path / kind))
        ds = datasets.load_dataset("parquet", data_files=out.shards, split="train", cache_dir=str(tmp_path / "hf"))
        for row, record in zip(ds, _records(rec)):
            if record.header.flag:
                assert np.array_equal(np.asarray(row["labels"], np.float32), record.labels) and row["label"] is None
            else:
                assert row["label"] == int(record.labels[0]) and row["labels"] is None
            assert (row["image"] is None) == (len(record.image) == 0)


def test_pyarrow_dataset_reads_the_files(tmp_path, images):
    rec = str(tmp_path / "t.rec")
    write_set(rec, "plain", images)
    out = rec_to_parquet(rec, str(tmp_path / "p"), row_group_records=3)
    table = pyarrow.dataset.dataset(sorted(glob.glob(str(tmp_path / "p-*.parquet"))), format="parquet").to_table()
    assert table.num_rows == len(images)
    assert table.column("image").combine_chunks().field("bytes").to_pylist() == [bytes(r.image) for r in _records(rec)]
    fragments = list(pyarrow.dataset.dataset(out.shards, format="parquet").get_fragments())
    assert [rg.num_rows for rg in fragments[0].row_groups] == [3, 3, 2]
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert datasets.Features.from_dict(features)["image"] == datasets.Image()
