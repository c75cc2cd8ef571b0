"""GPU JPEG decoders for :mod:`icformat.loader.gpu`: a list of encoded images in, a list of
``C x H x W`` uint8 tensors on the device out. torchvision's ``decode_jpeg(device="cuda")``
(nvJPEG), NVIDIA nvImageCodec, and libjpeg-turbo on the CPU as a reference for tests."""
from __future__ import annotations

import numpy as np

from ..errors import ImageError, UsageError

from .decode import Decoder

DECODERS = ("auto", "torchvision", "nvimgcodec", "simplejpeg")


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def pick_decoder(decoder: str, device: str) -> str:
    """The decoder ``auto`` stands for on ``device``; raises ``LookupError`` naming what is missing."""
    if decoder not in DECODERS:
        raise UsageError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    on_gpu = device.startswith("cuda")
    if decoder == "auto":
        if not on_gpu:
            return "simplejpeg"
        if _has_module("torchvision"):
            return "torchvision"
        if _has_module("nvidia.nvimgcodec"):
            return "nvimgcodec"
        raise LookupError("neither torchvision nor nvidia-nvimgcodec is installed")
    if decoder == "torchvision" and not _has_module("torchvision"):
        raise LookupError("torchvision is not installed")
    if decoder == "nvimgcodec" and not _has_module("nvidia.nvimgcodec"):
        raise LookupError("nvidia-nvimgcodec is not installed")
    if decoder == "nvimgcodec" and not on_gpu:
        raise LookupError("nvImageCodec decodes on a CUDA device only")
    return decoder


class TorchvisionDecoder:
    name = "torchvision"

    def __init__(self, device, channels: int):
        from torchvision.io import ImageReadMode, decode_jpeg

        self._decode = decode_jpeg
        self._mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
        self.device = device

    def __call__(self, tensors: list) -> list:
        return self._decode(tensors, mode=self._mode, device=self.device)


class NvImageCodecDecoder:
    name = "nvimgcodec"

    def __init__(self, device, channels: int):
        from nvidia import nvimgcodec

        index = device.index if getattr(device, "index", None) is not None else 0
        self._decoder = nvimgcodec.Decoder(device_id=index)
        self.channels = channels
        self.device = device

    def __call__(self, tensors: list) -> list:
        import torch

        images = self._decoder.decode([t.numpy() for t in tensors])  # one batched call
        out = []
        for image in images:
            if image is None:  # nvImageCodec answers None for an image it could not decode
                raise ImageError("nvImageCodec could not decode an image of the batch")
            chw = torch.from_dlpack(image).permute(2, 0, 1)  # HWC on the GPU, zero-copy
            if self.channels == 1 and chw.shape[0] == 3:
                weights = torch.tensor([0.299, 0.587, 0.114], device=self.device).view(3, 1, 1)
                chw = (chw.float() * weights).sum(0, keepdim=True).round().clamp(0, 255).to(torch.uint8)
            out.append(chw)
        return out


class SimplejpegDecoder:
    """libjpeg-turbo on the CPU, then to the device: a reference for tests and CPU-only runs."""

    name = "simplejpeg"

    def __init__(self, device, channels: int):
        self._decoder = Decoder(channels, apply_exif=False)
        self.device = device

    def __call__(self, tensors: list) -> list:
        import torch

        out = []
        for t in tensors:
            array = np.array(self._decoder.decode(t.numpy(), 0, 0))  # the decoder reuses its buffer
            out.append(torch.from_numpy(array).permute(2, 0, 1).to(self.device))
        return out


DECODER_CLASSES = {"torchvision": TorchvisionDecoder, "nvimgcodec": NvImageCodecDecoder, "simplejpeg": SimplejpegDecoder}


def make_decoder(name: str, device, channels: int):
    """A decoder by name (see :func:`pick_decoder`)."""
    return DECODER_CLASSES[name](device, channels)
