"""Inference speed: ``icformat serve`` under a bounded load test on 127.0.0.1 (ResNet-18, 3x224x224,
1 and 2 gunicorn workers, several concurrent clients, a fixed number of requests) and ``icformat
predict`` on a folder, each beside a plain MXNet loop in the same run (load_checkpoint + Module,
read/decode/resize/forward one image at a time): the server's overhead over the bare network, and
what batching gives ``predict``. Weights are random (speed does not depend on them).

    python benchmarks/serve.py            # 160 requests per server, 96 images
    python benchmarks/serve.py --quick    # 48 requests to a 1-worker server, 32 images
"""
from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from icformat.benchmarks._models import REPO, images, mxnet_one_at_a_time, run_predict, write_resnet  # noqa: E402
from icformat.benchmarks._report import Report, emit, work_dir  # noqa: E402

CLIENTS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/invocations", body, {"Content-Type": "image/jpeg"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def start_server(model: str, workers: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": REPO}
    proc = subprocess.Popen([sys.executable, "-m", "icformat", "serve", "--model", model, "--port", str(port),
                             "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise SystemExit("server did not start")
    for _ in range(2 * workers):  # warm every worker
        _post(port, open(images_cache[0], "rb").read())
    return proc, port


def load_test(port: int, bodies: list[bytes], requests: int) -> dict:
    """``requests`` POSTs from ``CLIENTS`` threads; returns req/s, p50/p99 ms and failures."""
    latencies, failures, lock = [], [0], threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        for i in counter:
            began = time.perf_counter()
            try:
                ok = _post(port, bodies[i % len(bodies)]) == 200
            except OSError:
                ok = False
            with lock:
                latencies.append(time.perf_counter() - began)
                failures[0] += not ok

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    return {"rps": requests / elapsed, "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "failures": failures[0]}


def predict_speed(model: str, paths: list[str], work: str) -> float:
    """Images/s of icformat's batched predict, in a fresh process as the CLI runs."""
    listing = os.path.join(work, "images.txt")
    with open(listing, "w") as f:
        f.write("\n".join(paths))
    return run_predict(sys.executable, model, listing, os.path.join(work, "probs.npy"))[0]


images_cache: list[str] = []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="48 requests to one 1-worker server, 32 images: a smoke run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--work", default=work_dir("serve"))
    args = parser.parse_args(argv)
    requests, count = (48, 32) if args.quick else (160, 96)
    os.makedirs(args.work, exist_ok=True)
    model = write_resnet(os.path.join(args.work, "resnet18-224.tar.gz"), 18, (3, 224, 224))
    images_cache[:] = images(os.path.join(args.work, "images"), count)
    bodies = [open(p, "rb").read() for p in images_cache]
    bare = mxnet_one_at_a_time(model, images_cache[: max(16, count // 2)])
    report = Report("inference: icformat serve / predict, ResNet-18 3x224x224 (random weights)")
    for workers in (1,) if args.quick else (1, 2):
        proc, port = start_server(model, workers)
        try:
            result = load_test(port, bodies, requests)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
        tag = f"serve {workers} worker{'s' if workers > 1 else ''}, {CLIENTS} clients"
        report.add(f"{tag}: requests/s", result["rps"], "req/s", "MXNet loop, 1 image at a time", bare)
        report.add(f"{tag}: p50 latency", result["p50"], "ms", "MXNet loop per image (ms)", 1000 / bare,
                   higher_is_better=False)
        report.add(f"{tag}: p99 latency", result["p99"], "ms", "MXNet loop per image (ms)", 1000 / bare,
                   higher_is_better=False)
        report.add(f"{tag}: failed requests", result["failures"], "req", f"of {requests} requests", requests,
                   higher_is_better=False, target="<= 0 req")
    report.add("predict (batched, all cores): images/s", predict_speed(model, images_cache, args.work), "img/s",
               "MXNet loop, 1 image at a time", bare, target=">= 1x")
    emit([report], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
