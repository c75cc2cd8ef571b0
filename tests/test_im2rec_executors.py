"""im2rec's executors write the same bytes: forked workers framing records into shared memory
(``auto`` with several workers), the thread workers ``auto`` chose before, one worker inline, and
processes started without fork (no shared memory); with damaged JPEGs (packed with a note),
unreadable files (skipped), multi-label headers, records that overflow their shared slot, and the
RGB fallback."""
from __future__ import annotations

import os
import shutil
import threading

import pytest

from icformat.im2rec import PackOptions, pack_lst
from icformat.image import transcode
from icformat.im2rec import slots as slots_module
from icformat.im2rec.run import choose_executor
from icformat.lst import read_lst, write_lst
from icformat.lst.make import make_lst


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, photo_tree) -> tuple[str, str]:
    """(lst, root): 40 rows over the 12 real photos (each several times), two cut-short JPEGs
    (damaged: packed, with a note), a file that is not an image, a missing file, multi-label rows."""
    folder = tmp_path_factory.mktemp("executors")
    make_lst(str(folder / "photos"), photo_tree, recursive=True)
    root = folder / "root"
    shutil.copytree(photo_tree, root)
    entries = list(read_lst(str(folder / "photos.lst")))
    first = (root / entries[0].path).read_bytes()
    (root / "cut.jpg").write_bytes(first[: len(first) * 2 // 3])
    (root / "cut2.jpg").write_bytes(first[: len(first) // 2])
    (root / "junk.jpg").write_bytes(b"not an image")
    paths = [e.path for e in entries] * 3 + ["cut.jpg", "junk.jpg", "missing.jpg", "cut2.jpg"]
    rows = [(i * 7 + 3, (float(i % 5), float(i % 3)), path) for i, path in enumerate(paths)]
    write_lst(str(folder / "mixed.lst"), rows)
    return str(folder / "mixed.lst"), str(root)


def _pack(mixed, out, options, workers, executor) -> tuple[bytes, bytes, list, list]:
    lst, root = mixed
    report = pack_lst(lst, root, str(out), options=options, num_workers=workers, executor=executor)
    assert report.written == 38 and [s.line for s in report.skipped] == [38, 39]
    return (open(f"{out}.rec", "rb").read(), open(f"{out}.idx", "rb").read(), [str(s) for s in report.skipped],
            [str(s) for s in report.notes])


OPTIONS = [PackOptions(pack_label=True), PackOptions(resize=64, quality=90), PackOptions(resize=40, center_crop=True, color=0)]


@pytest.mark.parametrize("options", OPTIONS, ids=["re-encode", "resize", "crop-gray"])
def test_forked_workers_through_shared_memory_write_what_threads_wrote(mixed, tmp_path, options, monkeypatch):
    # auto forks only while the process runs one Python thread; earlier tests may leave a server
    # thread running in this one, so the choice is fixed here (test_auto_keeps_threads... checks it)
    monkeypatch.setattr("icformat.im2rec.run.start_method", lambda: "fork")
    assert choose_executor("auto", 2, options, mixed[1]) == "process"
    before = _pack(mixed, tmp_path / "thread", options, 2, "thread")  # what auto chose before (up to 16 workers)
    assert len(before[3]) == 2 and "damaged part gray" in before[3][0]
    assert _pack(mixed, tmp_path / "auto", options, 2, "auto") == before
    assert _pack(mixed, tmp_path / "auto3", options, 3, "auto") == before
    assert _pack(mixed, tmp_path / "serial", options, 1, "auto") == before


def test_records_larger_than_a_slot_come_back_through_the_pipe(mixed, tmp_path, monkeypatch):
    options = PackOptions()
    before = _pack(mixed, tmp_path / "thread", options, 2, "thread")
    sizes = sorted(os.path.getsize(os.path.join(mixed[1], e.path)) for e in read_lst(mixed[0]) if "/" in e.path)
    monkeypatch.setattr(slots_module, "SLOT_BYTES", sizes[len(sizes) // 2])  # some runs fit one or two records, some none
    assert _pack(mixed, tmp_path / "small-slots", options, 2, "auto") == before


def test_processes_without_fork_and_the_rgb_fallback(mixed, tmp_path, monkeypatch):
    options = PackOptions(resize=64)
    before = _pack(mixed, tmp_path / "thread", options, 2, "thread")
    monkeypatch.setattr("icformat.im2rec.run.start_method", lambda: "forkserver")  # as with other threads running
    assert choose_executor("auto", 2, options, mixed[1]) == "thread"  # no shared memory, a slow start: threads
    assert _pack(mixed, tmp_path / "forkserver", options, 2, "process") == before
    monkeypatch.undo()
    monkeypatch.setenv("ICFORMAT_JPEG_PATH", "rgb")
    rgb = _pack(mixed, tmp_path / "rgb-thread", options, 2, "thread")
    assert (rgb[0] != before[0]) == transcode.available()  # the core environment has no YUV path: RGB both times
    assert _pack(mixed, tmp_path / "rgb-auto", options, 2, "auto") == rgb


def test_auto_keeps_threads_where_reads_wait():
    assert choose_executor("auto", 1, PackOptions(), "/data") == "serial"
    assert choose_executor("auto", 4, PackOptions(pass_through=True), "/data") == "thread"
    assert choose_executor("auto", 16, PackOptions(), "s3://bucket/images") == "thread"
    assert choose_executor("thread", 4, PackOptions(), "/data") == "thread"


def test_the_cli_progress_bar_starts_no_thread():
    """A Python thread besides the main one rules out forked workers (and their shared memory);
    tqdm's monitor thread would be one."""
    from icformat.cli.common import progress

    before = threading.active_count()
    bar = progress(10, desc="im2rec", unit="img")
    bar.update(3)
    assert threading.active_count() == before
    bar.close()


def test_the_cli_progress_bar_makes_no_multiprocessing_lock():
    """tqdm's default lock adds a multiprocessing lock (imports and a semaphore) for bars drawn
    from several processes; only the parent draws ours, so a thread lock does, and the bar draws
    and writes as before."""
    import subprocess
    import sys

    code = ("import io, sys; from icformat.cli.common import progress; out = io.StringIO(); "
            "bar = progress(10, desc='im2rec', unit='img'); bar.update(3); bar.write('a line', file=out); bar.close(); "
            "print('multiprocessing.synchronize' in sys.modules, out.getvalue().strip())")
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert said == "False a line"


def test_workers_inherit_opencv_when_they_resize():
    """OpenCV (the bilinear resize's fast path), where installed, is imported once before the
    workers fork, not by each of them (0.2 s of CPU apiece); nothing is imported for a plain re-encode."""
    import importlib.util
    import subprocess
    import sys

    code = ("import sys; from icformat.im2rec import PackOptions; from icformat.im2rec.run import _warm_imports; "
            "_warm_imports(PackOptions(resize=int(sys.argv[1]))); print('cv2' in sys.modules)")
    said = [subprocess.run([sys.executable, "-c", code, size], capture_output=True, text=True, check=True).stdout.strip()
            for size in ("0", "256")]
    assert said == ["False", str(importlib.util.find_spec("cv2") is not None)]


@pytest.mark.parametrize("read_ahead", [1, 300_000])
def test_reading_ahead_changes_nothing(mixed, tmp_path, monkeypatch, read_ahead):
    """Workers read a few images' files and headers before transcoding them (up to
    READ_AHEAD_BYTES): with one image at a time, or a few, the same bytes, skips and notes, in order."""
    monkeypatch.setattr("icformat.im2rec.run.start_method", lambda: "fork")
    options = PackOptions(resize=64, quality=90)
    default = _pack(mixed, tmp_path / "default", options, 2, "auto")
    monkeypatch.setattr("icformat.im2rec.run.READ_AHEAD_BYTES", read_ahead)
    assert _pack(mixed, tmp_path / "process", options, 2, "auto") == default
    assert _pack(mixed, tmp_path / "serial", options, 1, "serial") == default
