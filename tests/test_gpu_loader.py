"""The GPU loader: importable and falling back without a GPU; its tensor pipeline checked
against the CPU loader wherever PyTorch runs (on the CPU here, on CUDA where there is one)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from icformat.loader import BadRecordWarning, ImageLoader, gpu, gpu_decode
from icformat.loader.gpu import GpuFallbackWarning, GpuImageLoader, cuda_available
from icformat.loader.gpu_decode import pick_decoder
from icformat.loader.gpu_ops import theta as _theta

from .test_loader import make_jpegs, write_rec


def _torch():
    return pytest.importorskip("torch", reason="PyTorch not installed: the tensor pipeline is not tested here")


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> str:
    images = make_jpegs(16, seed=8)
    return write_rec(str(tmp_path_factory.mktemp("gpurec") / "data.rec"), images, [float(i % 3) for i in range(16)])


def test_importable_and_honest_without_a_gpu():
    assert isinstance(cuda_available(), bool)
    info = gpu.gpu_summary()
    assert set(info) >= {"torch", "cuda", "torchvision", "nvimgcodec"}


def test_falls_back_to_the_cpu_loader_with_a_notice(rec):
    if cuda_available():
        pytest.skip("a CUDA GPU is present: no fallback to check")
    with pytest.warns(GpuFallbackWarning, match="using the CPU loader"):
        loader = GpuImageLoader(rec, 4, (3, 32, 32), resize=40, num_workers=0, seed=2)
    with loader, ImageLoader(rec, 4, (3, 32, 32), resize=40, num_workers=0, seed=2) as cpu:
        assert not loader.uses_gpu and loader.fallback_reason
        assert len(loader) == len(cpu) == 4
        for a, b in zip(loader, cpu):
            assert isinstance(a.data, np.ndarray)
            assert np.array_equal(a.data, b.data) and np.array_equal(a.label, b.label)


def test_pick_decoder(monkeypatch):
    assert pick_decoder("auto", "cpu") == "simplejpeg"
    with pytest.raises(ValueError):
        pick_decoder("libjpeg", "cuda")
    monkeypatch.setattr(gpu_decode, "_has_module", lambda name: name == "nvidia.nvimgcodec")
    assert pick_decoder("auto", "cuda") == "nvimgcodec"
    with pytest.raises(LookupError, match="torchvision"):
        pick_decoder("torchvision", "cuda")
    monkeypatch.setattr(gpu_decode, "_has_module", lambda name: False)
    with pytest.raises(LookupError, match="neither"):
        pick_decoder("auto", "cuda:0")


def test_theta_maps_pixel_centres():
    """A crop of 4x4 at (2, 1) from an 8-wide, 6-high image, without scaling: the first and last
    output pixel centres land on input pixel centres 2 and 5 (x), 1 and 4 (y)."""
    theta = np.array(_theta((1, 0, 2, 0, 1, 1), 6, 8, 4, 4, False))
    corners = np.array([[2 * 0.5 / 4 - 1, 2 * 3.5 / 4 - 1]])  # normalised centres of columns 0 and 3
    xs = theta[0, 0] * corners[0] + theta[0, 2]
    assert np.allclose((xs + 1) * 8 / 2 - 0.5, [2, 5])
    ys = theta[1, 1] * corners[0] + theta[1, 2]
    assert np.allclose((ys + 1) * 6 / 2 - 0.5, [1, 4])
    flipped = np.array(_theta((1, 0, 2, 0, 1, 1), 6, 8, 4, 4, True))
    assert np.allclose((flipped[0, 0] * corners[0] + flipped[0, 2] + 1) * 4 - 0.5, [5, 2])


# ---- the tensor pipeline (PyTorch required) ---------------------------------------------------------


def _devices():
    return ["cpu"] + (["cuda"] if cuda_available() else [])


@pytest.mark.parametrize("aug", [None, "crop", "crop_color", "crop_color_transform"])
@pytest.mark.parametrize("device", _devices())
def test_tensor_pipeline_matches_the_cpu_loader(rec, aug, device):
    torch = _torch()
    kw = dict(resize=40, augmentation_type=aug, seed=5)
    decoder = "simplejpeg" if device == "cpu" else "auto"
    with GpuImageLoader(rec, 8, (3, 32, 32), device=device, decoder=decoder, **kw) as ours, ImageLoader(
        rec, 8, (3, 32, 32), num_workers=0, **kw
    ) as cpu:
        assert ours.uses_gpu
        diffs = []
        for a, b in zip(ours, cpu):
            assert isinstance(a.data, torch.Tensor) and a.data.device.type == device
            assert np.array_equal(a.keys, b.keys)
            assert np.array_equal(a.label.cpu().numpy(), b.label)
            diffs += np.abs(a.data.cpu().numpy() - b.data).mean(axis=(1, 2, 3)).tolist()
    # the same geometry and draws; bilinear (GPU) vs OpenCV's fixed-point or Pillow's antialiased filter
    limit = 1.0 if cpu.backend == "cv2" and aug is None else 6.0
    assert max(diffs) < limit and np.median(diffs) < 3.0, diffs


def test_tensor_pipeline_outputs(rec, tmp_path):
    torch = _torch()
    with GpuImageLoader(rec, 5, "1,24,24", resize=40, device="cpu", dtype="uint8", last_batch="pad") as gray:
        batches = list(gray)
        assert [tuple(b.data.shape) for b in batches] == [(5, 1, 24, 24)] * 4 and batches[-1].pad == 4
        assert batches[0].data.dtype == torch.uint8
    multi = write_rec(
        str(tmp_path / "multi.rec"), make_jpegs(6, seed=1), [np.array([i, -i], np.float32) for i in range(6)]
    )
    with GpuImageLoader(multi, 4, (3, 16, 16), resize=20, device="cpu", mean=(1, 2, 3), std=2) as loader:
        for batch in loader:
            keys = torch.from_numpy(batch.keys).float()
            assert torch.equal(batch.label, torch.stack([keys, -keys], 1))


def test_tensor_pipeline_skips_bad_records(tmp_path):
    _torch()
    images = make_jpegs(6, seed=3)
    images[2] = b"not an image at all"
    path = write_rec(str(tmp_path / "bad.rec"), images, [0.0] * 6)
    with GpuImageLoader(path, 3, (3, 16, 16), resize=20, device="cpu", shuffle=False) as loader:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            keys = [int(k) for b in loader for k in b.keys]
        assert keys == [0, 1, 3, 4, 5] and loader.stats.skipped == 1
        assert any(issubclass(w.category, BadRecordWarning) and "bad.rec@" in str(w.message) for w in caught)


def test_tensor_pipeline_epochs_and_abandoned_iterators(rec):
    _torch()
    with GpuImageLoader(rec, 4, (3, 16, 16), resize=20, device="cpu", seed=1) as loader:
        old = iter(loader)
        next(old)
        keys = [int(k) for b in loader for k in b.keys]
        assert sorted(keys) == list(range(16))
        with pytest.raises(RuntimeError, match="superseded"):
            next(old)
        again = [int(k) for b in loader for k in b.keys]
        assert sorted(again) == list(range(16)) and again != keys

