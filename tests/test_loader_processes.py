"""The loader inside ETL programs: batches cross process boundaries, loaders run inside pool
workers, stream sources have no length, the start method is said once (issue 15, items 2 and 10)."""
from __future__ import annotations

import multiprocessing
import pickle
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from icformat import samples
from icformat.errors import UsageError
from icformat.loader import Batch, ImageLoader
from icformat.loader import workers as loader_workers
from icformat.recordio import IRHeader, RecordReader, RecordWriter, pack

SHAPE = (3, 16, 16)


@pytest.fixture(scope="module")
def small_rec(tmp_path_factory) -> str:
    """A .rec of 6 real-photo JPEGs with labels 0..5 (and its .idx)."""
    import simplejpeg

    path = str(tmp_path_factory.mktemp("rec") / "small.rec")
    with RecordWriter(path, index=path[:-4] + ".idx") as writer:
        for i, (_, image) in enumerate(samples.iter_variants(6, seed=3, size=(24, 20))):
            jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=90, colorspace="RGB")
            writer.write(pack(IRHeader(0, float(i), i, 0), jpeg), key=i)
    return path


def _load_first_batch(rec: str) -> Batch:
    with ImageLoader(rec, 4, SHAPE, shuffle=False, num_workers=0) as loader:
        batch = next(iter(loader))
        return Batch(batch.data.copy(), batch.label.copy(), pad=batch.pad, epoch=batch.epoch, index=batch.index,
                     keys=batch.keys)


def _loader_with_workers(rec: str) -> str:
    try:
        ImageLoader(rec, 4, SHAPE, num_workers=2)
    except UsageError as exc:
        return str(exc)
    return "no error"


def _labels_with_default_workers(rec: str) -> list:
    with ImageLoader(rec, 6, SHAPE, shuffle=False) as loader:
        return [batch.label.tolist() for batch in loader]


def test_batch_pickles_with_its_extras():
    batch = Batch(np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1.0, 2.0]), pad=1, epoch=3, index=4, keys=[7, 8])
    again = pickle.loads(pickle.dumps(batch))
    assert type(again) is Batch
    assert np.array_equal(again.data, batch.data) and np.array_equal(again.label, batch.label)
    assert (again.pad, again.epoch, again.index, again.keys) == (1, 3, 4, [7, 8])
    data, label = again
    assert data.shape == (2, 3) and label.tolist() == [1.0, 2.0]


def test_a_batch_returned_from_a_pool_worker_arrives(small_rec):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        batches = pool.map_async(_load_first_batch, [small_rec, small_rec]).get(timeout=120)
    assert [b.label.tolist() for b in batches] == [[0.0, 1.0, 2.0, 3.0]] * 2
    assert batches[0].data.shape == (4, *SHAPE) and batches[0].keys is not None


def test_loader_with_workers_inside_a_daemonic_pool_worker_says_what_to_do(small_rec):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        message = pool.apply_async(_loader_with_workers, (small_rec,)).get(timeout=120)
    assert "daemonic" in message and "num_workers=0" in message and "ProcessPoolExecutor" in message
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # the default (no count given) decodes inline there
        labels = pool.apply_async(_labels_with_default_workers, (small_rec,)).get(timeout=120)
    assert labels == [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]]


def test_loader_with_workers_inside_a_process_pool_executor(small_rec):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_loader_with_workers, small_rec).result(timeout=120) == "no error"


def test_stream_source_has_no_length(small_rec):
    with ImageLoader(RecordReader(small_rec), 4, SHAPE, num_workers=0, shuffle=False) as loader:
        assert loader.num_samples is None and loader.num_batches is None
        with pytest.raises(TypeError, match="no length"):
            len(loader)
        assert [b.label.tolist() for b in loader] == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]
    with ImageLoader(small_rec, 4, SHAPE, num_workers=0) as loader:
        assert (len(loader), loader.num_batches, loader.num_samples) == (2, 2, 6)


def test_switch_to_forkserver_is_said_once(small_rec, monkeypatch):
    monkeypatch.setattr(loader_workers, "_told", set())
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                with ImageLoader(small_rec, 6, SHAPE, num_workers=1, shuffle=False) as loader:
                    assert [b.label.tolist() for b in loader] == [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]]
                    assert loader._res.pool.start_method != "fork"
    finally:
        stop.set()
        thread.join()
    said = [w for w in caught if issubclass(w.category, loader_workers.StartMethodWarning)]
    assert len(said) == 1 and "forkserver" in str(said[0].message) and "start_method=" in str(said[0].message)
