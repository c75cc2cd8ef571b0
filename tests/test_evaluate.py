"""``evaluate``: its metrics equal scikit-learn's on the same predictions, its probabilities equal
``predict``'s on the same images, and every data kind train reads gives the same answer. Runs on the
backend of each environment (MXNet model.tar.gz in the full one, the committed .onnx in the core one)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as skm

from icformat.evaluate.run import evaluate
from icformat.io.paths import local_path  # noqa: F401  (the I/O layer the data readers use)
from icformat.lst.format import write_lst
from icformat.recordio.header import IRHeader, pack
from icformat.recordio.writer import RecordWriter
from icformat.samples import write_photo_tree
from icformat.serve.predictor import open_predictor
from icformat.train.data import data_channel, iter_examples

from .serve_support import BACKENDS, icformat_env, model_path

NUM_CLASSES = 4


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> dict:
    """32 real-photo JPEGs in 4 class folders, as a .lst, a manifest and a .rec (same bytes), with
    multi-hot labels beside for the multi-label model."""
    root = tmp_path_factory.mktemp("evaluate")
    photos = str(root / "photos")
    paths = write_photo_tree(photos, classes=NUM_CLASSES, per_class=8, seed=3, size=(48, 40))
    labels = [int(p.split("/")[0].split("_")[1]) for p in paths]
    multi = np.stack([[(i + c) % 3 == 0 for c in range(NUM_CLASSES)] for i in range(len(paths))]).astype(np.float32)
    multi[:, 0] = 1 - multi[:, 1]  # every class present somewhere, every row different from the next
    out = {"root": photos, "paths": paths, "labels": labels, "multi": multi}
    out["lst"] = str(root / "data.lst")
    write_lst(out["lst"], [(n, [float(c)], p) for n, (c, p) in enumerate(zip(labels, paths))])
    out["ml_lst"] = str(root / "ml.lst")
    write_lst(out["ml_lst"], [(n, row.tolist(), p) for n, (row, p) in enumerate(zip(multi, paths))])
    out["manifest"] = str(root / "data.manifest")
    with open(out["manifest"], "w") as f:
        for c, p in zip(labels, paths):
            f.write(json.dumps({"source-ref": os.path.join(photos, p), "class": c}) + "\n")
    out["rec"] = str(root / "data.rec")
    with RecordWriter(out["rec"], index=True) as writer:
        for n, (c, p) in enumerate(zip(labels, paths)):
            with open(os.path.join(photos, p), "rb") as f:
                writer.write(pack(IRHeader(0, float(c), n, 0), f.read()), key=n)
    return out


def _evaluate(model: str, data: str, root: str | None = None, **kwargs):
    predictor = open_predictor(model)
    try:
        channel = data_channel("data", data, root=root, num_classes=predictor.info.num_classes)
        return evaluate(predictor, iter_examples(channel), **kwargs)
    finally:
        predictor.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_metrics_equal_scikit_learns(backend, labelled):
    found = _evaluate(model_path(backend), labelled["lst"], labelled["root"], top_k=2)
    y, p = found.labels, found.probabilities
    assert found.images == len(labelled["paths"]) and y.tolist() == labelled["labels"]
    predicted = p.argmax(axis=1)
    summary = found.summary()
    assert summary["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert summary["top_k"]["2"] == pytest.approx(skm.top_k_accuracy_score(y, p, k=2, labels=range(NUM_CLASSES)))
    assert summary["confusion_matrix"] == skm.confusion_matrix(y, predicted, labels=range(NUM_CLASSES)).tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, predicted, labels=range(NUM_CLASSES),
                                                                         zero_division=0)
    rows = summary["per_class"]
    np.testing.assert_allclose([r["precision"] for r in rows], precision)
    np.testing.assert_allclose([r["recall"] for r in rows], recall)
    np.testing.assert_allclose([r["f1"] for r in rows], f1)
    assert [r["support"] for r in rows] == support.tolist()
    wrong = int((predicted != y).sum())
    assert len(found.mistakes) == min(wrong, 20)
    confidences = [m.confidence for m in found.mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert all(m.confidence == pytest.approx(float(p[found.names.index(m.name)].max())) for m in found.mistakes)


@pytest.mark.parametrize("backend", BACKENDS)
def test_multi_label_average_precision_and_f1_equal_scikit_learns(backend, labelled):
    found = _evaluate(model_path(backend, multi_label=True), labelled["ml_lst"], labelled["root"], threshold=0.5)
    assert found.multi_label
    y, p = found.labels, found.probabilities
    np.testing.assert_array_equal(y, labelled["multi"])
    rows = found.summary()["per_class"]
    for c in range(NUM_CLASSES):
        assert rows[c]["average_precision"] == pytest.approx(skm.average_precision_score(y[:, c], p[:, c]))
    f1 = skm.f1_score(y, (p >= 0.5).astype(int), average=None, zero_division=0)
    np.testing.assert_allclose([r["f1"] for r in rows], f1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_probabilities_equal_predicts_for_every_data_kind(backend, labelled):
    model = model_path(backend)
    run = subprocess.run([sys.executable, "-m", "icformat", "predict", "--model", model, labelled["root"]],
                         capture_output=True, text=True, env=icformat_env(), timeout=300)
    assert run.returncode == 0, run.stderr
    predicted = {os.path.relpath(r["source"], labelled["root"]): np.asarray(r["prediction"], np.float32)
                 for r in map(json.loads, run.stdout.splitlines())}
    want = np.stack([predicted[p] for p in labelled["paths"]])
    for kind in ("lst", "manifest", "rec"):
        found = _evaluate(model, labelled[kind], labelled["root"])
        np.testing.assert_array_equal(found.probabilities, want, err_msg=kind)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_text_json_and_bad_input(backend, labelled, tmp_path):
    model = model_path(backend)
    base = [sys.executable, "-m", "icformat", "evaluate", "--model", model]
    run = subprocess.run(base + [labelled["rec"], "--json", "--mistakes", "3"], capture_output=True, text=True,
                         env=icformat_env(), timeout=300)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["images"] == 32 and len(found["mistakes"]) <= 3 and len(found["confusion_matrix"]) == NUM_CLASSES
    assert all(m["where"].startswith(labelled["rec"] + "@") for m in found["mistakes"])
    text = subprocess.run(base + [labelled["lst"], "--root", labelled["root"]], capture_output=True, text=True, env=icformat_env(), timeout=300)
    assert text.returncode == 0 and "accuracy:" in text.stdout and "confusion matrix" in text.stdout
    missing = tmp_path / "missing.lst"
    missing.write_text("0\t1\tnot-there.jpg\n")
    bad = subprocess.run(base + [str(missing)], capture_output=True, text=True, env=icformat_env(), timeout=300)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    ours = [line for line in bad.stderr.splitlines() if line.startswith("icformat:")]  # MXNet logs its own line
    assert len(ours) == 1 and f"{missing}:1" in ours[0] and "not-there.jpg" in ours[0]
