"""A set of ``.rec`` shards (a folder or a prefix) read as one dataset: readers, loader, pipe stream."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

from icformat.errors import InputNotFound
from icformat.im2rec import PackOptions, pack_lst
from icformat.lst.make import make_lst
from icformat.loader import ImageLoader
from icformat.pipe import write_pipe_stream
from icformat.recordio import RecordReader, ShardSetReader, iter_dataset, list_rec_shards


@pytest.fixture(scope="module")
def packed(photo_tree, tmp_path_factory):
    """``(whole .rec, folder of 3 shards, shard prefix)`` of the same 12 photos."""
    folder = tmp_path_factory.mktemp("shards")
    lst = next(iter(make_lst(str(folder / "train"), photo_tree, recursive=True).files))
    whole = pack_lst(lst, photo_tree, str(folder / "whole"), options=PackOptions(resize=40), num_workers=1).rec_path
    shard_dir = folder / "set"
    shard_dir.mkdir()
    for i in range(3):
        pack_lst(lst, photo_tree, str(shard_dir / "train"), options=PackOptions(resize=40), num_shards=3, shard_index=i, num_workers=1)
    return whole, str(shard_dir), str(shard_dir / "train")


def test_readers_take_a_folder_or_a_prefix(packed):
    whole, folder, prefix = packed
    records = list(RecordReader(whole))
    assert len(list_rec_shards(folder)) == 3 and list_rec_shards(folder) == list_rec_shards(prefix)
    assert list(iter_dataset(folder)) == list(iter_dataset(prefix)) == records
    assert list(iter_dataset(whole)) == records
    reader = ShardSetReader(prefix)
    assert len(reader) == 3
    triples = list(reader.iter_with_offsets())
    assert [p for _, _, p in triples] == records and triples[4][0].endswith("train-00001-of-00003.rec")
    with pytest.raises(InputNotFound, match="no .rec file there"):
        ShardSetReader(os.path.join(folder, "nothing"))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_reads_a_shard_set_as_the_whole_file(packed, num_workers):
    whole, folder, _ = packed

    def epoch(source):
        with ImageLoader(source, 5, (3, 32, 32), resize=40, seed=3, num_workers=num_workers) as loader:
            return [(np.array(data), np.array(label)) for data, label in loader]

    ours, theirs = epoch(folder), epoch(whole)
    assert len(ours) == len(theirs) == 3
    for (data, label), (data2, label2) in zip(ours, theirs):
        assert np.array_equal(label, label2) and np.array_equal(data, data2)


def test_pipe_stream_of_a_shard_set_is_its_shards_in_order(packed):
    whole, folder, prefix = packed
    out, expected = io.BytesIO(), io.BytesIO()
    write_pipe_stream(out, [prefix])
    write_pipe_stream(expected, list_rec_shards(folder))
    assert out.getvalue() == expected.getvalue()
    assert list(RecordReader(io.BytesIO(out.getvalue()))) == list(RecordReader(whole))


def test_pipe_serve_takes_a_prefix_and_refuses_a_missing_one(packed, tmp_path):
    import threading

    from icformat.pipe import PipeReader, serve_channel

    whole, _, prefix = packed
    with pytest.raises(InputNotFound):
        serve_channel(str(tmp_path / "fifos"), "train", [prefix + "-missing"], timeout=1)
    served = threading.Thread(target=serve_channel, args=(str(tmp_path / "fifos"), "train", [prefix]), kwargs={"timeout": 30})
    served.start()
    try:
        records = list(PipeReader(str(tmp_path / "fifos"), "train", timeout=30))
    finally:
        served.join(60)
    assert records == list(RecordReader(whole))
