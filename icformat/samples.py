"""Real sample photos (shipped inside scikit-image and scikit-learn) and corpora made from them.

Used by the demo, the tests and the benchmarks. Needs scikit-image and/or scikit-learn installed
(the ``dev`` extra); nothing is downloaded.
"""
from __future__ import annotations

import os
import random
from typing import Iterator

import numpy as np

from .errors import MissingDependencyError

# colour photographs that scikit-image ships in its wheel (no download needed)
_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
_SKIMAGE_GRAY = ("camera", "coins", "moon", "page", "grass", "gravel", "brick")


def sample_photos(gray: bool = False) -> dict[str, np.ndarray]:
    """Real photos as ``name -> HxWx3 uint8 RGB`` (``HxW`` when ``gray``)."""
    photos: dict[str, np.ndarray] = {}
    try:
        import skimage.data as data

        for name in _SKIMAGE_GRAY if gray else _SKIMAGE_PHOTOS:
            photos[name] = np.ascontiguousarray(getattr(data, name)())
    except ImportError:
        pass
    if not gray:
        try:
            from sklearn.datasets import load_sample_images

            bunch = load_sample_images()
            for path, image in zip(bunch.filenames, bunch.images):
                photos[os.path.splitext(os.path.basename(path))[0]] = np.ascontiguousarray(image)
        except ImportError:
            pass
    if not photos:
        raise MissingDependencyError("sample photos need scikit-image or scikit-learn: pip install 'icformat[bench]'")
    return photos


def _variant(photo: np.ndarray, rng: random.Random, size: tuple[int, int] | None) -> np.ndarray:
    """A random crop (50-100% of each side), maybe mirrored, resized to ``size`` (w, h) when given."""
    from PIL import Image

    h, w = photo.shape[:2]
    ch, cw = int(h * rng.uniform(0.5, 1.0)), int(w * rng.uniform(0.5, 1.0))
    y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
    crop = photo[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    image = Image.fromarray(np.ascontiguousarray(crop))
    if size is not None:
        image = image.resize(size, Image.BILINEAR)
    return np.asarray(image)


def _encode_jpeg(array: np.ndarray, quality: int) -> bytes:
    """JPEG with 4:2:0 chroma, as cameras, ImageNet and OpenCV's encoder write them."""
    import simplejpeg

    return simplejpeg.encode_jpeg(np.ascontiguousarray(array), quality=quality, colorspace="RGB", colorsubsampling="420")


def iter_variants(count: int, *, seed: int = 0, size: tuple[int, int] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """``count`` distinct images ``(source_name, RGB array)`` cut from the real photos."""
    photos = sample_photos()
    names = sorted(photos)
    rng = random.Random(seed)
    for i in range(count):
        name = names[i % len(names)]
        yield name, _variant(photos[name], rng, size)


def write_photo_tree(
    root: str,
    *,
    classes: int = 3,
    per_class: int = 4,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    quality: int = 90,
    ext: str = ".jpg",
) -> list[str]:
    """Write ``classes`` folders (``class_0``...) of ``per_class`` JPEG (or PNG) images made from real
    photos; returns the relative paths in sorted order."""
    from PIL import Image

    rng = random.Random(seed)
    photos = sample_photos()
    names = sorted(photos)
    paths = []
    for c in range(classes):
        folder = os.path.join(root, f"class_{c}")
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            photo = photos[names[(c * per_class + i) % len(names)]]
            array = _variant(photo, rng, size)
            rel = os.path.join(f"class_{c}", f"img_{i:05d}{ext}")
            target = os.path.join(root, rel)
            if ext.lower() in (".jpg", ".jpeg"):
                with open(target, "wb") as f:
                    f.write(_encode_jpeg(array, quality))
            else:
                Image.fromarray(array).save(target)
            paths.append(rel)
    return sorted(paths)


def imagenet_like_corpus(root: str, count: int, *, classes: int = 10, seed: int = 0) -> list[str]:
    """JPEGs of ImageNet-like size (about 500x375, quality 90, 4:2:0 chroma as cameras and ImageNet
    write them) in ``classes`` folders;
    reuses files already there. Returns the sorted relative paths."""
    per_class = -(-count // classes)
    marker = os.path.join(root, f".corpus-v2-{count}-{classes}-{seed}")
    if not os.path.exists(marker):
        rng = random.Random(seed)
        sizes = [(500, 375), (500, 333), (375, 500), (500, 400), (640, 480), (333, 500)]
        photos = sample_photos()
        names = sorted(photos)
        for c in range(classes):
            os.makedirs(os.path.join(root, f"class_{c}"), exist_ok=True)
        for i in range(per_class * classes):
            c = i % classes
            array = _variant(photos[names[i % len(names)]], rng, sizes[rng.randrange(len(sizes))])
            with open(os.path.join(root, f"class_{c}", f"img_{i // classes:05d}.jpg"), "wb") as f:
                f.write(_encode_jpeg(array, 90))
        open(marker, "w").close()
    paths = []
    for c in range(classes):
        paths += [os.path.join(f"class_{c}", n) for n in sorted(os.listdir(os.path.join(root, f"class_{c}")))]
    return sorted(paths)[: per_class * classes]


def digit_images(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real handwritten digits (8x8, 0-16) as ``size`` x ``size`` RGB uint8
    images (bilinear upscaling) and their labels 0-9."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise MissingDependencyError("the digits need scikit-learn: pip install 'icformat[bench]'") from exc
    from PIL import Image

    digits = load_digits()
    images = np.empty((len(digits.images), size, size, 3), np.uint8)
    for i, small in enumerate(digits.images):
        gray = Image.fromarray((small * (255.0 / 16.0)).astype(np.uint8)).resize((size, size), Image.BILINEAR)
        images[i] = np.asarray(gray)[:, :, None]
    return images, digits.target.astype(np.int64)


def write_digits_rec(path: str, indices, *, size: int = 32, labels: np.ndarray | None = None, quality: int = 95) -> int:
    """Pack the digits at ``indices`` (JPEG) into the RecordIO file ``path`` with its ``.idx``;
    ``labels`` (one row per index, several columns for multi-label) replace the digit labels.
    Returns the record count."""
    from .recordio.header import IRHeader, pack
    from .recordio.writer import RecordWriter

    images, targets = digit_images(size)
    with RecordWriter(path, index=True) as writer:
        for n, i in enumerate(indices):
            row = targets[i] if labels is None else labels[n]
            values = np.atleast_1d(np.asarray(row, np.float32))
            header = IRHeader(0, float(values[0]), n, 0) if values.size == 1 else IRHeader(values.size, values, n, 0)
            writer.write(pack(header, _encode_jpeg(images[i], quality)), key=n)
    return len(indices)


def write_insightface_rec(
    path: str,
    *,
    identities: int = 5,
    per_identity: tuple[int, int] = (2, 4),
    size: int = 112,
    seed: int = 0,
    pair_labels: bool = False,
    header_first: bool = False,
) -> dict:
    """A face set in InsightFace's ``.rec`` layout (as its ``face2rec2.py`` writes MS1M and the like),
    with its ``.idx``: image records with keys ``1..n`` (``size`` x ``size`` JPEG crops of real
    photos, one photo per identity, each labelled with its identity; ``pair_labels``: the label pair
    ``(identity, 1)`` as face2rec2 writes it), then the header record with key 0 (flag 2, no image,
    labels ``(n + 1, n + 1 + identities)``), then one header record per identity (labels: the range
    of its image keys). ``header_first`` writes key 0 first instead. Returns the keys and labels."""
    from .recordio.header import IRHeader, pack
    from .recordio.writer import RecordWriter

    rng = random.Random(seed)
    photos = sample_photos()
    names = sorted(photos)
    counts = [rng.randint(*per_identity) for _ in range(identities)]
    images = sum(counts)
    header = pack(IRHeader(2, np.array([images + 1, images + 1 + identities], np.float32), 0, 0), b"")
    ranges, labels, key = [], {}, 1
    with RecordWriter(path, index=True) as writer:
        if header_first:
            writer.write(header, key=0)
        for identity, count in enumerate(counts):
            photo = photos[names[identity % len(names)]]
            ranges.append((key, key + count))
            for _ in range(count):
                label = np.array([identity, 1], np.float32) if pair_labels else float(identity)
                jpeg = _encode_jpeg(_variant(photo, rng, (size, size)), 90)
                writer.write(pack(IRHeader(0, label, key, 0), jpeg), key=key)
                labels[key] = identity
                key += 1
        if not header_first:
            writer.write(header, key=0)
        for start, end in ranges:
            writer.write(pack(IRHeader(2, np.array([start, end], np.float32), key, 0), b""), key=key)
            key += 1
    return {"images": images, "identities": identities, "labels": labels, "ranges": ranges}
