"""What a careless user does, command by command: bad option values are usage errors (exit 2, one
line); nothing packed is a failure and leaves nothing; no data is lost without a word; failures
leave no folders; Ctrl-C is 'interrupted' without a traceback."""
from __future__ import annotations

import json
import os

import pytest

from icformat.cli import main
from icformat.im2rec import PackOptions, pack_lst
from icformat.lst import write_lst
from icformat.recordio import IRHeader, RecordWriter, pack
from icformat.recordio.verify import verify_rec


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def photo_list(tmp_path, photo_tree) -> tuple[str, str]:
    rows = [(i, (i % 3,), f"class_{i % 3}/img_{i // 3:05d}.jpg") for i in range(6)]
    path = tmp_path / "p.lst"
    write_lst(str(path), rows)
    return str(path), photo_tree


@pytest.mark.parametrize("option", [
    ["--data-shape", "224,224"], ["--data-shape", "3,0,0"], ["--data-shape", "3,a,b"], ["--batch-size", "0"],
    ["--num-workers", "-1"], ["--resize", "-5"], ["--max-batches", "0"], ["--epochs", "0"],
])
def test_loader_run_bad_option_values_are_usage_errors(capsys, tmp_path, option):
    code, out, err = run(capsys, "loader", "run", tmp_path / "x.rec", *option)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("icformat: usage: ") and option[0] in err and "Traceback" not in err


@pytest.mark.parametrize("args", [
    ["im2rec", "x.lst", ".", "--quality", "200"], ["im2rec", "x.lst", ".", "--num-workers", "0"],
    ["lst", "validate", "x.lst", "--check-images", "--image-shape", "3,224"], ["rec", "ls", "x.rec", "--limit", "-1"],
    ["pipe", "read", ".", "--timeout", "-1"], ["manifest", "validate", "m", "--attribute-names", "a,a"],
])
def test_every_command_checks_option_values_at_the_door(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("icformat: usage: ")


def test_im2rec_of_an_empty_list_fails_and_writes_nothing(capsys, tmp_path, photo_tree):
    (tmp_path / "e.lst").write_text("")
    code, out, err = run(capsys, "im2rec", tmp_path / "e.lst", photo_tree)
    assert code == 1 and out == "" and "no rows" in err
    assert sorted(os.listdir(tmp_path)) == ["e.lst"]


def test_im2rec_with_every_image_bad_fails_and_writes_nothing(capsys, tmp_path, photo_tree):
    write_lst(str(tmp_path / "bad.lst"), [(0, (0,), "nope.jpg"), (1, (0,), "gone.jpg")])
    code, out, err = run(capsys, "im2rec", tmp_path / "bad.lst", photo_tree)
    assert code == 1 and out == "" and "none of the 2 images could be packed" in err
    assert sorted(os.listdir(tmp_path)) == ["bad.lst"]


def test_im2rec_says_what_lst_validate_says_about_labels(capsys, tmp_path, photo_tree):
    rows = [(i, (i % 3 + 1, 0), f"class_{i % 3}/img_00000.jpg") for i in range(3)]
    write_lst(str(tmp_path / "m.lst"), rows)
    code, _, err = run(capsys, "im2rec", tmp_path / "m.lst", photo_tree, "-o", tmp_path / "m")
    assert code == 0
    assert "only the first is a class id" in err and "--pack-label" in err  # a second label column dropped
    assert "not 0-based" in err
    code, out, _ = run(capsys, "lst", "validate", tmp_path / "m.lst", "--single-label", "--json")
    said = {p["message"] for p in json.loads(out)["problems"]}
    assert all(message in err for message in said)


def test_im2rec_refuses_absolute_paths_unless_asked(capsys, tmp_path, photo_tree):
    image = os.path.join(photo_tree, "class_0", "img_00000.jpg")
    write_lst(str(tmp_path / "a.lst"), [(0, (0,), image)])
    code, _, err = run(capsys, "im2rec", tmp_path / "a.lst", tmp_path, "-o", tmp_path / "a")
    assert code == 1 and "a.lst:1: absolute path" in err and "--allow-absolute-paths" in err
    assert not (tmp_path / "a.rec").exists()
    report = pack_lst(str(tmp_path / "a.lst"), str(tmp_path), str(tmp_path / "a"), options=PackOptions(allow_absolute=True, pass_through=True))
    assert report.written == 1


def test_im2rec_output_folder_that_does_not_exist(capsys, photo_list, tmp_path):
    lst, root = photo_list
    code, _, err = run(capsys, "im2rec", lst, root, "-o", str(tmp_path / "missing") + "/")
    assert code == 2 and "missing/ does not exist" in err
    assert not (tmp_path / "missing").exists() and not list(tmp_path.glob("**/.rec"))


def test_manifest2rec_empty_or_failing_leaves_nothing(capsys, tmp_path):
    (tmp_path / "e.manifest").write_text("")
    code, out, err = run(capsys, "manifest2rec", tmp_path / "e.manifest", "-o", tmp_path / "late" / "m.rec",
                         "--attribute-names", "source-ref,class")
    assert code == 1 and out == "" and "no lines" in err
    assert sorted(os.listdir(tmp_path)) == ["e.manifest"]
    (tmp_path / "m.manifest").write_text('{"source-ref": "nope.jpg", "class": "0"}\n')
    code, _, err = run(capsys, "manifest2rec", tmp_path / "m.manifest", "-o", tmp_path / "late" / "m.rec",
                       "--attribute-names", "source-ref,class")
    assert code == 1 and "m.manifest:1" in err and ".tmp" not in err
    assert sorted(os.listdir(tmp_path)) == ["e.manifest", "m.manifest"]


def test_an_empty_list_or_manifest_is_the_same_verdict_everywhere(capsys, tmp_path, photo_tree):
    (tmp_path / "e.lst").write_text("\n")
    (tmp_path / "e.manifest").write_text("")
    names = ["--attribute-names", "source-ref,class"]
    for args in (["lst", "validate", tmp_path / "e.lst"], ["im2rec", tmp_path / "e.lst", photo_tree],
                 ["lst2manifest", tmp_path / "e.lst", "--prefix", "s3://b/"], ["lst", "convert", tmp_path / "e.lst", tmp_path / "o.lst"],
                 ["manifest", "validate", tmp_path / "e.manifest", *names],
                 ["manifest2lst", tmp_path / "e.manifest", "--prefix", "s3://b/", *names],
                 ["manifest2rec", tmp_path / "e.manifest", "-o", tmp_path / "o.rec", *names]):
        code, _, _ = run(capsys, *args)
        assert code == 1, args
    assert sorted(os.listdir(tmp_path)) == ["e.lst", "e.manifest"]


def _image_rec(path, photos, count=4) -> list[int]:
    from icformat.image import encode_jpeg

    photo = next(iter(photos.values()))[:64, :64]
    with RecordWriter(path) as writer:
        return [writer.write(pack(IRHeader(0, float(i), i, 0), encode_jpeg(photo.copy()))) for i in range(count)]


def test_rec_extract_of_a_missing_file_leaves_no_folder(capsys, tmp_path):
    code, _, err = run(capsys, "rec", "extract", tmp_path / "nope.rec", tmp_path / "OUT")
    assert code == 1 and "nope.rec" in err
    assert os.listdir(tmp_path) == []


def test_rec_extract_salvage_keeps_what_precedes_damage(capsys, tmp_path, photos):
    heads = _image_rec(tmp_path / "ok.rec", photos)
    (tmp_path / "cut.rec").write_bytes((tmp_path / "ok.rec").read_bytes()[:-50])
    code, _, err = run(capsys, "rec", "extract", tmp_path / "cut.rec", tmp_path / "OUT")
    assert code == 1 and f"cut.rec@{heads[-1]}" in err and not (tmp_path / "OUT").exists()
    code, out, err = run(capsys, "rec", "extract", tmp_path / "cut.rec", tmp_path / "OUT", "--salvage")
    assert code == 1 and "kept the 3 records" in err
    assert sorted(os.listdir(tmp_path / "OUT" / "images")) == ["0.jpg", "1.jpg", "2.jpg"]
    assert len((tmp_path / "OUT" / "cut.lst").read_text().splitlines()) == 3


def test_rec_verify_of_non_image_records_says_so_once(capsys, tmp_path):
    with RecordWriter(tmp_path / "raw.rec") as writer:
        for i in range(50):
            writer.write(b"x" * (i % 7 + 1))
    code, out, _ = run(capsys, "rec", "verify", tmp_path / "raw.rec", "--json")
    report = json.loads(out)
    assert code == 0 and report["records"] == 50 and report["ok"] is True
    assert [p["code"] for p in report["problems"]] == ["no-image-header"]
    code, out, _ = run(capsys, "rec", "verify", tmp_path / "raw.rec", "--raw")
    assert code == 0 and out.strip().endswith("50 records checked, OK")


def test_interrupting_rec_verify_decode_is_a_clean_interrupt(tmp_path, photos):
    _image_rec(tmp_path / "ok.rec", photos)

    def interrupt(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # not BufferError: the map closes although views were out
        verify_rec(tmp_path / "ok.rec", decode=True, progress=interrupt)


def test_ctrl_c_in_any_command_is_interrupted_exit_130(capsys, tmp_path, photos, monkeypatch):
    _image_rec(tmp_path / "ok.rec", photos)
    import icformat.recordio.verify as verify_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_module, "_check_image_header", interrupted)
    code, out, err = run(capsys, "rec", "verify", tmp_path / "ok.rec", "--decode")
    assert code == 130 and err == "icformat: interrupted\n" and out == ""


def test_bench_runs_from_an_installed_copy_of_the_package(tmp_path):
    """An installed package holds the files behind the icformat/benchmarks link, not a checkout."""
    import shutil
    import subprocess
    import sys

    import icformat

    site = tmp_path / "site"
    shutil.copytree(os.path.dirname(icformat.__file__), site / "icformat", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-m", "icformat", "bench", "--list"], cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "im2rec" in proc.stdout and "recordio" in proc.stdout


@pytest.mark.parametrize("pass_through", [False, True])
def test_im2rec_says_when_it_packs_a_truncated_jpeg(capsys, tmp_path, photo_tree, pass_through):
    whole = open(os.path.join(photo_tree, "class_0", "img_00000.jpg"), "rb").read()
    root = tmp_path / "root"
    root.mkdir()
    (root / "cut.jpg").write_bytes(whole[: len(whole) * 3 // 4])
    (root / "ok.jpg").write_bytes(whole)
    write_lst(str(tmp_path / "t.lst"), [(0, (0,), "ok.jpg"), (1, (0,), "cut.jpg")])
    code, out, err = run(capsys, "im2rec", tmp_path / "t.lst", root, *(["--pass-through"] if pass_through else []), "--json")
    assert code == 0 and json.loads(out)["written"] == 2
    assert "t.lst:2: cut.jpg: " in err and ("end marker" in err if pass_through else "Premature end of JPEG" in err)
    assert [w["line"] for w in json.loads(out)["warnings"]] == [2]


def test_pipe_write_and_serve_of_an_empty_manifest_fail(capsys, tmp_path):
    (tmp_path / "e.manifest").write_text("")
    names = ["--attribute-names", "source-ref,class"]
    code, _, err = run(capsys, "pipe", "write", tmp_path / "e.manifest", "-o", tmp_path / "s.bin", *names)
    assert code == 1 and "no lines" in err and not (tmp_path / "s.bin").exists()
    code, _, err = run(capsys, "pipe", "serve", tmp_path / "ch", tmp_path / "e.manifest", *names, "--timeout", "1")
    assert code == 1 and "no lines" in err and not (tmp_path / "ch").exists()


def test_one_problem_and_result_shape_for_every_validator(capsys, tmp_path):
    """lst validate, manifest validate and rec verify answer with the same ValidationResult; --json is its to_dict()."""
    from icformat.lst import validate_lst
    from icformat.manifest import validate_manifest
    from icformat.problems import ValidationResult

    (tmp_path / "x.lst").write_text("0\t0\ta.jpg\n0\t5\tb.jpg\n1\t1\ta.jpg\n")
    (tmp_path / "x.manifest").write_text('{"source-ref":"a.jpg","class":"5"}\n')
    with RecordWriter(tmp_path / "x.rec") as writer:
        writer.write(b"tiny")
    results = [validate_lst(tmp_path / "x.lst", num_classes=3), validate_manifest(str(tmp_path / "x.manifest"), "source-ref,class", num_classes=3),
               verify_rec(tmp_path / "x.rec")]
    assert all(isinstance(r, ValidationResult) for r in results)
    lst = results[0]
    assert [(p.line, p.code) for p in lst.errors] == [(2, "duplicate-index"), (2, "label-out-of-range")]
    assert [(p.line, p.code) for p in lst.warnings] == [(3, "duplicate-image"), (None, "unused-classes")]
    assert results[1].errors[0].code == "label-out-of-range" and results[2].warnings[0].code == "no-image-header"
    commands = [["lst", "validate", tmp_path / "x.lst", "--num-classes", "3"],
                ["manifest", "validate", tmp_path / "x.manifest", "--attribute-names", "source-ref,class", "--num-classes", "3"],
                ["rec", "verify", tmp_path / "x.rec"]]
    for result, command in zip(results, commands):
        _, out, _ = run(capsys, *command, "--json")
        assert json.loads(out) == json.loads(json.dumps(result.to_dict()))
        assert {"path", "ok", "errors", "warnings", "problems"} <= set(json.loads(out))
        assert all(set(p) == {"path", "line", "offset", "code", "severity", "message"} for p in json.loads(out)["problems"])


def test_lst_make_of_a_folder_without_images_fails_and_writes_nothing(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "lst", "make", tmp_path / "out", tmp_path / "empty")
    assert code == 1 and "nothing to list" in err
    assert sorted(os.listdir(tmp_path)) == ["empty"]


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_ctrl_c_while_the_command_starts(tmp_path, delay):
    """Even before the command runs (while icformat imports), Ctrl-C is 'interrupted', exit 130, no
    traceback. The child says when Python and the (deliberately light) ``icformat`` package are up:
    before that no Python program can answer a signal, and the package sets no handler, as a library
    must not. Then it runs ``icformat.__main__`` as ``python -m icformat`` does, on a list read from a
    pipe that stays open, so the command cannot finish before the signal comes."""
    import signal
    import subprocess
    import sys
    import time

    start = ("import runpy, sys, icformat; print('ready', flush=True); "
             "sys.argv = ['icformat', 'lst', 'validate', '/dev/stdin']; runpy.run_module('icformat', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", start], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        proc.stdin.close()
        proc.kill()
    assert "Traceback" not in err
    assert (proc.returncode, err) == (130, "icformat: interrupted\n")
