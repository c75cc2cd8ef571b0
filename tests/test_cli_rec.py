"""``icformat rec ...`` commands on real-photo records."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import simplejpeg

from icformat.cli import main
from icformat.recordio import IRHeader, RecordReader, RecordWriter, pack, read_index


@pytest.fixture()
def photo_rec(tmp_path, photos):
    """A .rec/.idx of 6 real-photo JPEGs, ids 10..15, labels 0..2."""
    path = tmp_path / "photos.rec"
    with RecordWriter(path, index=True) as writer:
        for i, name in enumerate(sorted(photos)[:6]):
            jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(photos[name][:80, :120]), quality=85, colorspace="RGB")
            writer.write(pack(IRHeader(0, float(i % 3), 10 + i, 0), jpeg), key=10 + i)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json(photo_rec, capsys):
    code, out, _ = run(capsys, "rec", "info", photo_rec, "--decode", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["records"] == 6
    assert info["label_kind"] == "single"
    assert info["label_histogram"] == {"0": 2, "1": 2, "2": 2}
    assert info["formats"] == {"jpeg": 6}
    assert info["sizes"] == {"80x120": 6} and info["modes"] == {"RGB": 6} and info["undecodable"] == 0
    assert info["has_index"] is True


def test_ls(photo_rec, capsys):
    code, out, _ = run(capsys, "rec", "ls", photo_rec)
    lines = [line.split("\t") for line in out.strip().splitlines() if not line.startswith("#")]
    assert code == 0 and len(lines) == 6
    keys, offsets = read_index(str(photo_rec).replace(".rec", ".idx"))
    assert [int(l[0]) for l in lines] == keys
    assert [int(l[1]) for l in lines] == offsets
    assert [l[2] for l in lines] == ["0", "1", "2", "0", "1", "2"]
    assert {l[4] for l in lines} == {"jpeg"}


def test_index_rebuild_matches_original(photo_rec, tmp_path, capsys):
    original = (tmp_path / "photos.idx").read_text()
    os.remove(tmp_path / "photos.idx")
    code, _, _ = run(capsys, "rec", "index", photo_rec)
    assert code == 0
    assert (tmp_path / "photos.idx").read_text() == original


def test_verify_ok_and_corrupted(photo_rec, tmp_path, capsys):
    code, out, _ = run(capsys, "rec", "verify", photo_rec, "--decode")
    assert code == 0 and "OK" in out
    data = bytearray(photo_rec.read_bytes())
    _, offsets = read_index(str(tmp_path / "photos.idx"))
    data[offsets[2]] ^= 0xFF  # break the third record's magic
    data[offsets[4] + 8 + 24 + 200 : offsets[4] + 8 + 24 + 260] = b"\x00" * 60  # damage an image
    bad = tmp_path / "bad.rec"
    bad.write_bytes(bytes(data))
    code, out, _ = run(capsys, "rec", "verify", bad, "--decode", "--no-index", "--json")
    report = json.loads(out)
    assert code == 1
    messages = [p["message"] for p in report["problems"]]
    assert report["problems"][0]["offset"] == offsets[2] and "magic" in messages[0]
    assert any("resynchronised" in m for m in messages)
    # every record after the damage is still checked
    assert report["records"] == 5


def test_verify_bad_index(photo_rec, tmp_path, capsys):
    (tmp_path / "photos.idx").write_text("10\t0\n11\t7\n10\t0\n")
    code, out, _ = run(capsys, "rec", "verify", photo_rec)
    assert code == 1
    assert "not the start of a record" in out and "duplicate key" in out and "not in the index" in out


def test_extract_round_trip(photo_rec, tmp_path, capsys):
    outdir = tmp_path / "out"
    code, out, _ = run(capsys, "rec", "extract", photo_rec, outdir)
    assert code == 0
    lst = (outdir / "photos.lst").read_text().splitlines()
    assert len(lst) == 6
    records = list(RecordReader(photo_rec))
    for line, record in zip(lst, records):
        index, label, rel = line.split("\t")
        assert pack(IRHeader(0, float(label), int(index), 0), (outdir / rel).read_bytes()) == record


def test_truncated_file_is_one_line_error(photo_rec, tmp_path, capsys):
    cut = tmp_path / "cut.rec"
    cut.write_bytes(photo_rec.read_bytes()[:-100])
    code, _, err = run(capsys, "rec", "info", cut)
    assert code == 1
    assert err.count("\n") == 1 and "cut.rec@" in err and "truncated" in err


def test_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "rec", "info", tmp_path / "nope.rec")
    assert code != 0
    assert "nope.rec" in err and "Traceback" not in err


def test_info_decode_reports_modes_and_undecodable(tmp_path, photos, capsys):
    import io

    from PIL import Image

    photo = Image.fromarray(np.ascontiguousarray(photos["astronaut"][:40, :50]))

    def encoded(image, fmt):
        buf = io.BytesIO()
        image.save(buf, fmt)
        return buf.getvalue()

    good_jpeg = encoded(photo, "JPEG")
    payloads = [
        encoded(photo.convert("L"), "PNG"),
        encoded(photo.convert("RGBA"), "PNG"),
        encoded(photo.convert("CMYK"), "JPEG"),
        good_jpeg,
        good_jpeg[: len(good_jpeg) * 3 // 4],  # truncated: MXNet decodes it (gray bottom), a warning
        good_jpeg[:150],  # nothing past the header: undecodable
    ]
    path = tmp_path / "modes.rec"
    with RecordWriter(path) as writer:
        for i, p in enumerate(payloads):
            writer.write(pack(IRHeader(0, 0.0, i, 0), p))
    code, out, _ = run(capsys, "rec", "info", path, "--decode", "--json")
    info = json.loads(out)
    assert info["modes"] == {"L": 1, "RGBA": 1, "CMYK": 1, "RGB": 2}
    assert info["undecodable"] == 1
    assert info["formats"] == {"jpeg": 4, "png": 2}
    code, out, _ = run(capsys, "rec", "verify", path, "--decode", "--json")
    report = json.loads(out)
    assert code == 1 and [p["code"] for p in report["problems"] if p["severity"] == "error"] == ["undecodable"]
    assert "decode-warning" in [p["code"] for p in report["problems"] if p["severity"] == "warning"]
    assert report["problems"][-1]["path"] == str(path) and report["problems"][-1]["offset"] > 0
