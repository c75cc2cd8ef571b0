"""icformat im2rec on real photos: record order and ids, pass-through bytes, sizes, colour modes,
multi-label headers, bad images, --strict, interruption, shards and the CLI."""
from __future__ import annotations

import io
import json
import os
import shutil
import sys

import numpy as np
import pytest
import simplejpeg
from PIL import Image

from icformat.cli import main
from icformat.errors import IcformatError, ImageError, LstError
from icformat.im2rec import PackOptions, im2rec, pack_lst, transform_image
from icformat.im2rec.plan import find_lst_files, output_prefix, shard_bounds
from icformat.lst import read_lst, write_lst
from icformat.lst.make import make_lst
from icformat.recordio import IndexedRecordFile, RecordReader, read_index, unpack


@pytest.fixture(scope="module")
def data(tmp_path_factory, photo_tree) -> tuple[str, str]:
    """(lst path, root): the 12 real photos, shuffled as im2rec shuffles them."""
    folder = tmp_path_factory.mktemp("lst")
    make_lst(str(folder / "photos"), photo_tree, recursive=True)
    return str(folder / "photos.lst"), photo_tree


def _records(prefix: str) -> list[tuple]:
    """(header, payload) of each record, file order, checked against the .idx keys."""
    keys, offsets = read_index(prefix + ".idx")
    out = [unpack(r) for r in RecordReader(prefix + ".rec")]
    assert keys == [int(h.id) for h, _ in out]
    assert len(offsets) == len(out)
    return out


def _pack(data, tmp_path, name="out", **kw):
    lst, root = data
    return pack_lst(lst, root, str(tmp_path / name), **kw)


def test_pass_through_bytes_ids_labels_in_list_order(data, tmp_path):
    lst, root = data
    report = _pack(data, tmp_path, options=PackOptions(pass_through=True), num_workers=2)
    table = read_lst(lst)
    records = _records(str(tmp_path / "out"))
    assert report.written == len(records) == len(table) == 12 and not report.skipped
    for entry, (header, payload) in zip(table, records):
        assert header.id == entry.index and header.flag == 0 and header.label == entry.labels[0]
        with open(os.path.join(root, entry.path), "rb") as f:
            assert bytes(payload) == f.read()
    assert [entry.index for entry in table] != sorted(entry.index for entry in table)  # shuffled: order really is the list's


@pytest.mark.parametrize("options", [PackOptions(), PackOptions(pass_through=True)], ids=["re-encode", "pass-through"])
def test_same_bytes_whatever_the_workers(data, tmp_path, options):
    outputs = []
    for i, (workers, executor) in enumerate([(1, "auto"), (2, "process"), (3, "process"), (2, "thread")]):
        _pack(data, tmp_path, f"w{i}", options=options, num_workers=workers, executor=executor)
        outputs.append(((tmp_path / f"w{i}.rec").read_bytes(), (tmp_path / f"w{i}.idx").read_bytes()))
    assert all(o == outputs[0] for o in outputs[1:])


def test_reencode_keeps_size_and_content(data, tmp_path):
    lst, root = data
    _pack(data, tmp_path, options=PackOptions(quality=90), num_workers=2)
    for entry, (header, payload) in zip(read_lst(lst), _records(str(tmp_path / "out"))):
        with open(os.path.join(root, entry.path), "rb") as f:
            original = simplejpeg.decode_jpeg(f.read())
        again = simplejpeg.decode_jpeg(bytes(payload))
        assert again.shape == original.shape
        assert np.abs(again.astype(int) - original).mean() < 4


@pytest.mark.parametrize("resize, center_crop", [(48, False), (48, True), (0, True), (700, False)])
def test_resize_and_center_crop_sizes_follow_im2rec(data, tmp_path, resize, center_crop):
    lst, root = data
    _pack(data, tmp_path, options=PackOptions(resize=resize, center_crop=center_crop), num_workers=2)
    for entry, (_, payload) in zip(read_lst(lst), _records(str(tmp_path / "out"))):
        with Image.open(os.path.join(root, entry.path)) as im:
            w, h = im.size
        if center_crop:
            h = w = min(h, w)
        if resize:  # im2rec.py's arithmetic, verbatim
            h, w = (h * resize // w, resize) if h > w else (resize, w * resize // h)
        assert simplejpeg.decode_jpeg_header(bytes(payload))[:2] == (h, w)


def test_reduced_scale_decode_gives_exact_size_and_same_picture(photos):
    big = np.asarray(Image.fromarray(photos["astronaut"]).resize((1536, 1024), Image.BICUBIC))  # 1024x1536
    data = simplejpeg.encode_jpeg(big, 92)
    out = simplejpeg.decode_jpeg(transform_image(data, PackOptions(resize=100)))
    assert out.shape == (100, 150, 3)
    reference = np.asarray(Image.fromarray(big).resize((150, 100), Image.BILINEAR)).astype(int)
    assert np.abs(out.astype(int) - reference).mean() < 6
    crop = simplejpeg.decode_jpeg(transform_image(data, PackOptions(resize=100, center_crop=True)))
    assert crop.shape == (100, 100, 3)
    ref_crop = np.asarray(Image.fromarray(big[:, 256:1280]).resize((100, 100), Image.BILINEAR)).astype(int)
    assert np.abs(crop.astype(int) - ref_crop).mean() < 6


def test_reduced_scale_decode_with_exif_rotation_and_center_crop(photos):
    big = np.asarray(Image.fromarray(photos["astronaut"]).resize((1200, 800), Image.BICUBIC))  # stored 800x1200
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 8  # displayed rotated: 1200x800 (HxW)
    Image.fromarray(big).save(out, format="JPEG", quality=92, exif=exif.tobytes())
    upright = np.rot90(big)  # orientation 8 = rotate 90 degrees counter-clockwise to display
    for center_crop, shape, region in ((False, (150, 100, 3), upright), (True, (100, 100, 3), upright[200:1000])):
        got = simplejpeg.decode_jpeg(transform_image(out.getvalue(), PackOptions(resize=100, center_crop=center_crop)))
        assert got.shape == shape
        reference = np.asarray(Image.fromarray(np.ascontiguousarray(region)).resize(shape[1::-1], Image.BILINEAR)).astype(int)
        assert np.abs(got.astype(int) - reference).mean() < 6


def test_unexpected_decoder_failure_skips_only_that_image(data, tmp_path, monkeypatch):
    import icformat.im2rec.pack as pack

    lst, root = data
    first = next(iter(read_lst(lst))).path
    real = pack.transform_image

    def flaky(raw, options, *rest, **keywords):
        if raw == open(os.path.join(root, first), "rb").read():
            raise RuntimeError("codec exploded")
        return real(raw, options, *rest, **keywords)

    monkeypatch.setattr(pack, "transform_image", flaky)
    report = _pack(data, tmp_path, num_workers=1)
    assert report.written == 11 and report.skipped[0].reason == "RuntimeError: codec exploded"


def _png(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def test_color_modes_like_imread(photos):
    photo = photos["coffee"]
    rgba = np.dstack([photo, np.full(photo.shape[:2], 77, np.uint8)])
    color = transform_image(_png(rgba), PackOptions())
    assert simplejpeg.decode_jpeg_header(color)[2] == "YCbCr"
    gray = transform_image(_png(rgba), PackOptions(color=0))
    assert simplejpeg.decode_jpeg_header(gray)[2] == "Gray"
    kept = Image.open(io.BytesIO(transform_image(_png(rgba), PackOptions(color=-1, encoding=".png"))))
    assert kept.mode == "RGBA" and np.array_equal(np.asarray(kept), rgba)
    from_gray = simplejpeg.decode_jpeg(transform_image(_png(photo[:, :, 0]), PackOptions()))
    assert from_gray.shape == photo.shape and np.abs(from_gray[:, :, 0].astype(int) - photo[:, :, 0]).mean() < 3


def test_16_bit_png_is_scaled_to_8_bits_like_imread(photos):
    gray = photos["coffee"][:, :, 1]
    deep = gray.astype(np.uint16) * 257
    out = simplejpeg.decode_jpeg(transform_image(_png(deep), PackOptions(color=0)), "GRAY")[:, :, 0]
    assert np.abs(out.astype(int) - gray).mean() < 3


def test_png_encoding_is_lossless(data, tmp_path):
    lst, root = data
    _pack(data, tmp_path, options=PackOptions(encoding=".png", quality=1), num_workers=1)
    entry = next(iter(read_lst(lst)))
    _, payload = _records(str(tmp_path / "out"))[0]
    with open(os.path.join(root, entry.path), "rb") as f:
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(bytes(payload)))), simplejpeg.decode_jpeg(f.read()))


def test_exif_orientation_is_applied_except_with_color_minus_1(photos):
    photo = photos["chelsea"]  # 300x451
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(photo).save(out, format="JPEG", quality=95, exif=exif.tobytes())
    turned = simplejpeg.decode_jpeg(transform_image(out.getvalue(), PackOptions()))
    assert turned.shape == (451, 300, 3)
    assert np.abs(turned.astype(int) - np.rot90(photo, -1)).mean() < 4
    assert Image.open(io.BytesIO(transform_image(out.getvalue(), PackOptions(color=-1, encoding=".png")))).size == (451, 300)
    assert simplejpeg.decode_jpeg_header(transform_image(out.getvalue(), PackOptions(resize=100)))[:2] == (150, 100)


def test_exif_orientation_matches_opencv_imread(photos, tmp_path):
    cv2 = pytest.importorskip("cv2")
    photo = photos["chelsea"]
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.jpg"
        Image.fromarray(photo).save(path, format="JPEG", quality=95, exif=exif.tobytes())
        ours = simplejpeg.decode_jpeg(transform_image(path.read_bytes(), PackOptions(quality=100)))
        theirs = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]
        assert ours.shape == theirs.shape, orientation
        assert np.abs(ours.astype(int) - theirs).mean() < 3, orientation


def test_pack_label_multi_label_headers(data, tmp_path):
    lst, root = data
    table = read_lst(lst)
    multi = tmp_path / "multi.lst"
    hot = lambda label: [1.0 if c == label or c == 3 else 0.0 for c in range(4)]  # noqa: E731
    write_lst(str(multi), [(e.index, hot(e.labels[0]), e.path) for e in table])
    pack_lst(str(multi), root, str(tmp_path / "packed"), options=PackOptions(pass_through=True, pack_label=True), num_workers=2)
    pack_lst(str(multi), root, str(tmp_path / "first"), options=PackOptions(pass_through=True), num_workers=2)
    for entry, (header, _), (first, _) in zip(table, _records(str(tmp_path / "packed")), _records(str(tmp_path / "first"))):
        assert header.flag == 4 and header.label.tolist() == hot(entry.labels[0])
        assert first.flag == 0 and first.label == hot(entry.labels[0])[0]  # im2rec keeps only the first label


def _bad_list(data, tmp_path) -> str:
    lst, root = data
    rows = [(e.index, e.labels, e.path) for e in read_lst(lst)]
    bad = tmp_path / "badroot"
    shutil.copytree(root, bad)
    (bad / "garbage.jpg").write_bytes(b"not an image at all")
    (bad / "empty.jpg").write_bytes(b"")
    rows[2] = (rows[2][0], rows[2][1], "garbage.jpg")
    rows[5] = (rows[5][0], rows[5][1], "missing/nope.jpg")
    rows[7] = (rows[7][0], rows[7][1], "empty.jpg")
    (bad / "notes.txt").write_text("not an image either")
    rows[9] = (rows[9][0], rows[9][1], "notes.txt")
    path = tmp_path / "bad.lst"
    write_lst(str(path), rows)
    return str(path), str(bad)


def test_bad_images_are_skipped_and_reported(data, tmp_path):
    lst, root = _bad_list(data, tmp_path)
    seen = []
    report = pack_lst(lst, root, str(tmp_path / "out"), num_workers=2, on_skip=seen.append)
    assert report.written == 8 and [s.line for s in report.skipped] == [3, 6, 8, 10] and seen == report.skipped
    reasons = [s.reason for s in report.skipped]
    assert "not a readable image" in reasons[0] or "cannot decode" in reasons[0]
    assert reasons[1] == "file not found" and "empty" in reasons[2] and "not a readable image" in reasons[3]
    assert "garbage.jpg (line 3)" in str(report.skipped[0])
    kept = [e.index for e in read_lst(lst)]
    assert [int(h.id) for h, _ in _records(str(tmp_path / "out"))] == [k for i, k in enumerate(kept) if i not in (2, 5, 7, 9)]


def test_strict_stops_and_leaves_nothing(data, tmp_path):
    lst, root = _bad_list(data, tmp_path)
    out = tmp_path / "strict"
    out.mkdir()
    with pytest.raises(ImageError, match=r"garbage\.jpg \(line 3\).*--strict"):
        pack_lst(lst, root, str(out / "x"), num_workers=2, strict=True)
    assert os.listdir(out) == []


def test_interrupted_run_leaves_no_file(data, tmp_path):
    out = tmp_path / "int"
    out.mkdir()

    def interrupt(n):
        raise KeyboardInterrupt

    lst, root = data
    big = tmp_path / "big.lst"
    write_lst(str(big), [(i, (0,), e.path) for i, e in enumerate(list(read_lst(lst)) * 20)])
    with pytest.raises(KeyboardInterrupt):
        pack_lst(str(big), root, str(out / "x"), num_workers=2, progress=interrupt)
    assert os.listdir(out) == []


def test_shards_cover_the_list_once_in_order(data, tmp_path):
    lst, root = data
    assert [shard_bounds(10, 3, i) for i in range(3)] == [(0, 4), (4, 8), (8, 10)]
    assert shard_bounds(2, 4, 3) == (2, 2)
    with pytest.raises(IcformatError):
        shard_bounds(10, 3, 3)
    ids = []
    for i in range(3):
        report = pack_lst(lst, root, str(tmp_path / "s"), options=PackOptions(pass_through=True), num_shards=3, shard_index=i, num_workers=2)
        assert report.rec_path == str(tmp_path / f"s-0000{i}-of-00003.rec")
        ids += [int(h.id) for h, _ in _records(report.rec_path[:-4])]
    assert ids == [e.index for e in read_lst(lst)]


def test_duplicate_or_negative_index_is_refused(data, tmp_path):
    lst, root = data
    rows = [(e.index, e.labels, e.path) for e in read_lst(lst)]
    rows[4] = (rows[1][0], rows[4][1], rows[4][2])
    write_lst(str(tmp_path / "dup.lst"), rows)
    with pytest.raises(LstError, match=r"dup\.lst:5: duplicate index"):
        pack_lst(str(tmp_path / "dup.lst"), root)
    rows[4] = (-3, rows[4][1], rows[4][2])
    write_lst(str(tmp_path / "neg.lst"), rows)
    with pytest.raises(LstError, match="negative index -3"):
        pack_lst(str(tmp_path / "neg.lst"), root)


def test_options_are_checked_at_the_door():
    for bad in (dict(color=2), dict(resize=-1), dict(quality=0), dict(encoding=".gif")):
        with pytest.raises(IcformatError):
            PackOptions(**bad)


def test_prefix_finds_lists_like_im2rec(tmp_path):
    for name in ("train_train.lst", "train_val.lst", "train.lst", "other.lst", "train_notes.txt"):
        (tmp_path / name).write_text("")
    found = [os.path.basename(p) for p in find_lst_files(str(tmp_path / "train"))]
    assert found == ["train.lst", "train_train.lst", "train_val.lst"]
    assert find_lst_files(str(tmp_path / "other.lst")) == [str(tmp_path / "other.lst")]
    with pytest.raises(IcformatError, match="no .lst file starts with"):
        find_lst_files(str(tmp_path / "nothing"))
    assert output_prefix("a/b.lst") == "a/b" and output_prefix("a/b.lst", str(tmp_path)) == str(tmp_path / "b")
    assert output_prefix("a/b.lst", "x/y.rec", 12, 3) == "x/y-00003-of-00012"


def _main(capsys, *args):
    code = main(list(map(str, args)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_packs_every_list_of_a_prefix(photo_tree, tmp_path, capsys):
    make_lst(str(tmp_path / "data"), photo_tree, recursive=True, train_ratio=0.75)
    code, out, err = _main(capsys, "im2rec", tmp_path / "data", photo_tree, "--resize", "32", "--num-workers", "2")
    assert code == 0, err
    assert "data_train.rec: 9 of 9 images" in out and "data_val.rec: 3 of 3 images" in out
    assert len(IndexedRecordFile(str(tmp_path / "data_train.rec"))) == 9


def test_cli_warns_per_skip_and_strict_exits_1(data, tmp_path, capsys):
    lst, root = _bad_list(data, tmp_path)
    code, out, err = _main(capsys, "im2rec", lst, root, "-o", tmp_path / "o", "--json")
    assert code == 0
    assert err.count("icformat: warning:") == 4 and "garbage.jpg (line 3)" in err
    report = json.loads(out)
    assert report["written"] == 8 and [s["line"] for s in report["skipped"]] == [3, 6, 8, 10]
    code, _, err = _main(capsys, "im2rec", lst, root, "-o", tmp_path / "p", "--strict")
    assert code == 1 and "--strict" in err and not os.path.exists(tmp_path / "p.rec")


def test_cli_rejects_bad_options(data, capsys):
    lst, root = data
    code, _, err = _main(capsys, "im2rec", lst, root, "--color", "3")
    assert code == 2
    code, _, err = _main(capsys, "im2rec", lst, root, "--num-shards", "2", "--shard-index", "2")
    assert code == 2 and "--shard-index" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_cli_stopped_by_signal_leaves_no_file(data, tmp_path, signame):
    import signal
    import subprocess
    import time

    lst, root = data
    big = tmp_path / "big.lst"
    write_lst(str(big), [(i, (0,), e.path) for i, e in enumerate(list(read_lst(lst)) * 300)])
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "icformat", "im2rec", str(big), root, "-o", str(out / "x"), "--num-workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not os.listdir(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()
    time.sleep(0.3)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err
    assert os.listdir(out) == []
