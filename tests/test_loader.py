"""ImageLoader: order, sharding, labels, augmentation shapes, bad records, shared memory, workers."""
from __future__ import annotations

import gc
import io
import os
import signal
import time
import warnings

import numpy as np
import pytest

from icformat import samples
from icformat.errors import IcformatError
from icformat.loader import (
    Augmentation,
    BadRecordError,
    BadRecordWarning,
    ImageLoader,
    WorkerError,
    epoch_order,
    frame_size,
    part_order,
)
from icformat.loader.rng import SampleRandom
from icformat.loader.sampler import batch_spans, batch_stream, part_bounds, shard_stream, shuffle_buffer
from icformat.recordio import IRHeader, RecordWriter, pack

SHAPE = (3, 32, 32)
RESIZE = 40


# ---- data ------------------------------------------------------------------------------------


def make_jpegs(count: int, seed: int = 0, sizes=((64, 48), (48, 64), (200, 160))) -> list[bytes]:
    """Real-photo JPEGs of a few sizes (w, h): small, portrait, and large enough for DCT scaling."""
    import simplejpeg

    out = []
    for i, (_, image) in enumerate(samples.iter_variants(count, seed=seed, size=sizes[0])):
        if sizes[i % len(sizes)] != sizes[0]:
            from PIL import Image

            image = np.asarray(Image.fromarray(image).resize(sizes[i % len(sizes)]))
        out.append(simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=90, colorspace="RGB"))
    return out


def write_rec(path: str, images: list[bytes], labels: list) -> str:
    with RecordWriter(path, index=True) as writer:
        for i, (image, label) in enumerate(zip(images, labels)):
            writer.write(pack(IRHeader(0, label, i, 0), image), key=i)
    return path


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return make_jpegs(30)


@pytest.fixture(scope="module")
def rec(tmp_path_factory, jpegs) -> str:
    """30 records, label = id % 5."""
    return write_rec(str(tmp_path_factory.mktemp("rec") / "data.rec"), jpegs, [float(i % 5) for i in range(30)])


@pytest.fixture(scope="module")
def multi_rec(tmp_path_factory, jpegs) -> str:
    """12 records with 3 labels each: (id, id * 2, -1)."""
    labels = [np.array([i, 2 * i, -1], np.float32) for i in range(12)]
    return write_rec(str(tmp_path_factory.mktemp("multi") / "multi.rec"), jpegs[:12], labels)


@pytest.fixture(scope="module")
def bad_rec(tmp_path_factory, jpegs) -> str:
    """10 records; id 3 is not an image, id 6 is a truncated-to-nothing JPEG, id 8 is too small."""
    import simplejpeg

    images = list(jpegs[:10])
    images[3] = b"this is not an image"
    images[6] = jpegs[6][:2]
    images[8] = simplejpeg.encode_jpeg(np.zeros((10, 12, 3), np.uint8))
    return write_rec(str(tmp_path_factory.mktemp("bad") / "bad.rec"), images, [float(i) for i in range(10)])


def load(source, **kw):
    kw.setdefault("num_workers", 0)
    kw.setdefault("resize", RESIZE)
    return ImageLoader(source, kw.pop("batch_size", 8), kw.pop("data_shape", SHAPE), **kw)


def epoch_keys(loader) -> list[int]:
    return [int(k) for batch in loader for k in batch.keys]


# ---- sampler -----------------------------------------------------------------------------------


def test_epoch_order_is_a_seeded_permutation():
    a = epoch_order(1000, seed=7, epoch=0)
    assert sorted(a.tolist()) == list(range(1000))
    assert np.array_equal(a, epoch_order(1000, seed=7, epoch=0))
    assert not np.array_equal(a, epoch_order(1000, seed=7, epoch=1))
    assert not np.array_equal(a, epoch_order(1000, seed=8, epoch=0))
    assert np.array_equal(epoch_order(5, seed=7, epoch=0, shuffle=False), np.arange(5))


@pytest.mark.parametrize("n,parts", [(10, 3), (7, 7), (5, 8), (1000, 4), (0, 2)])
def test_parts_cover_every_record_exactly_once(n, parts):
    for epoch in range(2):
        pieces = [part_order(n, seed=1, epoch=epoch, num_parts=parts, part_index=p) for p in range(parts)]
        joined = np.concatenate(pieces) if pieces else np.array([])
        assert sorted(joined.tolist()) == list(range(n))
        sizes = [len(p) for p in pieces]
        assert max(sizes) - min(sizes) <= 1
    assert part_bounds(10, 3, 2) == (6, 10)
    with pytest.raises(ValueError):
        part_bounds(10, 3, 3)


def test_batch_spans_keep_discard_pad():
    assert [tuple(s) for s in batch_spans(10, 4, "keep")] == [(0, 4, 0), (4, 8, 0), (8, 10, 0)]
    assert [tuple(s) for s in batch_spans(10, 4, "discard")] == [(0, 4, 0), (4, 8, 0)]
    assert [tuple(s) for s in batch_spans(10, 4, "pad")] == [(0, 4, 0), (4, 8, 0), (8, 10, 2)]
    assert batch_spans(8, 4, "pad")[-1].pad == 0
    with pytest.raises(ValueError):
        batch_spans(8, 4, "wrap")
    assert list(batch_stream(range(5), 2, "pad")) == [([0, 1], 0), ([2, 3], 0), ([4, 0], 1)]
    assert list(batch_stream(range(5), 2, "discard")) == [([0, 1], 0), ([2, 3], 0)]


def test_stream_sharding_and_shuffle_buffer():
    assert [n for n, _ in shard_stream("abcdefg", 3, 1)] == [1, 4]
    items = list(range(100))
    mixed = list(shuffle_buffer(items, 16, SampleRandom(5)))
    assert sorted(mixed) == items and mixed != items
    assert mixed == list(shuffle_buffer(items, 16, SampleRandom(5)))
    assert list(shuffle_buffer(items, 16, None)) == items


# ---- epochs and parts ---------------------------------------------------------------------------


@pytest.mark.parametrize("num_workers", [0, 2])
def test_every_record_once_per_epoch(rec, num_workers):
    with load(rec, num_workers=num_workers, batch_size=7) as loader:
        assert len(loader) == 5 and loader.num_samples == 30
        first, second = epoch_keys(loader), epoch_keys(loader)
    assert sorted(first) == sorted(second) == list(range(30))
    assert first != second  # a new permutation each epoch


def test_parts_read_each_record_once_per_epoch(rec):
    loaders = [load(rec, num_parts=3, part_index=p, seed=4, batch_size=4) for p in range(3)]
    try:
        for _ in range(2):
            keys = [k for loader in loaders for k in epoch_keys(loader)]
            assert sorted(keys) == list(range(30))
    finally:
        for loader in loaders:
            loader.close()


def test_order_is_reproducible_per_seed(rec):
    with load(rec, seed=3) as a, load(rec, seed=3) as b, load(rec, seed=4) as c:
        order_a = [epoch_keys(a), epoch_keys(a)]
        assert order_a == [epoch_keys(b), epoch_keys(b)]
        assert order_a[0] != epoch_keys(c)
    with load(rec, shuffle=False) as plain:
        assert epoch_keys(plain) == list(range(30))


def test_set_epoch_resumes_the_same_order(rec):
    with load(rec, seed=9) as a, load(rec, seed=9, epoch=2) as b:
        epoch_keys(a), epoch_keys(a)
        assert epoch_keys(a) == epoch_keys(b)
        b.set_epoch(0)
        assert next(iter(b)).epoch == 0


def test_last_batch_modes(rec):
    with load(rec, batch_size=8, last_batch="keep", shuffle=False) as keep:
        sizes = [len(b.data) for b in keep]
        assert sizes == [8, 8, 8, 6]
    with load(rec, batch_size=8, last_batch="discard") as discard:
        assert [len(b.data) for b in discard] == [8, 8, 8] and len(discard) == 3
    with load(rec, batch_size=8, last_batch="pad", shuffle=False) as pad:
        batches = list(pad)
        assert [len(b.data) for b in batches] == [8, 8, 8, 8]
        assert batches[-1].pad == 2 and list(batches[-1].keys[-2:]) == [0, 1]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_abandoned_iterators_do_not_starve_new_epochs(rec, num_workers):
    with load(rec, num_workers=num_workers, batch_size=2) as loader:
        kept = []
        for _ in range(4):  # each left half-read, and still referenced
            it = iter(loader)
            next(it)
            kept.append(it)
        assert sorted(epoch_keys(loader)) == list(range(30))
        assert loader.stats.epochs == 1


def test_abandoned_epoch_then_next_epoch(rec):
    with load(rec, num_workers=2, batch_size=4) as loader:
        it = iter(loader)
        next(it)
        keys = epoch_keys(loader)  # a new epoch while the old one still has batches in flight
        assert sorted(keys) == list(range(30))
        with pytest.raises(RuntimeError):
            next(it)


# ---- labels, shapes, values ----------------------------------------------------------------------


def test_single_labels(rec):
    with load(rec) as loader:
        for data, label in loader:
            assert label.shape == (len(data),) and label.dtype == np.float32
        batch = next(iter(loader))
        assert np.array_equal(batch.label, batch.keys % 5)


def test_multi_labels(multi_rec):
    with load(multi_rec, batch_size=5) as loader:
        assert loader.label_width == 3
        for batch in loader:
            keys = batch.keys.astype(np.float32)
            assert batch.label.shape == (len(keys), 3)
            assert np.array_equal(batch.label, np.stack([keys, 2 * keys, -np.ones_like(keys)], 1))


@pytest.mark.parametrize("aug", [None, "crop", "crop_color", "crop_color_transform"])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_augmentation_shapes(rec, aug, dtype):
    with load(rec, augmentation_type=aug, dtype=dtype, data_shape=(3, 24, 32)) as loader:
        data, label = next(iter(loader))
        assert data.shape == (8, 3, 24, 32) and data.dtype == np.dtype(dtype)
        assert data.flags.c_contiguous
        assert 0 <= data.min() and data.max() <= 255 and data.std() > 1


def test_gray_output(rec):
    with load(rec, data_shape="1,32,32", augmentation_type="crop_color") as loader:
        data, _ = next(iter(loader))
        assert data.shape == (8, 1, 32, 32)


def test_mean_std(rec):
    with load(rec, shuffle=False) as raw, load(rec, shuffle=False, mean=(10, 20, 30), std=2) as norm:
        a, b = next(iter(raw)).data, next(iter(norm)).data
    expected = (a - np.array([10, 20, 30], np.float32).reshape(1, 3, 1, 1)) / 2
    np.testing.assert_allclose(b, expected, atol=1e-4)


def test_centre_crop_matches_resize_then_crop(rec, jpegs):
    """No augmentation: resize the shorter side, centre crop; checked against a whole-image
    reference with the same resampler (OpenCV's bilinear, or Pillow's without OpenCV) after the
    same DCT-scaled decode, and loosely against a full-resolution decode."""
    import simplejpeg

    from icformat.loader.decode import dct_scale

    with load(rec, shuffle=False, batch_size=30) as loader:
        batch = next(iter(loader))
        backend = loader.backend
    scaled = 0
    for key in range(30):
        h, w = simplejpeg.decode_jpeg_header(jpegs[key])[:2]
        rh, rw = frame_size(h, w, RESIZE)
        f = dct_scale(h, w, rh, rw)
        scaled += f > 1
        full = simplejpeg.decode_jpeg(jpegs[key])
        image = simplejpeg.decode_jpeg(jpegs[key], min_height=-(-h // f), min_width=-(-w // f)) if f > 1 else full
        assert image.shape[:2] == (-(-h // f), -(-w // f))
        from PIL import Image

        if backend == "cv2":
            import cv2

            resized = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_LINEAR)
        else:
            resized = np.asarray(Image.fromarray(image).resize((rw, rh), Image.BILINEAR))
        y, x = (rh - 32) // 2, (rw - 32) // 2
        expected = resized[y : y + 32, x : x + 32].transpose(2, 0, 1)
        assert np.abs(batch.data[key] - expected).mean() < 1.0, key
        full_res = np.asarray(Image.fromarray(full).resize((rw, rh), Image.BILINEAR))[y : y + 32, x : x + 32]
        assert np.abs(batch.data[key] - full_res.transpose(2, 0, 1)).mean() < 4.0, key
    assert scaled == 10  # the 200 x 160 images were decoded at 1/4 scale


def test_same_output_whatever_the_worker_count(rec):
    kw = dict(augmentation_type="crop_color_transform", seed=11, batch_size=6)
    with load(rec, num_workers=0, **kw) as a, load(rec, num_workers=2, **kw) as b:
        for x, y in zip(a, b):
            assert np.array_equal(x.keys, y.keys)
            assert np.array_equal(x.data, y.data)


def test_augmentation_streams_differ_across_epochs(rec):
    with load(rec, augmentation_type="crop", shuffle=False, batch_size=30) as loader:
        first = next(iter(loader)).data.copy()
        second = next(iter(loader)).data
    changed = [not np.array_equal(first[i], second[i]) for i in range(30)]
    assert sum(changed) >= 20
    with load(rec, augmentation_type="crop", shuffle=False, batch_size=30) as again:
        assert np.array_equal(next(iter(again)).data, first)


def test_exif_orientation_is_applied(tmp_path, jpegs):
    from PIL import Image

    photo = Image.open(io.BytesIO(jpegs[0]))  # 64 x 48 (w x h)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored so that it displays rotated 90 degrees clockwise
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=95, exif=exif)
    rotated = photo.transpose(Image.Transpose.ROTATE_270)  # what a viewer shows: 48 x 64
    buf2 = io.BytesIO()
    rotated.save(buf2, "JPEG", quality=95)
    path = write_rec(str(tmp_path / "exif.rec"), [buf.getvalue(), buf2.getvalue()], [0.0, 1.0])
    with load(path, shuffle=False, batch_size=2, data_shape=(3, 40, 30), resize=None) as loader:
        data, _ = next(iter(loader))
    assert np.abs(data[0] - data[1]).mean() < 6


def test_batches_support_dlpack(rec):
    with load(rec) as loader:
        batch = next(iter(loader))
        assert np.array_equal(np.from_dlpack(batch.data), batch.data)


# ---- other sources ---------------------------------------------------------------------------------


def test_lst_source(tmp_path, jpegs):
    from icformat.lst import write_lst
    from icformat.lst.parse import LstEntry

    entries = []
    for i, image in enumerate(jpegs[:9]):
        rel = f"c{i % 3}/img{i}.jpg"
        os.makedirs(tmp_path / f"c{i % 3}", exist_ok=True)
        (tmp_path / rel).write_bytes(image)
        entries.append(LstEntry(i, (float(i % 3), float(i)), rel))
    write_lst(str(tmp_path / "data.lst"), entries)
    with load(str(tmp_path / "data.lst"), batch_size=4, num_workers=2) as loader:
        assert loader.label_width == 2
        seen = []
        for batch in loader:
            assert np.array_equal(batch.label[:, 1], batch.keys)
            seen += batch.keys.tolist()
        assert sorted(seen) == list(range(9))


def test_stream_source(jpegs):
    records = [pack(IRHeader(0, float(i), i, 0), image) for i, image in enumerate(jpegs[:20])]
    with load(records, batch_size=6, shuffle_buffer=8, num_workers=2) as loader:
        first = [(int(k), float(v)) for b in loader for k, v in zip(b.keys, b.label)]
        second = epoch_keys(loader)
    assert sorted(k for k, _ in first) == list(range(20)) and all(k == v for k, v in first)
    assert sorted(second) == list(range(20)) and [k for k, _ in first] != second
    with pytest.raises(TypeError):
        len(loader)
    parts = [epoch_keys(load(records, num_parts=3, part_index=p)) for p in range(3)]
    assert sorted(sum(parts, [])) == list(range(20)) and parts[1][:1] in ([1], [4], [7], [10], [13], [16], [19])


def test_stream_from_callable_and_used_up_iterator(jpegs):
    records = [pack(IRHeader(0, float(i), i, 0), image) for i, image in enumerate(jpegs[:5])]
    calls = []

    def per_epoch(epoch):
        calls.append(epoch)
        return records

    with load(per_epoch, shuffle=False) as loader:
        assert epoch_keys(loader) == epoch_keys(loader) == list(range(5))
    assert calls == [0, 1]
    with load(iter(records)) as once:
        assert sorted(epoch_keys(once)) == list(range(5))
        with pytest.raises(IcformatError, match="used up"):
            iter(once)


def test_stream_of_image_label_pairs(jpegs):
    """Pipe-mode augmented manifests give (image bytes, label) pairs: a class id or multi-hot."""
    pairs = [(image, float(i)) for i, image in enumerate(jpegs[:7])]
    with load(pairs, shuffle=False, batch_size=4) as loader:
        batches = list(loader)
        assert [b.label.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6]]
    hot = [(image, np.eye(3, dtype=np.float32)[i % 3]) for i, image in enumerate(jpegs[:6])]
    hot[4] = (hot[4][0], [1.0, 0.0])  # wrong length: a bad record
    with load(hot, shuffle=False, batch_size=6) as loader:
        with pytest.warns(BadRecordWarning, match="label does not have 3"):
            batch = next(iter(loader))
        assert batch.label.shape == (5, 3) and batch.keys.tolist() == [0, 1, 2, 3, 5]
        assert np.array_equal(batch.label.argmax(1), batch.keys % 3)


def test_pipe_mode_channel(tmp_path, rec):
    """A SageMaker pipe-mode channel (FIFO per epoch) served from the .rec, read by the loader."""
    import threading

    pipe = pytest.importorskip("icformat.pipe")
    server = threading.Thread(target=pipe.serve_channel, args=(str(tmp_path), "train", [rec]), kwargs=dict(epochs=2, timeout=30))
    server.start()
    try:
        reader = pipe.PipeReader(str(tmp_path), "train", timeout=30)
        with load(reader, num_workers=2, batch_size=8, shuffle_buffer=10) as loader:
            for _ in range(2):
                batches = list(loader)
                keys = sorted(int(k) for b in batches for k in b.keys)
                assert keys == list(range(30))
                labels = {int(k): float(v) for b in batches for k, v in zip(b.keys, b.label)}
                assert all(labels[k] == k % 5 for k in keys)
    finally:
        server.join(60)


# ---- bad records and strictness -----------------------------------------------------------------


@pytest.mark.parametrize("num_workers", [0, 2])
def test_bad_records_are_skipped_and_counted(bad_rec, num_workers):
    with load(bad_rec, num_workers=num_workers, batch_size=4, shuffle=False, resize=None) as loader:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            keys = epoch_keys(loader)
        assert keys == [0, 1, 2, 4, 5, 7, 9]
        assert loader.stats.skipped == 3
        messages = [str(w.message) for w in caught if issubclass(w.category, BadRecordWarning)]
        assert len(messages) == 3
        assert any("@" in m and "smaller than data_shape" in m for m in messages)
        assert all(bad_rec in m for m in messages)
        with pytest.warns(BadRecordWarning):
            assert sorted(epoch_keys(loader)) == keys  # the workers are still alive and well
        assert loader.stats.skipped == 6


def test_skips_in_several_chunks_of_one_batch_are_compacted(bad_rec):
    """Two workers fill halves of each batch; skipped records leave gaps that are closed."""
    kw = dict(batch_size=10, shuffle=False, resize=None, augmentation_type="crop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadRecordWarning)
        with load(bad_rec, num_workers=2, **kw) as split, load(bad_rec, num_workers=0, **kw) as whole:
            a, b = next(iter(split)), next(iter(whole))
    assert a.keys.tolist() == b.keys.tolist() == [0, 1, 2, 4, 5, 7, 9]
    assert np.array_equal(a.data, b.data) and np.array_equal(a.label, b.label)
    assert np.array_equal(a.label, a.keys.astype(np.float32))


def test_strict_raises_on_a_bad_record(bad_rec):
    with load(bad_rec, num_workers=2, batch_size=4, shuffle=False, strict=True, resize=None) as loader:
        with pytest.raises(BadRecordError, match=r"bad\.rec@\d+"):
            epoch_keys(loader)


def test_label_count_mismatch_is_a_bad_record(multi_rec):
    with load(multi_rec, label_width=1, batch_size=4) as loader:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert epoch_keys(loader) == []
    assert "record has 3 label(s), the loader expects 1" in str(caught[0].message)


def test_too_many_warnings_are_summed_up(bad_rec):
    with load(bad_rec, max_warnings=1, batch_size=10, resize=None) as loader:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            epoch_keys(loader)
    texts = [str(w.message) for w in caught]
    assert len(texts) == 2 and "skipped 3 bad records" in texts[1]
    assert len(loader.stats.recent_errors) == 3


# ---- processes and shared memory -------------------------------------------------------------------


def _ours() -> set[str]:
    """This process's loader segments (other processes on the machine have their own)."""
    from icformat.loader.shm import segment_prefix

    names = os.listdir("/dev/shm") if os.path.isdir("/dev/shm") else []
    return {n for n in names if n.startswith(segment_prefix())}


def test_close_stops_every_worker_and_frees_shared_memory(rec):
    before = _ours()
    loader = load(rec, num_workers=2)
    batch = next(iter(loader))
    pids = loader.worker_pids
    assert len(pids) == 2 and all(os.path.exists(f"/proc/{p}") for p in pids)
    assert _ours() - before  # the batches live in segments named for this process
    loader.close()
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
    assert _ours() <= before
    assert batch.data.std() > 0  # arrays handed out stay valid after close
    with pytest.raises(ValueError):
        iter(loader)


def test_with_block_and_garbage_collection_stop_workers(rec):
    with load(rec, num_workers=2) as loader:
        next(iter(loader))
        pids = loader.worker_pids
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
    loader = load(rec, num_workers=2)
    it = iter(loader)
    next(it)
    pids = loader.worker_pids
    del loader, it
    gc.collect()
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)


def test_kept_batches_are_never_overwritten(rec):
    with load(rec, num_workers=2, batch_size=4, shuffle=False, augmentation_type="crop") as loader:
        kept = list(loader)  # every batch referenced at once
        assert loader.stats.retired_slots > 0
        copies = [b.data.copy() for b in kept]
    with load(rec, num_workers=0, batch_size=4, shuffle=False, augmentation_type="crop") as again:
        for batch, copy in zip(again, copies):
            assert np.array_equal(batch.data, copy)


def test_forkserver_start_method(rec):
    with load(rec, num_workers=1, start_method="forkserver") as loader:
        assert sorted(epoch_keys(loader)) == list(range(30))


def test_a_dead_worker_is_reported_not_a_hang(rec):
    with load(rec, num_workers=2, batch_size=2) as loader:
        it = iter(loader)
        next(it)
        for pid in loader.worker_pids:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        with pytest.raises(WorkerError, match="died"):
            for _ in it:
                pass


# ---- argument checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(augmentation_type="rotate"), "augmentation_type"),
        (dict(dtype="float16"), "dtype"),
        (dict(data_shape=(4, 32, 32)), "channels"),
        (dict(data_shape="3x32x32"), "data_shape"),
        (dict(resize=20), "smaller than data_shape"),
        (dict(num_parts=2, part_index=2), "part_index"),
        (dict(last_batch="roll"), "last_batch"),
        (dict(dtype="uint8", mean=1), "mean/std"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_bad_arguments_are_refused_at_the_door(rec, kw, match):
    with pytest.raises(ValueError, match=match):
        load(rec, **kw)


def test_not_a_record_file(tmp_path):
    path = tmp_path / "junk.rec"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(IcformatError):
        load(str(path))


def test_augmentation_presets():
    assert Augmentation.from_type(None) == Augmentation()
    crop = Augmentation.from_type("crop")
    assert crop.rand_crop and crop.rand_mirror and not crop.color and not crop.affine
    color = Augmentation.from_type("crop_color")
    assert (color.random_h, color.random_s, color.random_l) == (36, 50, 50) and not color.affine
    full = Augmentation.from_type("crop_color_transform")
    assert (full.max_rotate_angle, full.max_shear_ratio, full.max_aspect_ratio) == (10, 0.1, 0.25)


def test_a_worker_stuck_on_a_record_is_reported_not_a_hang(tmp_path, jpegs):
    """A .lst image that is a FIFO nobody writes: the worker blocks in open(), alive, forever."""
    from icformat.loader import WorkerTimeout

    (tmp_path / "ok.jpg").write_bytes(jpegs[0])
    os.mkfifo(tmp_path / "stuck.jpg")
    lst = tmp_path / "data.lst"
    lst.write_text("0\t0\tok.jpg\n1\t1\tstuck.jpg\n")
    with ImageLoader(str(lst), 2, SHAPE, resize=RESIZE, num_workers=1, shuffle=False, worker_timeout=2) as loader:
        with pytest.raises(WorkerTimeout, match="no loader worker answered for 2 s"):
            list(loader)
