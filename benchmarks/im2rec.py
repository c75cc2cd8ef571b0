"""icformat im2rec vs MXNet's tools/im2rec.py: images/s packing the same .lst of real-photo JPEGs
of ImageNet-like size, same number of cores, in three modes (re-encode, --resize 256,
--pass-through).

icformat re-encodes a JPEG through its Y/Cb/Cr planes when libturbojpeg loads ('turbojpeg-yuv'),
else through RGB pixels ('rgb'). Where the YUV path is there, the re-encoding modes run both paths
(the RGB one with ICFORMAT_JPEG_PATH=rgb), each against im2rec.py, and report the YUV/RGB ratio and
the PSNR (dB, on decoded RGB) of the YUV path's images against the RGB path's.

Both tools run as the user runs them, each in a fresh interpreter (`icformat im2rec ...` and
MXNet's `tools/im2rec.py ...`), with --num-workers / --num-thread set to the same count. The
figures time the packing only (imports done first, untimed: mxnet's take seconds and vary a lot);
the CPU time of all the tool's processes per image, and end-to-end times, are printed too. Runs
alternate between the tools (in a rotating order) and the best of --repeat is kept. On a shared
machine the wall-clock figures swing with the load; the CPU per image holds. Last, one thread's
milliseconds per image in each codec stage of both paths, beside OpenCV's.

The codec's own limit, in the same run: the YUV path's own library calls for each image (decode to
Y/Cb/Cr planes, at the reduced DCT scale for --resize 256, the plane resizes, the planes laid out
and encoded), with the bytes already in memory and nothing written, in one forked process per
worker; `icformat im2rec` runs alternate with it, and the fraction of the limit's images/s and the
CPU per image of both are printed (target >= 0.9 for re-encode and --resize 256). Beside them, the
CPU of writing the .rec alone (the same bytes to a new file, a MiB at a time): what any packer pays
on top of the limit, which writes nothing.

Before each run of a tool the images are read once, untimed, so that every tool finds them in the
page cache, as the limit finds them in memory. Without that, a machine that pages out file pages
unused for a few seconds (this team's VMs run DAMON's pageout scheme: pages idle for about 6 s go)
makes each run read a different share of the images from disk.

    python benchmarks/im2rec.py            # 1,500 images, about 3-4 minutes on 2 cores
    python benchmarks/im2rec.py --quick    # 60 images, --resize 256 only, seconds
    python benchmarks/im2rec.py --modes re-encode "resize 256" --against limit --repeat 5 --no-stages
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from icformat.benchmarks._mxnet import mxnet_im2rec  # noqa: E402

from icformat.benchmarks._report import Report, emit, work_dir  # noqa: E402

import numpy as np  # noqa: E402

from icformat import samples  # noqa: E402
from icformat.image import transcode  # noqa: E402
from icformat.image.budget import jpeg_scale  # noqa: E402
from icformat.lst.make import make_lst  # noqa: E402
from icformat.lst.parse import read_lst  # noqa: E402
from icformat.recordio import RecordReader, read_index, unpack  # noqa: E402

MODES = {"re-encode": [], "resize 256": ["--resize", "256"], "pass-through": ["--pass-through"]}
ANCHORS = ("mxnet", "rgb", "limit")  # MXNet's im2rec.py, our RGB path, the codec's own limit


# Each tool runs in a fresh interpreter that imports its modules first, then times only the packing
# (wall clock, and CPU of the process and its workers), so interpreter and import start-up (several
# seconds for mxnet, and very variable) is left out for both tools alike.
_WRAP = r"""
import resource, sys, time
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
tool, argv = sys.argv[1], sys.argv[2:]
if tool == "mxnet":
    import runpy, mxnet, cv2  # start-up: not timed
    sys.argv = argv
    wall, used = time.perf_counter(), cpu()
    runpy.run_path(argv[0], run_name="__main__")
else:
    import icformat.cli, icformat.im2rec, pyarrow.csv, pyarrow.compute, simplejpeg, PIL.Image  # start-up: not timed
    try:
        import pandas  # pyarrow.compute imports it on its first call (reading the .lst) where installed: 0.24 s of start-up
    except ImportError:
        pass
    from icformat.image.resize import opencv
    from icformat.image.transcode import available
    opencv()  # imports cv2 when there, as the mxnet side does: start-up too
    available()  # loads libturbojpeg when there: start-up too
    wall, used = time.perf_counter(), cpu()
    code = icformat.cli.main(argv)
    if code:
        sys.exit(code)
sys.stderr.write(f"\nBENCH {time.perf_counter() - wall} {cpu() - used}\n")
"""


def _timed(tool: str, argv: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """(packing seconds, packing CPU seconds, end-to-end seconds) of one run."""
    began = time.perf_counter()
    if tool in ("limit", "write"):
        command = [sys.executable, os.path.abspath(__file__), f"--{tool}-child", *argv]
    else:
        command = [sys.executable, "-c", _WRAP, tool, *argv]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **env} if env else None)
    total = time.perf_counter() - began
    marks = [line for line in done.stderr.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not marks:
        raise SystemExit(f"benchmark run failed ({done.returncode}): {tool} {' '.join(argv)}\n{done.stderr[-2000:]}")
    _, wall, used = marks[-1].split()
    os.sync()  # untimed: the next run does not share the disk with this one's writeback
    return float(wall), float(used), total


def _ours(lst: str, root: str, workers: int, flags: list[str]) -> list[str]:
    return ["im2rec", lst, root, "--num-workers", str(workers), *flags]


def _theirs(script: str, lst: str, root: str, workers: int, flags: list[str]) -> list[str]:
    return [script, "--num-thread", str(workers), *flags, os.path.splitext(lst)[0], root]


def _clear(lists: dict) -> None:
    """Remove earlier outputs (replacing or truncating a big file costs time unrelated to packing)."""
    for lst in lists.values():
        for ext in (".rec", ".idx"):
            path = os.path.splitext(lst)[0] + ext
            if os.path.exists(path):
                os.unlink(path)


def _image_bytes(root: str, lst: str):
    """The bytes of each image of ``lst``, in list order."""
    for entry in read_lst(lst):
        with open(os.path.join(root, entry.path), "rb") as f:
            yield f.read()


def _into_page_cache(root: str, lst: str) -> None:
    """Read every image of ``lst`` once (untimed), so that the next run finds them in the page cache."""
    for _ in _image_bytes(root, lst):
        pass


def _records(lst: str) -> int:
    return len(read_index(os.path.splitext(lst)[0] + ".idx")[0])


def prepare(work: str, count: int) -> tuple[str, dict[str, str]]:
    """The corpus (cached) and, in a fresh folder of this run, one copy of the same .lst per tool
    (each tool writes beside its list)."""
    root = os.path.join(work, f"corpus-{count}")
    samples.imagenet_like_corpus(root, count)
    run_dir = tempfile.mkdtemp(prefix="run-", dir=work)
    lists = {}
    for tool in ("icformat", "icformat-rgb", "mxnet"):
        folder = os.path.join(run_dir, f"lst-{tool}")  # not named like a package: no shadowing
        os.makedirs(folder)
        lists[tool] = os.path.join(folder, "data.lst")
    make_lst(os.path.splitext(lists["icformat"])[0], root, recursive=True, write_classes=False)
    shutil.copy(lists["icformat"], lists["mxnet"])
    shutil.copy(lists["icformat"], lists["icformat-rgb"])
    return root, lists


def run(count: int, workers: int, repeat: int, work: str, modes=tuple(MODES), against=ANCHORS) -> list[Report]:
    script = mxnet_im2rec() if "mxnet" in against else None
    root, lists = prepare(work, count)
    try:
        return _measure(script, root, lists, count, workers, repeat, modes, against)
    finally:
        shutil.rmtree(os.path.dirname(os.path.dirname(lists["icformat"])), ignore_errors=True)


RGB_ENV = {transcode.ENV_VAR: "rgb"}


def _psnr_db(ours: str, theirs: str) -> tuple[float, float]:
    """(mean, lowest) PSNR in dB of the images of two .rec files, decoded to RGB, record by record."""
    import simplejpeg

    values = []
    for a, b in zip(RecordReader(os.path.splitext(ours)[0] + ".rec"), RecordReader(os.path.splitext(theirs)[0] + ".rec")):
        x, y = (simplejpeg.decode_jpeg(unpack(r)[1]).astype(np.float64) for r in (a, b))
        if x.shape != y.shape:
            raise SystemExit(f"image sizes differ between the two paths: {x.shape} and {y.shape}")
        mse = float(np.mean((x - y) ** 2))
        values.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    return float(np.mean(values)), float(np.min(values))


def _measure(script: str | None, root: str, lists: dict, count: int, workers: int, repeat: int, modes, against) -> list[Report]:
    path = transcode.codec_path()
    both = path == transcode.PATH_YUV
    label = f"{count} ImageNet-size JPEGs, {workers} workers each; JPEG path: {path}"
    speed = Report(f"im2rec images/s: {label} (packing only; start-up excluded for both)")
    cost = Report(f"im2rec CPU per image, all processes: {label} (ms; lower is better)")
    whole = Report("im2rec end to end, interpreter start-up included (images/s)")
    paths = Report("im2rec JPEG paths: turbojpeg-yuv against rgb (simplejpeg), same run")
    limit = Report(f"im2rec against the codec's own limit (YUV path's decode + resize + encode calls, {workers} forked processes, "
                   "bytes preloaded, nothing written), same run")
    if not both:
        paths.title += f" [YUV path not available: {transcode.unavailable_reason() or 'ICFORMAT_JPEG_PATH=rgb'}]"
        limit.title += " [not measured: no YUV path]"
    best = lambda runs, i: min(r[i] for r in runs) if runs else float("nan")  # noqa: E731
    for mode in modes:
        flags = MODES[mode]
        kinds = {"icformat": None}
        if both and mode != "pass-through" and "rgb" in against:
            kinds["icformat-rgb"] = RGB_ENV
        with_limit = both and mode != "pass-through" and "limit" in against
        runs: dict[str, list] = {kind: [] for kind in (*kinds, "mxnet", "limit", "write")}
        order = [*kinds, *(["mxnet"] if script else []), *(["limit"] if with_limit else [])]
        for r in range(repeat):  # alternate, so all runs see the same machine load; rotate, so none
            _clear(lists)  # always follows the same one; each run writes fresh files, as a first run does
            for kind in order[r % len(order):] + order[: r % len(order)]:
                if kind != "limit":
                    _into_page_cache(root, lists["icformat"])
                if kind == "mxnet":
                    runs["mxnet"].append(_timed("mxnet", _theirs(script, lists["mxnet"], root, workers, flags)))
                elif kind == "limit":
                    runs["limit"].append(_timed("limit", [lists["icformat"], root, str(workers), flags[1] if flags else "0"]))
                else:
                    runs[kind].append(_timed("icformat", _ours(lists[kind], root, workers, flags), kinds[kind]))
            if with_limit:  # what writing the .rec costs by itself, from the run just made
                rec = os.path.splitext(lists["icformat"])[0] + ".rec"
                runs["write"].append(_timed("write", [rec, rec + ".copy"]))
        n = _records(lists["icformat"])
        for kind in (*kinds, *(["mxnet"] if script else [])):
            if _records(lists[kind]) != n:
                raise SystemExit(f"{mode}: icformat wrote {n} records, {kind} {_records(lists[kind])}")
        theirs = runs["mxnet"]
        for kind in kinds if script else ():  # these three tables hold figures beside im2rec.py's
            name = mode if mode == "pass-through" else f"{mode} [{'rgb' if kind == 'icformat-rgb' else path}]"
            ours = runs[kind]
            speed.add(name, n / best(ours, 0), "img/s", "mxnet im2rec.py", n / best(theirs, 0))
            cost.add(name, 1000 * best(ours, 1) / n, "ms", "mxnet im2rec.py", 1000 * best(theirs, 1) / n, higher_is_better=False)
            whole.add(name, n / best(ours, 2), "img/s", "mxnet im2rec.py", n / best(theirs, 2))
        if "icformat-rgb" in kinds:
            yuv, rgb = runs["icformat"], runs["icformat-rgb"]
            paths.add(f"{mode}: YUV path speed", n / best(yuv, 0), "img/s", "RGB path", n / best(rgb, 0))
            paths.add(f"{mode}: YUV path CPU per image", 1000 * best(yuv, 1) / n, "ms", "RGB path", 1000 * best(rgb, 1) / n,
                      higher_is_better=False)
            mean, low = _psnr_db(lists["icformat"], lists["icformat-rgb"])
            paths.add(f"{mode}: PSNR YUV vs RGB, mean (min {low:.1f})", mean, "dB", "target", 40.0, target=">= 40 dB")
        if with_limit:
            ours, codec = runs["icformat"], runs["limit"]
            limit.add(f"{mode}: icformat im2rec, best of {repeat}", n / best(ours, 0), "img/s", "codec limit", n / best(codec, 0),
                      target=">= 0.9x")
            paired = sorted(c[0] / o[0] for o, c in zip(ours, codec))  # each run against the limit's run beside it
            limit.add(f"{mode}: fraction of it, median of {repeat} pairs", paired[len(paired) // 2], "x", "target", 0.9, target=">= 1x")
            limit.add(f"{mode}: CPU per image, all processes", 1000 * best(ours, 1) / n, "ms", "codec limit", 1000 * best(codec, 1) / n,
                      higher_is_better=False)
            gap = 1000 * (best(ours, 1) - best(codec, 1)) / n
            writes = sorted(w[1] for w in runs["write"])  # the page cache's cost varies a lot on a VM: the median
            limit.add(f"{mode}: CPU of writing the .rec alone (median)", 1000 * writes[len(writes) // 2] / n, "ms",
                      "icformat's CPU beyond the limit", gap, higher_is_better=False)
    return [report for report in (limit, speed, cost, whole, paths) if report.rows]


def _limit_jobs(lst: str, root: str, resize: int) -> list[tuple]:
    """Per image of the list: its bytes and what the YUV path decides before its codec calls (DCT
    scale, sizes, chroma factors), as ``transform_image`` and ``transcode`` decide them."""
    import simplejpeg

    from icformat.im2rec.pack import PackOptions, _jpeg_plan

    options = PackOptions(resize=resize)
    jobs = []
    for data in _image_bytes(root, lst):
        h, w, _, subsampling = simplejpeg.decode_jpeg_header(data)
        samp, factors = transcode._SUBSAMPLINGS[subsampling]
        (height, width), need = _jpeg_plan((h, w), 1, options)
        scale = jpeg_scale(h, w, *need)
        if scale:
            h, w = -(-h * scale[0] // scale[1]), -(-w * scale[0] // scale[1])
        jobs.append((data, h, w, samp, factors, height, width))
    return jobs


def _limit_one(job: tuple) -> bytes:
    """One image through the YUV path's own codec calls: decode to planes (at the DCT scale),
    resize luma and chroma (re-encode: none), lay the planes out, encode at quality 95."""
    from icformat.image import turbo
    from icformat.image.resize import resize

    data, h, w, samp, factors, height, width = job
    planes = turbo.decode_planes(data, h, w, samp)
    luma = resize(planes[0][:h, :w], height, width)
    chroma = [transcode._chroma(p, (0, 0, h, w), factors, (height, width), "bilinear") for p in planes[1:]]
    return turbo.encode_planes(transcode._encoder_planes([luma, *chroma], True, planes[0]), height, width, turbo.SAMP_420, 95)


def codec_limit(lst: str, root: str, workers: int, resize: int) -> tuple[float, float]:
    """(seconds, CPU seconds) for the codec's own calls on every image of ``lst``, the bytes
    already in memory, split over ``workers`` forked processes; nothing written."""
    import resource

    jobs = _limit_jobs(lst, root, resize)
    for job in jobs[:4]:
        _limit_one(job)  # libturbojpeg loaded, OpenCV set up: start-up, not timed
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    children = []
    for k in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                code = 3 if any(_limit_one(job) is None for job in jobs[k::workers]) else 0
            except BaseException:
                code = 4
            finally:
                os._exit(code)
        children.append(pid)
    failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if failed:
        raise SystemExit("the codec limit failed on an image (the YUV path did not apply)")
    return wall, (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)


def write_alone(src: str, dest: str) -> tuple[float, float]:
    """(seconds, CPU seconds) to write the bytes of ``src`` (read first, untimed) to a new file
    ``dest`` a MiB at a time, as im2rec writes a run at a time: what the page cache costs, which
    the codec limit (nothing written) leaves out. ``dest`` is removed afterwards."""
    import resource

    with open(src, "rb") as f:
        data = memoryview(f.read())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for at in range(0, len(data), 1 << 20):
            os.write(fd, data[at : at + (1 << 20)])
    finally:
        os.close(fd)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    os.unlink(dest)
    return wall, (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)


def stages(root: str, count: int = 200) -> Report:
    """Where one image's time goes (ms, one thread, best of 3 over ``count`` corpus files): each
    codec stage of the two paths beside OpenCV's (MXNet im2rec's codec) doing the same job."""
    import glob

    import simplejpeg

    from icformat.image.resize import opencv, resize

    files = sorted(glob.glob(os.path.join(root, "**", "*.jpg"), recursive=True))[:count]
    datas = [open(path, "rb").read() for path in files]

    def per_image(fn) -> float:
        for data in datas[:10]:
            fn(data)
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            for data in datas:
                fn(data)
            best = min(best, time.perf_counter() - began)
        return 1000 * best / len(datas)

    report = Report(f"im2rec stages per image, one thread ({len(datas)} corpus JPEGs, about 500x375 4:2:0; ms; lower is better)")
    cv2 = opencv()
    rgb = {id(d): simplejpeg.decode_jpeg(d) for d in datas}
    anchor = "OpenCV (im2rec.py's codec)"
    ref = {"decode": per_image(lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR)) if cv2 else 0.0}
    if cv2:
        bgr = {id(d): rgb[id(d)][:, :, ::-1].copy() for d in datas}
        ref["encode"] = per_image(lambda d: cv2.imencode(".jpg", bgr[id(d)], [cv2.IMWRITE_JPEG_QUALITY, 95]))
        ref["resize"] = per_image(lambda d: cv2.resize(bgr[id(d)], (341, 256)))
    report.add("RGB path: decode to RGB", per_image(simplejpeg.decode_jpeg), "ms", anchor, ref["decode"], higher_is_better=False)
    report.add("RGB path: resize RGB to 256", per_image(lambda d: resize(rgb[id(d)], 256, 341)), "ms", anchor,
               ref.get("resize", 0.0), higher_is_better=False)
    report.add("RGB path: encode RGB, q95 4:2:0", per_image(lambda d: simplejpeg.encode_jpeg(rgb[id(d)], quality=95, colorsubsampling="420")),
               "ms", anchor, ref.get("encode", 0.0), higher_is_better=False)
    if transcode.available():
        from icformat.image import turbo

        def shape(d):
            return rgb[id(d)].shape[:2]

        def eighth(d):
            h, w = shape(d)
            return -(-h // 8), -(-w // 8)

        planes = {id(d): turbo.decode_planes(d, *shape(d), turbo.SAMP_420) for d in datas}
        report.add("YUV path: decode to planes", per_image(lambda d: turbo.decode_planes(d, *shape(d), turbo.SAMP_420)), "ms",
                   anchor, ref["decode"], higher_is_better=False)
        report.add("YUV path: entropy decoding alone (1/8 scale)", per_image(lambda d: turbo.decode_planes(d, *eighth(d), turbo.SAMP_420)),
                   "ms", anchor, ref["decode"], higher_is_better=False)
        report.add("YUV path: resize Y to 256", per_image(lambda d: resize(planes[id(d)][0], 256, 341)), "ms", anchor,
                   ref.get("resize", 0.0), higher_is_better=False)
        def encode(d):
            (h, w), decoded = shape(d), planes[id(d)]
            ready = transcode._encoder_planes([decoded[0][:h, :w], *decoded[1:]], True, decoded[0])
            return turbo.encode_planes(ready, h, w, turbo.SAMP_420, 95)

        report.add("YUV path: encode from planes, q95 4:2:0", per_image(encode), "ms", anchor, ref.get("encode", 0.0),
                   higher_is_better=False)
        from icformat.im2rec import PackOptions, transform_image

        for mode, options in (("re-encode", PackOptions()), ("resize 256", PackOptions(resize=256))):
            os.environ[transcode.ENV_VAR] = "rgb"
            try:
                rgb_ms = per_image(lambda d: transform_image(d, options))
            finally:
                del os.environ[transcode.ENV_VAR]
            report.add(f"whole image, {mode}: YUV path", per_image(lambda d: transform_image(d, options)), "ms", "RGB path",
                       rgb_ms, higher_is_better=False)
    return report


def main() -> None:
    if sys.argv[1:2] == ["--limit-child"]:  # one timed run of the codec limit, in its own interpreter
        lst, root, workers, resize = sys.argv[2:6]
        wall, used = codec_limit(lst, root, int(workers), int(resize))
        sys.stderr.write(f"\nBENCH {wall} {used}\n")
        return
    if sys.argv[1:2] == ["--write-child"]:  # one timed write of a .rec, in its own interpreter
        wall, used = write_alone(*sys.argv[2:4])
        sys.stderr.write(f"\nBENCH {wall} {used}\n")
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 images, --resize 256 only, one run each: a smoke run")
    parser.add_argument("--count", type=int, default=1500, help="images in the corpus (default 1500)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers for both tools (default: all cores)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per tool and mode; the best is kept")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES), help="which modes (default: all)")
    parser.add_argument("--against", nargs="+", choices=ANCHORS, default=list(ANCHORS),
                        help="anchors to run: mxnet (im2rec.py), rgb (our RGB path), limit (the codec's own limit); default all")
    parser.add_argument("--no-stages", action="store_true", help="skip the one-thread codec stage timings")
    parser.add_argument("--work", default=work_dir("im2rec"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    count, repeat = (60, 1) if args.quick else (args.count, args.repeat)
    modes = ["resize 256"] if args.quick else args.modes
    reports = run(count, args.workers, repeat, args.work, modes, tuple(args.against))
    if not args.no_stages:
        reports.append(stages(os.path.join(args.work, f"corpus-{count}"), 50 if args.quick else 200))
    emit(reports, args.json)


if __name__ == "__main__":
    main()
