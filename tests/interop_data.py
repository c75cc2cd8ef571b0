""".rec sets for the WebDataset/Parquet conversions, made from real photos (scikit-image, scikit-learn):
im2rec-shaped (class ids, ids as .idx keys), multi-label, InsightFace-shaped (record 0 and identity
records are headers with flag > 0 and empty payloads, .idx keyed by position) and odd headers."""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from icformat import samples
from icformat.recordio.header import HEADER, header_bytes
from icformat.recordio.writer import RecordWriter

CLASSES = ["cat", "dog", "bird"]
KINDS = ("plain", "multilabel", "insightface", "odd")


def photo_images(count: int = 8) -> list[bytes]:
    """Real photos as JPEGs of a few sizes, every fourth one a PNG."""
    photos = list(samples.sample_photos().values())
    images = []
    for i in range(count):
        photo = Image.fromarray(photos[i % len(photos)])
        photo = photo.resize((40 + 8 * i, 32 + 4 * (i % 3)))
        out = io.BytesIO()
        photo.save(out, "PNG" if i % 4 == 3 else "JPEG", quality=90)
        images.append(out.getvalue())
    return images


def _f32(bits: int) -> bytes:
    return np.array([bits], "<u4").tobytes()


def records(kind: str, images: list[bytes]) -> list[tuple[object, bytes]]:
    """``(idx key, payload)`` of every record of a set of ``kind``."""
    if kind == "plain":  # im2rec: flag 0, the class as label, the .lst index as id and .idx key
        return [(10 + i, header_bytes(float(i % 3), 10 + i) + image) for i, image in enumerate(images)]
    if kind == "multilabel":  # im2rec --pack-label: flag 3 multi-hot labels after the header
        return [(i, header_bytes([float(i % 2), 1.0, float(i % 3 == 0)], i) + image) for i, image in enumerate(images)]
    if kind == "insightface":  # record 0: [first identity record, end]; identity records: [first image, end]
        n, identities = len(images), 2
        out = [(0, header_bytes([float(n + 1), float(n + 1 + identities)], 0))]
        out += [(1 + i, header_bytes(float(i % identities), 1 + i) + image) for i, image in enumerate(images)]
        half = 1 + n // 2
        out += [(n + 1, header_bytes([1.0, float(half)], 0)), (n + 2, header_bytes([float(half), float(n + 1)], 0))]
        return out
    # odd headers: -0.0, a NaN with a payload, a label beside flag labels, a fractional label, a huge
    # class, id2, repeated ids, string .idx keys
    return [
        ("a", HEADER.pack(0, -0.0, 5, 0) + images[0]),
        ("b", HEADER.pack(0, 0.0, 5, 0) + images[1]),
        ("c", HEADER.pack(0, 0.0, 7, 0)[:4] + _f32(0x7FC00123) + HEADER.pack(0, 0.0, 7, 0)[8:] + images[2]),
        ("d", HEADER.pack(1, 2.5, 8, 9) + _f32(0x7FA00001) + images[3]),
        ("e", HEADER.pack(0, 0.25, 1 << 63, 1) + images[4]),
        ("f", HEADER.pack(0, float(1 << 30), 11, 0) + images[5]),
        ("g", header_bytes(2.0, 12, 3) + b""),
    ]


def write_set(path: str, kind: str, images: list[bytes] | None = None, index: bool = True) -> list[bytes]:
    """Write a ``.rec`` (+ ``.idx``) of ``kind``; returns its payloads."""
    items = records(kind, images or photo_images())
    with RecordWriter(path, index=index or None) as writer:
        for key, payload in items:
            writer.write(payload, key=key)
    return [payload for _, payload in items]


def same_files(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def idx_of(rec: str) -> str:
    return os.path.splitext(rec)[0] + ".idx"
