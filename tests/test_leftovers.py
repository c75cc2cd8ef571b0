"""Issue 22, item 6: nothing left behind. Ctrl-C during ``im2rec -o newdir/x`` removes the folder it
made; a full disk (a real file size limit in a child process: ``RLIMIT_FSIZE`` makes writes fail with
EFBIG) names the output and leaves nothing; stopping ``serve`` leaves no ``icformat-model-*`` folder."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from icformat import samples
from icformat.io.atomic import open_output
from icformat.lst.make import make_lst

from .serve_support import free_port, icformat_env, model_path, request

# the CLI in a child whose files may not grow past 150 kB (SIGXFSZ ignored: writes fail with EFBIG)
LIMITED = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
           "resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000)); "
           "from icformat.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory) -> tuple[str, str]:
    """A .lst of 480 real photos (enough for a run that lasts a second or two) and their folder."""
    work = tmp_path_factory.mktemp("leftovers")
    root = str(work / "photos")
    samples.write_photo_tree(root, classes=4, per_class=120, seed=3)
    lst = str(work / "s")
    make_lst(lst, root, recursive=True)
    return lst + ".lst", root


def test_outputs_sharing_a_new_folder_remove_it_in_any_order(tmp_path):
    folder = tmp_path / "new" / "deeper"
    rec, idx = open_output(folder / "x.rec"), open_output(folder / "x.idx", "w")
    rec.file.write(b"data")
    rec.abort()  # the .idx's temporary file is still there: the folder stays for now
    assert folder.is_dir()
    idx.abort()
    assert not (tmp_path / "new").exists()
    kept, dropped = open_output(folder / "x.rec"), open_output(folder / "x.idx", "w")
    kept.commit()
    dropped.abort()
    assert sorted(os.listdir(folder)) == ["x.rec"]


def test_ctrl_c_during_im2rec_removes_the_folder_it_made(many_photos, tmp_path):
    lst, root = many_photos
    out = tmp_path / "newdir"
    process = subprocess.Popen([sys.executable, "-m", "icformat", "im2rec", lst, root, "-o", str(out / "x"),
                                "--resize", "64", "--num-workers", "1"],
                               env=icformat_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.exists(), "im2rec never started writing"
    time.sleep(0.05)  # packing has begun (the folder appears as the outputs open); 480 images take far longer
    assert process.poll() is None, "im2rec finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip() == "icformat: interrupted"
    assert not out.exists() and os.listdir(tmp_path) == []


def test_a_full_disk_names_the_output_and_leaves_nothing(many_photos, tmp_path):
    lst, root = many_photos
    out = tmp_path / "newdir"
    done = subprocess.run([sys.executable, "-c", LIMITED, "im2rec", lst, root, "-o", str(out / "x"), "--resize", "64"],
                          env=icformat_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"icformat: error: {out / 'x.rec'}: cannot be written, the file is larger than allowed")
    assert "free some space or write the output elsewhere" in lines[0]
    assert not out.exists() and os.listdir(tmp_path) == []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_stopping_serve_leaves_no_extracted_model(tmp_path, stop):
    temp = tmp_path / "temp"
    temp.mkdir()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "icformat", "serve", "--model", model_path("mxnet"), "--port",
                                str(port), "--workers", "2"], env={**icformat_env(), "TMPDIR": str(temp)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if request(port, "GET", "/ping", timeout_s=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        assert process.poll() is None, process.stdout.read()
        process.send_signal(stop)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == (130 if stop == signal.SIGINT else 0), out  # SIGTERM: a normal stop
    assert os.listdir(temp) == []
