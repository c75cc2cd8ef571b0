"""``icformat report``: planted near duplicates are all found (and compared with cleanvision's
findings), and the page opens in a real headless Chromium with the network off: no console error,
every image loads, the counts shown are the data's. The screenshot is kept in tests/artifacts/."""
from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from icformat.lst.format import write_lst
from icformat.recordio.header import IRHeader, pack
from icformat.recordio.writer import RecordWriter
from icformat.report.build import Split, write_report
from icformat.samples import sample_photos
from icformat.train.data import data_channel

from .serve_support import REPO, any_model, icformat_env

ARTIFACTS = os.path.join(REPO, "tests", "artifacts")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _copies(image: Image.Image) -> dict[str, bytes]:
    """The planted copies: resized to 60%, re-encoded at quality 40, cropped by 2% on every side."""
    w, h = image.size
    return {"resized": _jpeg(image.resize((int(w * 0.6), int(h * 0.6)), Image.BICUBIC)),
            "reencoded": _jpeg(image, quality=40),
            "cropped": _jpeg(image.crop((int(w * 0.02), int(h * 0.02), w - int(w * 0.02), h - int(h * 0.02))))}


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """Train: every sample photo and its cropped copy; validation: its resized and re-encoded copies
    (leakage across the splits). Labels: the photo's number modulo 3."""
    root = tmp_path_factory.mktemp("planted")
    photos = sample_photos()
    rows = {"train": [], "validation": []}
    for n, (name, array) in enumerate(sorted(photos.items())):
        image = Image.fromarray(array)
        versions = {"original": _jpeg(image), **_copies(image)}
        for kind, data in versions.items():
            split = "train" if kind in ("original", "cropped") else "validation"
            rel = f"{split}/{name}-{kind}.jpg"
            os.makedirs(root / split, exist_ok=True)
            (root / rel).write_bytes(data)
            rows[split].append((name, kind, rel, n % 3))
    out = {"root": str(root), "rows": rows}
    for split, entries in rows.items():
        out[split] = str(root / f"{split}.lst")
        write_lst(out[split], [(i, [float(c)], rel) for i, (_, _, rel, c) in enumerate(entries)])
    return out


def _found_pairs(result, rows) -> set[frozenset]:
    def name(place: str) -> tuple[str, str]:
        split, position = place.split("#")
        photo, kind, _, _ = rows[split][int(position)]
        return photo, kind

    return {frozenset((name(d["first"]), name(d["second"]))) for d in result.duplicates}


def test_every_planted_near_duplicate_is_found_and_nothing_else(planted, tmp_path):
    splits = [Split(s, planted[s], data_channel(s, planted[s], root=planted["root"])) for s in ("train", "validation")]
    result = write_report(splits, str(tmp_path / "r.html"))
    found = _found_pairs(result, planted["rows"])
    photos = sorted({photo for photo, *_ in planted["rows"]["train"]})
    kinds = ("original", "resized", "reencoded", "cropped")
    planted_pairs = {frozenset(((p, "original"), (p, k))) for p in photos for k in kinds[1:]}
    assert planted_pairs <= found
    assert all(len({photo for photo, _ in pair}) == 1 for pair in found), "a pair of different photos"
    assert result.images == {"train": 2 * len(photos), "validation": 2 * len(photos)}
    assert result.across_splits >= 2 * len(photos)  # resized and re-encoded copies of train images in validation
    assert result.exact_duplicates == 0


def test_cleanvision_finds_no_pair_we_miss(planted, tmp_path):
    if int(np.__version__.split(".")[0]) < 2:
        pytest.skip("cleanvision is compared in the core environment (installed there beside numpy 2)")
    from cleanvision import Imagelab

    splits = [Split(s, planted[s], data_channel(s, planted[s], root=planted["root"])) for s in ("train", "validation")]
    ours = _found_pairs(write_report(splits, str(tmp_path / "r.html")), planted["rows"])
    by_path = {os.path.join(planted["root"], rel): (photo, kind)
               for rows in planted["rows"].values() for photo, kind, rel, _ in rows}
    lab = Imagelab(filepaths=sorted(by_path), verbose=False)
    lab.find_issues({"exact_duplicates": {}, "near_duplicates": {}}, verbose=False)
    theirs = {frozenset((by_path[a], by_path[b])) for kind in ("exact_duplicates", "near_duplicates")
              for group in lab.info[kind]["sets"] for a, b in itertools.combinations(group, 2)}
    assert theirs <= ours
    # cleanvision groups equal phashes only: it finds the resized and re-encoded copies, not the cropped ones
    cropped = {pair for pair in ours if any(kind == "cropped" for _, kind in pair)}
    assert cropped and not cropped & theirs
    print(f"planted-set pairs: ours {len(ours)}, cleanvision's {len(theirs)}")


@pytest.fixture(scope="module")
def report_inputs(tmp_path_factory, planted) -> dict:
    """A train .rec (the planted train images, plus one record that is not an image) and the
    validation .lst with a duplicated index (a validator's warning); a training run's --json."""
    root = tmp_path_factory.mktemp("inputs")
    rec = str(root / "train.rec")
    with RecordWriter(rec, index=True) as writer:
        for n, (_, _, rel, label) in enumerate(planted["rows"]["train"]):
            with open(os.path.join(planted["root"], rel), "rb") as f:
                writer.write(pack(IRHeader(0, float(label), n, 0), f.read()), key=n)
        writer.write(pack(IRHeader(0, 1.0, 99, 0), b"this is not an image"), key=99)
    val = str(root / "validation.lst")
    entries = [(i, [float(c)], rel) for i, (_, _, rel, c) in enumerate(planted["rows"]["validation"])]
    entries[-1] = (0,) + entries[-1][1:]
    write_lst(val, entries)
    training = root / "train.json"
    training.write_text(json.dumps({"epochs": 3, "history": [
        {"epoch": e, "train_accuracy": 0.5 + e / 10, "validation_accuracy": 0.4 + e / 10} for e in range(3)]}))
    return {"train": rec, "validation": val, "root": planted["root"], "training": str(training),
            "counts": {"train": len(planted["rows"]["train"]) + 1, "validation": len(planted["rows"]["validation"])}}


def _open_offline(path: str, screenshot: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            errors, requests = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto("file://" + path, wait_until="load")
            found = page.evaluate("""() => ({
                images: document.images.length,
                broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
                scripts: document.scripts.length,
                splits: Array.from(document.querySelectorAll('table[data-table=splits] tr')).slice(1).map(
                    r => Array.from(r.cells).map(c => c.dataset.value || c.textContent)),
                classes: Array.from(document.querySelectorAll('table[data-table=classes] tr')).slice(1).map(
                    r => Array.from(r.cells).map(c => c.dataset.value || c.textContent)),
                sections: Array.from(document.querySelectorAll('h2')).map(h => h.textContent),
            })""")
            page.screenshot(path=screenshot)
        finally:
            browser.close()
    return {**found, "errors": errors, "requests": [u for u in requests if not u.startswith(("file:", "data:"))]}


def test_report_opens_offline_in_chromium(report_inputs, tmp_path):
    out = str(tmp_path / "report.html")
    run = subprocess.run([sys.executable, "-m", "icformat", "report", f"train={report_inputs['train']}",
                          f"validation={report_inputs['validation']}", "--root", report_inputs["root"],
                          "--model", any_model(), "--training", report_inputs["training"], "-o", out, "--json"],
                         capture_output=True, text=True, env=icformat_env(), timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["images"] == report_inputs["counts"]
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "report.png")
    page = _open_offline(out, shot)
    assert page["errors"] == [] and page["requests"] == [] and page["scripts"] == 0
    assert page["images"] > 30 and page["broken"] == []
    shown = {row[0]: int(row[2]) for row in page["splits"]}
    assert shown == report_inputs["counts"]
    assert {row[0]: [int(v) for v in row[1:]] for row in page["classes"]} == {
        label: [summary["classes"]["train"].get(label, 0), summary["classes"]["validation"].get(label, 0)]
        for label in summary["classes"]["train"]}
    assert {"Splits", "Class balance", "Problems", "Duplicates", "Model", "Training curves"} <= set(page["sections"])
    assert summary["problems"] >= 1 and summary["oddities"]["train"]["undecodable"] == 1
    assert os.path.getsize(shot) > 10_000


def test_bad_input_is_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "icformat", "report", str(tmp_path / "nope.rec"), "-o", str(out)],
                         capture_output=True, text=True, env=icformat_env(), timeout=120)
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "nope.rec" in run.stderr
    assert not out.exists() and os.listdir(tmp_path) == []


@pytest.mark.parametrize("tiles", [None, (64, 100)], ids=["default-tiles", "small-tiles"])
def test_near_pairs_equal_a_plain_count_of_differing_bits(tiles, monkeypatch):
    from icformat.report import duplicates
    from icformat.report.duplicates import _popcount, near_pairs

    if tiles:
        monkeypatch.setattr(duplicates, "_ROWS", tiles[0])
        monkeypatch.setattr(duplicates, "_COLUMNS", tiles[1])

    rng = np.random.default_rng(5)
    base = rng.integers(0, 2**63, 300, dtype=np.int64).astype(np.uint64)
    flips = np.uint64(1) << rng.integers(0, 64, (300, 3)).astype(np.uint64)
    hashes = np.concatenate([base, base ^ flips[:, 0] ^ flips[:, 1], base ^ flips[:, 2], base[:40]])
    plain = [(i, j, bin(int(hashes[i]) ^ int(hashes[j])).count("1")) for i in range(len(hashes))
             for j in range(i + 1, len(hashes))]
    want = sorted((d, i, j) for i, j, d in plain if d <= 8)
    pairs, total = near_pairs(hashes, 8)
    assert total == len(want) and sorted((d, i, j) for i, j, d in pairs.tolist()) == want
    assert _popcount(hashes).tolist() == [bin(int(h)).count("1") for h in hashes]


def test_manifest_with_bad_lines_and_preflight_findings(planted, tmp_path):
    """A bad label and a missing image are shown as problems, not a failed report; preflight's
    findings on the job (given hyperparameters) are listed with the validators'."""
    manifest = tmp_path / "validation.manifest"
    rows = [json.dumps({"source-ref": os.path.join(planted["root"], rel), "class": c})
            for _, _, rel, c in planted["rows"]["validation"]]
    rows[2] = json.dumps({"source-ref": os.path.join(planted["root"], "validation", "gone.jpg"), "class": 1})
    rows[4] = json.dumps({"source-ref": os.path.join(planted["root"], planted["rows"]["validation"][4][2]),
                          "class": "cat"})
    manifest.write_text("\n".join(rows) + "\n")
    train = Split("train", planted["train"], data_channel("train", planted["train"], root=planted["root"]))
    validation = Split("validation", str(manifest), data_channel("validation", str(manifest)))
    hp = {"num_classes": "3", "num_training_samples": "18", "mini_batch_size": "32", "image_shape": "3,64,64",
          "epochs": "1"}
    out = tmp_path / "r.html"
    result = write_report([train, validation], str(out), hyperparameters=hp)
    page = out.read_text()
    assert result.images == {"train": 18, "validation": 18}
    assert result.oddities["validation"]["undecodable"] == 1  # the missing image
    assert f"{manifest}:5" in page and f"{manifest}:3" in page  # the validator names both lines
    assert "preflight: " in page and "mini_batch_size" in page  # 18 images, fewer than mini_batch_size=32
    assert result.problems >= 3
