"""The wrong kind of file (issue 22, item 1): every reader looks at the first bytes once
(icformat/io/sniff.py) and says in one line what the file is and which command takes it."""
from __future__ import annotations

import gzip
import io
import json
import os

import pytest
from PIL import Image

from icformat.cli import main
from icformat.errors import NotRecordIOError, WrongFileKind
from icformat.io.sniff import read_json_object, require_recordio, require_text, sniff
from icformat.lst import read_lst
from icformat.recordio import IRHeader, RecordWriter, pack

from .conftest import requires_mxnet


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def files(tmp_path, photo_tree) -> dict[str, str]:
    """A real .rec of photos, a real JPEG, a PNG, a gzip'd .lst, a .lst and a manifest."""
    jpeg = os.path.join(photo_tree, "class_0", "img_00000.jpg")
    with open(jpeg, "rb") as f:
        jpeg_bytes = f.read()
    rec = tmp_path / "val.rec"
    with RecordWriter(str(rec)) as w:
        for i in range(50):
            w.write(pack(IRHeader(0, float(i % 3), i, 0), jpeg_bytes))
    png = tmp_path / "photo.png"
    Image.open(io.BytesIO(jpeg_bytes)).save(png)
    lst = tmp_path / "a.lst"
    lst.write_text("".join(f"{i}\t{i % 3}\tclass_{i % 3}/img_00000.jpg\n" for i in range(3)))
    lst_gz = tmp_path / "a.lst.gz"
    lst_gz.write_bytes(gzip.compress(lst.read_bytes()))
    manifest = tmp_path / "a.manifest"
    manifest.write_text(json.dumps({"source-ref": "s3://b/x.jpg", "class": "0"}) + "\n")
    return {"rec": str(rec), "jpeg": jpeg, "png": str(png), "lst": str(lst), "gz": str(lst_gz), "manifest": str(manifest)}


def test_sniff_names_what_the_first_bytes_say(files):
    def kind(name):
        with open(files[name], "rb") as f:
            return sniff(f.read(4096)).name

    assert [kind(n) for n in ("rec", "jpeg", "png", "gz", "lst", "manifest")] == ["recordio", "jpeg", "png", "gzip", "lst", "json"]
    assert sniff(b"").name == "empty" and sniff(os.urandom(64) + b"\0").name == "binary"
    assert sniff(bytes(range(0x80, 0x100)) * 4).name == "binary"  # no NUL, no control byte, not UTF-8
    assert sniff("0\t1\tcafé/é.jpg\n".encode("latin-1")).name == "lst"  # not UTF-8, still text


def test_text_readers_refuse_binary_and_accept_text(files):
    with pytest.raises(WrongFileKind, match=r"^.*val\.rec is a RecordIO file, not a \.lst: use `icformat rec verify`"):
        read_lst(files["rec"])
    assert len(read_lst(files["lst"])) == 3
    require_text(b"0\t0\ta.jpg\n", "a.lst", "a .lst")  # no error
    with pytest.raises(NotRecordIOError, match="a.lst is a .lst image list"):
        require_recordio(b"0\t0\ta.jpg\n", "a.lst")
    require_recordio(bytes(range(1, 256)), "x.rec")  # unknown binary: the framing check speaks
    with pytest.raises(WrongFileKind, match="is a JPEG image, not a hyperparameters JSON file"):
        read_json_object(files["jpeg"], "hyperparameters")


@pytest.mark.parametrize("args, kind, expected, command", [
    (["lst", "validate", "{rec}", "--root", "."], "a RecordIO file", "a .lst", "icformat rec verify"),
    (["lst", "validate", "{jpeg}"], "a JPEG image", "a .lst", "icformat lst make"),
    (["lst", "validate", "{gz}"], "a gzip-compressed file", "a .lst", "gunzip"),
    (["manifest", "validate", "{rec}", "--attribute-names", "source-ref,class"], "a RecordIO file", "a manifest", "icformat rec verify"),
    (["lst2manifest", "{rec}", "--prefix", "photos"], "a RecordIO file", "a .lst", "icformat rec verify"),
    (["manifest2lst", "{png}", "--prefix", "p", "--attribute-names", "source-ref,class"], "a PNG image", "a manifest", "icformat im2rec"),
    (["im2rec", "{rec}", "."], "a RecordIO file", "a .lst", "icformat rec verify"),
    (["rec", "info", "{jpeg}"], "a JPEG image", "a RecordIO file", "icformat im2rec"),
    (["rec", "ls", "{png}"], "a PNG image", "a RecordIO file", "icformat im2rec"),
    (["rec", "verify", "{lst}"], "a .lst image list", "a RecordIO file", "icformat lst validate"),
    (["rec", "verify", "{manifest}"], "a JSON text file", "a RecordIO file", "icformat manifest validate"),
    (["rec", "index", "{gz}"], "a gzip-compressed file", "a RecordIO file", "gunzip"),
])
def test_every_reader_says_what_the_file_is_in_one_line(capsys, tmp_path, files, args, kind, expected, command):
    before = set(os.listdir(tmp_path))
    code, out, err = run(capsys, *[a.format(**files) for a in args])
    path = files[next(a for a in args if a.startswith("{"))[1:-1]]
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert f"{path} is {kind}" in err and f"not {expected}" in err and command in err
    assert set(os.listdir(tmp_path)) == before  # nothing written


def test_preflight_says_what_a_file_is(capsys, tmp_path, files, photo_tree):
    code, out, err = run(capsys, "preflight", "--hyperparameters", files["rec"], "--channel", f"train={files['rec']}")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "val.rec is a RecordIO file, not a hyperparameters JSON file" in err
    code, out, _ = run(capsys, "preflight", "--training-job-request", files["jpeg"])
    assert code == 2
    lst = tmp_path / "lists" / "train.lst"  # a .lst by its name, a .rec by its bytes
    lst.parent.mkdir()
    lst.write_bytes(open(files["rec"], "rb").read())
    (tmp_path / "hp.json").write_text(json.dumps({"num_classes": "3", "num_training_samples": "3", "resize": "256"}))
    code, out, _ = run(capsys, "preflight", "--hyperparameters", tmp_path / "hp.json", "--json",
                       "--channel", f"train={photo_tree};application/x-image",
                       "--channel", f"train_lst={lst};application/x-image")
    found = [f for f in json.loads(out)["findings"] if f["check"] == "file-kind"]
    assert code == 1 and len(found) == 1 and found[0]["severity"] == "error"
    assert found[0]["message"].startswith("a RecordIO file, not a .lst") and "Invalid lst file" in found[0]["prevents"]


def test_train_says_what_its_hyperparameters_file_is(capsys, files):
    code, out, err = run(capsys, "train", "--hyperparameters", files["rec"], "--train", files["rec"])
    assert code == 2 and "val.rec is a RecordIO file, not a hyperparameters JSON file" in err


@requires_mxnet
def test_train_says_what_its_list_is(capsys, files):
    code, out, err = run(capsys, "train", "--train-lst", files["rec"], "--hp", "num_classes=3", "--hp", "num_training_samples=3")
    assert code == 1 and len(err.splitlines()) == 1 and "val.rec is a RecordIO file, not a .lst" in err
