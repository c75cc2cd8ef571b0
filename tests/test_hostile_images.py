"""Hostile images (issue 24): a PNG of 30000x30000 zeros (under 1 MB) and a small JPEG whose frame
header claims 65000x65000 pixels, given to every command beside good images.

Each command runs in a child process under an address-space limit (``RLIMIT_AS``), so a regression
that decodes either image fails the test (out of memory) instead of taking the machine down; a
decode that hits the limit says "not enough memory", which the assertions tell apart from the
budget's "refused undecoded". Library checks that decode a hostile image run in a child too."""
from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import simplejpeg

from icformat.image.budget import DEFAULT_MAX_PIXELS, check_header, check_pixels, jpeg_frame, jpeg_layout, jpeg_scale, markers
from icformat.errors import ImageTooLarge
from icformat.image.encode import encode_jpeg

from .serve_support import Server, any_model, icformat_env, invoke, request

ADDRESS_SPACE = 4 << 30  # MXNet alone reserves about 1.7 GB of address space; a decode of either image needs far more
REFUSED = "refused undecoded"
TIMEOUT_S = 300  # a guard against a hang, not a timing assertion


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_icformat(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m icformat ARGS`` under the address-space limit."""
    return subprocess.run([sys.executable, "-m", "icformat", *args], env={**icformat_env(), **(env or {})},
                          preexec_fn=limit_memory, capture_output=True, text=True, timeout=TIMEOUT_S)


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Python ``code`` under the address-space limit, every warning an error."""
    return subprocess.run([sys.executable, "-W", "error", "-c", code, *args], env=icformat_env(),
                          preexec_fn=limit_memory, capture_output=True, text=True, timeout=TIMEOUT_S)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def zero_png(side: int, rows_per_block: int = 250) -> bytes:
    """A gray PNG of ``side x side`` zeros, built without holding its pixels: one deflate block of
    ``rows_per_block`` zero rows, ended by a full flush (so it codes the same every time), repeated."""
    row = b"\0" * (1 + side)
    block = row * rows_per_block
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    once = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(side, rows_per_block)
    tail = deflate.compress(row * rest) + deflate.flush()
    adler = 1
    for _ in range(count):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * rest, adler)
    idat = b"\x78\xda" + once * count + tail + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def patched_jpeg(jpeg: bytes, height: int, width: int) -> bytes:
    """``jpeg`` with its frame header (SOF0) claiming ``height x width``."""
    data = bytearray(jpeg)
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture(scope="module")
def images(tmp_path_factory, photos) -> dict:
    """Files in one folder: the two hostile images and two good ones, with their bytes."""
    folder = tmp_path_factory.mktemp("hostile")
    found = {"bomb.png": zero_png(30000), "bomb.jpg": patched_jpeg(encode_jpeg(photos["chelsea"][:64, :64], 90), 65000, 65000),
             "good-1.jpg": encode_jpeg(photos["coffee"], 90), "good-2.jpg": encode_jpeg(photos["chelsea"], 90)}
    assert len(found["bomb.png"]) < 1 << 20 and len(found["bomb.jpg"]) < 10_000
    for name, data in found.items():
        (folder / name).write_bytes(data)
    return {"folder": str(folder), **found}


def _said(text: str, *names: str) -> None:
    """Each of ``names`` refused in one line naming the limit; no traceback, no Pillow words."""
    lines = text.splitlines()
    for name in names:
        said = [line for line in lines if name in line and REFUSED in line]
        assert len(said) == 1, text
        assert f"{DEFAULT_MAX_PIXELS:,}" in said[0] and "--max-pixels" in said[0], said[0]
    assert "Traceback" not in text and "DecompressionBomb" not in text and "DOS" not in text, text


# -- the budget, from the header ------------------------------------------------------------------------


def test_jpeg_frame_is_libjpegs_reading(photos):
    """The frame read from the markers is what libjpeg-turbo reads, for baseline, progressive and
    gray JPEGs, and with stray bytes before a marker (libjpeg skips them with a warning; simplejpeg's
    header reader refuses them, Pillow's decodes them)."""
    from io import BytesIO

    from PIL import Image

    for name, photo in photos.items():
        baseline = encode_jpeg(photo, 90)
        buffer = BytesIO()
        Image.fromarray(photo).save(buffer, "JPEG", progressive=True)
        gray = simplejpeg.encode_jpeg(np.ascontiguousarray(photo[:, :, :1]), colorspace="GRAY")
        sof = baseline.index(b"\xff\xc0")
        stray = baseline[:sof] + b"\x00\x13\x37" + baseline[sof:]
        for data, full in ((baseline, False), (buffer.getvalue(), True), (gray, False)):
            height, width = simplejpeg.decode_jpeg_header(data)[:2]
            assert jpeg_frame(data) == (height, width, full), name
        assert jpeg_frame(stray) == jpeg_frame(baseline)
        for view in (memoryview(baseline), np.frombuffer(baseline, np.uint8), bytearray(baseline)):  # as callers hand it
            assert jpeg_frame(view) == jpeg_frame(baseline), type(view)
        with Image.open(BytesIO(stray)) as im:  # libjpeg (through Pillow) decodes it, at that size
            assert np.asarray(im).shape[:2] == jpeg_frame(stray)[:2]


def test_a_second_frame_header_counts_too(photos):
    """libjpeg refuses a second SOF, but only after the first; the larger of the two is checked."""
    jpeg = encode_jpeg(photos["coffee"], 90)
    sof = jpeg.index(b"\xff\xc0")
    length = struct.unpack_from(">H", jpeg, sof + 2)[0]
    segment = bytearray(jpeg[sof : sof + 2 + length])
    segment[5:9] = struct.pack(">HH", 60000, 60000)
    data = jpeg[: sof + 2 + length] + bytes(segment) + jpeg[sof + 2 + length :]
    assert jpeg_frame(data)[:2] == (60000, 60000)
    with pytest.raises(ImageTooLarge, match="60000x60000"):
        check_header(data)


def test_crafted_marker_runs_before_the_frame(photos):
    """Restart markers, fill bytes and stray bytes before the frame header are skipped as libjpeg
    skips them; a flood of segments is refused (ImageError), not walked for ever."""
    from icformat.errors import ImageError

    jpeg = encode_jpeg(photos["coffee"], 90)
    for filler in (b"\xff\xd0" * 100_000, b"\xff" * 100_000, b"\x00" * 100_000):
        assert jpeg_frame(jpeg[:2] + filler + jpeg[2:]) == jpeg_frame(jpeg)
    with pytest.raises(ImageError, match="more than 10,000 segments"):
        jpeg_frame(jpeg[:2] + b"\xff\xfe\x00\x02" * 20_000 + jpeg[2:])  # empty comments


def _markers_by_search(data: bytes):
    """The marker walk as it was first written (one regular expression search per segment): the
    oracle for ``markers``, which reads a segment in place where the last one ended."""
    import re

    pattern = re.compile(rb"\xff+([^\x00\x01\xd0-\xd9\xff])")
    pos, found = 2, []
    for _ in range(10_000):
        match = pattern.search(data, pos)
        if match is None:
            break
        marker, pos = data[match.end() - 1], match.end()
        if pos + 2 > len(data):
            break
        length = data[pos] << 8 | data[pos + 1]
        if length < 2:
            break
        found.append((marker, pos + 2, length - 2))
        if marker == 0xDA:
            break
        pos += length
    return found


def test_markers_read_in_place_are_those_the_search_finds(photos):
    """Random bytes, fill bytes, marker-only codes and cut-offs put between, inside and after a
    real JPEG's segments (with an EXIF segment): the walk finds the segments the search finds, and
    ``jpeg_layout`` the frame and the first EXIF segment they give."""
    import random
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photos["coffee"]).save(buffer, "JPEG", exif=exif.tobytes())
    jpeg = buffer.getvalue()
    head = jpeg[: jpeg.index(b"\xff\xda") + 64]
    pieces = [b"\xff", b"\xff\xff", b"\x00", b"\x01", b"\xff\xd0", b"\xff\xd9", b"\xff\x00", b"\x13\x37", b"\xff\xe1\x00\x08Exif\0\0"]
    rng = random.Random(7)
    for trial in range(400):
        data = bytearray(head)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(2, len(data))
            data[at:at] = rng.choice(pieces) if rng.random() < 0.8 else rng.randbytes(rng.randint(1, 3))
        if rng.random() < 0.2:
            data = data[: rng.randrange(2, len(data))]
        data = bytes(data)
        expected = _markers_by_search(data)
        assert list(markers(data)) == expected, trial
        assert markers(data, frozenset({0xC0, 0xDA})) == [m for m in expected if m[0] in (0xC0, 0xDA)], trial
        exif_at = next(((start, length) for marker, start, length in expected
                        if marker == 0xE1 and data[start : start + 6] == b"Exif\0\0"), None)
        assert jpeg_layout(data)[1] == exif_at and jpeg_layout(data)[0] == jpeg_frame(data), trial


def test_one_header_read_is_each_reading(photos):
    """``jpeg_header`` gives what simplejpeg, the frame walk and the EXIF reading each give."""
    from io import BytesIO

    from PIL import Image

    from icformat.image.decode import exif_orientation, jpeg_header

    for orientation in (None, 1, 3, 6, 8):
        buffer = BytesIO()
        exif = Image.Exif()
        if orientation:
            exif[0x0112] = orientation
        Image.fromarray(photos["coffee"]).save(buffer, "JPEG", exif=exif.tobytes())
        data = buffer.getvalue()
        header = jpeg_header(data)
        assert tuple(header[:4]) == simplejpeg.decode_jpeg_header(data)
        assert header.frame == jpeg_frame(data) and header.orientation == exif_orientation(data) == (orientation or 1)
    assert jpeg_header(b"\xff\xd8 not a jpeg") is None


def test_a_reduced_scale_decode_is_judged_by_what_it_allocates(photos):
    """A baseline JPEG decoded at 1/8 needs 1/64 of its pixels; a progressive one keeps coefficients
    for the whole image, so it is judged at full size."""
    from io import BytesIO

    from PIL import Image

    from icformat.image.decode import decode
    from icformat.loader.decode import Decoder

    photo = photos["astronaut"]  # 512 x 512
    buffer = BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", progressive=True)
    baseline, progressive = encode_jpeg(photo, 90), buffer.getvalue()
    assert jpeg_scale(512, 512, 64, 64) == (1, 8)
    assert decode(baseline, min_height=64, min_width=64, max_pixels=100 * 100).shape == (64, 64, 3)
    assert Decoder(max_pixels=100 * 100).decode(baseline, 64, 64).shape == (64, 64, 3)
    with pytest.raises(ImageTooLarge, match="512x512 .*over the 10,000-pixel limit"):
        decode(baseline, max_pixels=100 * 100)
    for decoder in (lambda: decode(progressive, min_height=64, min_width=64, max_pixels=100 * 100),
                    lambda: Decoder(max_pixels=100 * 100).decode(progressive, 64, 64)):
        with pytest.raises(ImageTooLarge, match="512x512"):
            decoder()
    with pytest.raises(ImageTooLarge, match="64x64 \\(4,096 pixels\\) even decoded at reduced scale"):
        decode(baseline, min_height=64, min_width=64, max_pixels=4000)


def test_pillow_formats_never_show_pillows_bomb_warning_or_error():
    """Pillow warns above its MAX_IMAGE_PIXELS and fails above twice that: both become
    ImageTooLarge at the budget, and a warning would fail the child (-W error)."""
    code = """
import io
import numpy as np
from PIL import Image
from icformat.errors import ImageTooLarge
from icformat.image.decode import decode, image_info
from icformat.image.verdict import judge_image
said = []
for side in (40, 100):  # 1,600 pixels: in Pillow's warning band at a 1,000-pixel budget; 10,000: its error band
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(buffer, "BMP")
    for call in (lambda: decode(buffer.getvalue(), max_pixels=1000), lambda: image_info(buffer.getvalue(), max_pixels=1000)):
        try:
            call()
        except ImageTooLarge as exc:
            said.append(str(exc))
    said.append(judge_image(buffer.getvalue(), max_pixels=1000).findings[0].code)
    assert Image.MAX_IMAGE_PIXELS == 1000
print("\\n".join(said))
"""
    run = run_python(code)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[2] == lines[5] == "image-too-large", lines
    assert all("over the 1,000-pixel limit" in line for line in lines[:2] + lines[3:5]), lines
    assert "40x40" in lines[0] and "10,000 pixels" in lines[3], lines  # above twice its limit, Pillow gives no size


def test_the_library_refuses_both_images_from_their_headers(images):
    """Every entry point of the one decoder, on both files, in a child under the memory limit."""
    code = """
import sys
from icformat.errors import ImageTooLarge
from icformat.im2rec.pack import PackOptions, transform_image
from icformat.image.decode import decode, image_info, verify_image
from icformat.image.verdict import judge_image
from icformat.loader.decode import Decoder
from icformat.serve.preprocess import preprocess
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    calls = {"decode": lambda: decode(data), "decode-gray": lambda: decode(data, color=0),
             "decode-unchanged": lambda: decode(data, color=-1), "image_info": lambda: image_info(data),
             "verify_image": lambda: verify_image(data), "loader": lambda: Decoder().decode(data, 0, 0),
             "pack": lambda: transform_image(data, PackOptions()), "pack-png": lambda: transform_image(data, PackOptions(encoding=".png")),
             "preprocess": lambda: preprocess(data, (3, 32, 32))}
    for name, call in calls.items():
        try:
            call()
            print(name, "decoded")
        except ImageTooLarge as exc:
            print(name, str(exc))
    print("verdict", judge_image(data).findings)
"""
    run = run_python(code, os.path.join(images["folder"], "bomb.png"), os.path.join(images["folder"], "bomb.jpg"))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 20, lines
    for line in lines:
        if line.startswith("verdict"):
            assert "image-too-large" in line and REFUSED in line, line
        else:
            assert REFUSED in line and ("30000x30000" in line or "65000x65000" in line), line


def test_check_pixels_names_size_limit_and_the_way_to_raise_it():
    with pytest.raises(ImageTooLarge) as caught:
        check_pixels(30000, 30000, 100_000_000)
    assert str(caught.value) == ("image is 30000x30000 (HxW, 900,000,000 pixels): over the 100,000,000-pixel limit, so it "
                                 "is refused undecoded; raise the limit with --max-pixels (or ICFORMAT_MAX_PIXELS) if the "
                                 "image is genuine")
    assert (caught.value.height, caught.value.width, caught.value.max_pixels) == (30000, 30000, 100_000_000)


def test_out_of_memory_is_the_same_one_line(images):
    """With the budget raised past what the process may allocate, the decode fails for lack of
    memory: one line per image, the good image still predicted."""
    folder = images["folder"]
    run = run_icformat("predict", "-m", any_model(), "--max-pixels", str(10**12), os.path.join(folder, "bomb.jpg"),
                       os.path.join(folder, "good-1.jpg"))
    assert run.returncode == 1, run.stderr
    assert [json.loads(line)["source"].rsplit("/", 1)[-1] for line in run.stdout.splitlines()] == ["good-1.jpg"]
    said = [line for line in run.stderr.splitlines() if "bomb.jpg" in line]
    assert len(said) == 1 and "not enough memory" in said[0] and "65000x65000" in said[0], run.stderr
    assert "Traceback" not in run.stderr


# -- every command -----------------------------------------------------------------------------------------


def test_predict(images):
    folder = images["folder"]
    run = run_icformat("predict", "-m", any_model(), folder)
    assert run.returncode == 1, run.stderr
    assert sorted(json.loads(line)["source"].rsplit("/", 1)[-1] for line in run.stdout.splitlines()) == ["good-1.jpg", "good-2.jpg"]
    _said(run.stderr, "bomb.png", "bomb.jpg")


def test_transform(images, tmp_path):
    out = tmp_path / "out"
    run = run_icformat("transform", "-m", any_model(), images["folder"], str(out), "--json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["written"] == 2 and sorted(f["name"] for f in report["failures"]) == ["bomb.jpg", "bomb.png"]
    assert sorted(os.listdir(out)) == ["good-1.jpg.out", "good-2.jpg.out"]
    _said(run.stderr, "bomb.png", "bomb.jpg")


LISTED = "0\t0\tbomb.png\n1\t1\tgood-1.jpg\n2\t0\tbomb.jpg\n3\t1\tgood-2.jpg\n"  # hostile on lines 1 and 3


def write_list(folder) -> str:
    """A .lst of the four images in ``folder`` (im2rec writes its .rec beside it)."""
    lst = folder / "data.lst"
    lst.write_text(LISTED)
    return str(lst)


@pytest.fixture(scope="module")
def listed(tmp_path_factory) -> str:
    return write_list(tmp_path_factory.mktemp("lst"))


def test_im2rec_skips_and_reports_them(images, tmp_path):
    from icformat.recordio import RecordReader

    for extra in ([], ["--encoding", ".png", "--num-workers", "2"]):
        folder = tmp_path / f"run{len(extra)}"
        folder.mkdir()
        lst = write_list(folder)
        run = run_icformat("im2rec", lst, images["folder"], *extra)
        assert run.returncode == 0, run.stderr
        with RecordReader(lst[: -len(".lst")] + ".rec") as reader:
            assert sum(1 for _ in reader) == 2
        _said(run.stderr, "bomb.png", "bomb.jpg")


def test_lst_validate_check_images(images, listed):
    run = run_icformat("lst", "validate", listed, "--root", images["folder"], "--check-images", "--json", "--num-workers", "1")
    assert run.returncode == 1, run.stderr
    problems = json.loads(run.stdout)["problems"]
    assert [(p["line"], p["code"], p["severity"]) for p in problems] == [(1, "image-too-large", "error"), (3, "image-too-large", "error")]
    assert REFUSED in problems[0]["message"] and "bomb.png" in problems[0]["message"]


@pytest.fixture(scope="module")
def packed(images, tmp_path_factory) -> str:
    """A .rec of the four images stored as they are (--pass-through): records 0 and 2 hostile."""
    lst = write_list(tmp_path_factory.mktemp("rec"))
    run = run_icformat("im2rec", lst, images["folder"], "--pass-through")
    assert run.returncode == 0, run.stderr
    return lst[: -len(".lst")] + ".rec"


def test_rec_verify_decode(packed):
    run = run_icformat("rec", "verify", packed, "--decode", "--json")
    assert run.returncode == 1, run.stderr
    problems = [p for p in json.loads(run.stdout)["problems"] if p["severity"] == "error"]
    assert [p["code"] for p in problems] == ["image-too-large", "image-too-large"], problems
    assert all(REFUSED in p["message"] for p in problems)
    assert 0 <= problems[0]["offset"] < problems[1]["offset"], problems
    text = run_icformat("rec", "verify", packed, "--decode")
    assert text.returncode == 1 and "Traceback" not in text.stderr
    assert text.stdout.count(REFUSED) == 2, text.stdout


def test_rec_info_decode(packed):
    run = run_icformat("rec", "info", packed, "--decode", "--json")
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr and "DecompressionBomb" not in run.stdout + run.stderr


def test_preflight_check_images(images, tmp_path):
    from . import preflight_data as data

    train = data.jpegs(12, seed=1)
    train[3], train[7] = images["bomb.png"], images["bomb.jpg"]
    channels = data.rec_dataset(str(tmp_path / "rec"), train_images=train)
    hp = data.write_hp(str(tmp_path / "hp.json"))
    run = run_icformat("preflight", "--hyperparameters", hp, "--channel", f"train={channels['train']}",
                       "--channel", f"validation={channels['validation']}", "--check-images", "--workers", "1", "--json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    text = json.dumps(report)
    assert text.count(REFUSED) == 2, text
    assert "Traceback" not in run.stderr


def test_loader_reports_them_with_their_record(packed):
    """The loader (one worker process) skips both, naming each record; --max-pixels reaches the
    worker. With --resize 32 the loader decodes the JPEG at 1/8 scale: at 20 Mpx it is refused even so."""
    run = run_icformat("loader", "run", packed, "--batch-size", "2", "--data-shape", "3,32,32", "--resize", "32",
                       "--num-workers", "1", "--no-shuffle", "--max-pixels", "20000000", "--json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["images"] == 2 and report["skipped"] == 2, report
    assert len(report["errors"]) == 2 and all(REFUSED in e and packed in e for e in report["errors"]), report["errors"]
    assert "8125x8125 (66,015,625 pixels) even decoded at reduced scale" in " ".join(report["errors"])
    assert "Traceback" not in run.stderr


def test_serve_answers_413_and_the_same_worker_goes_on(images, photos):
    srv = Server(any_model(), workers=1, preexec_fn=limit_memory)
    try:
        worker = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(worker) == 1
        for name, kind in (("bomb.png", "image/png"), ("bomb.jpg", "image/jpeg")):
            status, head, body = invoke(srv.port, images[name], kind)
            assert status == 413 and head["Content-Type"] == "application/json", body
            assert REFUSED in body["error"] and "--max-pixels" in body["error"], body
            status, _, body = invoke(srv.port, images["good-1.jpg"], "image/jpeg")
            assert status == 200 and len(body) == 4
        assert request(srv.port, "GET", "/ping")[0] == 200
        now = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        assert now == worker  # the same worker answered throughout: none was killed or replaced
    finally:
        code, output = srv.stop()
    assert code == 130 and "Traceback" not in output, output
