"""One sample, bytes to output: decode (reduced), resample only the kept window, jitter,
mirror, and write channel-first into the batch slot, converting to the output type on the way."""
from __future__ import annotations

import numpy as np

from ..errors import ImageError
from .augment import plan_sample, scale_matrix
from .color import jitter_hls
from .decode import Decoder
from .options import Preprocess
from .resample import Resampler
from .rng import SampleRandom, stream_key

_SAMPLE_TAG = 0xA06  # keeps augmentation streams apart from the epoch-order stream


def sample_random(seed: int, epoch: int, key: int) -> SampleRandom:
    """The random stream of record ``key`` in ``epoch``."""
    return SampleRandom(stream_key(seed, epoch, key, _SAMPLE_TAG))


def _in_verdict_words(data, exc: ImageError) -> ImageError:
    """A record the loader cannot decode, said as the one image verdict says it (the words of ``lst
    validate --check-images`` and ``rec verify --decode``); other failures (too small) unchanged."""
    from ..image.verdict import judge_image

    verdict = judge_image(data)
    return exc if verdict.ok else ImageError(verdict.reason)


class SampleProcessor:
    """Turns image bytes into one ``C x H x W`` sample of a batch. One per process."""

    def __init__(self, prep: Preprocess, *, seed: int = 0, backend: str = "auto"):
        self.prep = prep
        self.seed = seed
        self.decoder = Decoder(prep.channels, apply_exif=prep.apply_exif)
        self.resampler = Resampler(backend)
        self._cv2 = self.resampler._cv2
        shape = (prep.channels, 1, 1)
        self._mean = None if prep.mean is None else np.asarray(prep.mean, np.float32).reshape(shape)
        self._scale = None if prep.std is None else (1 / np.asarray(prep.std, np.float32)).reshape(shape)

    def image(self, data, epoch: int, key: int) -> tuple[np.ndarray, bool]:
        """The augmented ``H x W x C`` uint8 image (not yet mirrored) and whether to mirror it."""
        prep = self.prep
        rng = sample_random(self.seed, epoch, key) if prep.augment.random else None
        try:
            info = self.decoder.probe(data)
            plan = plan_sample(info.height, info.width, prep, rng)
            frame_h, frame_w = plan.frame
            decoded = self.decoder.decode(data, frame_h, frame_w, info)
        except ImageError as exc:
            raise _in_verdict_words(data, exc) from None
        matrix = scale_matrix(plan.matrix, decoded.shape[1] / frame_w, decoded.shape[0] / frame_h)
        image = self.resampler.render(
            decoded, matrix, (prep.height, prep.width), plan.axis_aligned, prep.augment.fill_value,
            exact=not prep.augment.rand_crop,
        )
        if plan.hls is not None and image.shape[2] == 3:
            image = jitter_hls(image, plan.hls, self._cv2)
        return image, plan.flip

    def write(self, data, epoch: int, key: int, out: np.ndarray) -> None:
        """Process ``data`` into ``out`` (``C x H x W`` float32 or uint8)."""
        image, flip = self.image(data, epoch, key)
        cv2 = self._cv2
        if cv2 is not None and image.shape[2] == 3:
            # contiguous planes, then a contiguous cast: about 2x faster than a strided copy
            for channel, plane in enumerate(cv2.split(cv2.flip(image, 1) if flip else image)):
                out[channel] = plane
        else:
            np.copyto(out, (image[:, ::-1] if flip else image).transpose(2, 0, 1), casting="unsafe")
        if self._mean is not None:
            out -= self._mean
        if self._scale is not None:
            out *= self._scale
