"""The report's pictures, drawn by matplotlib (Agg, no display) and inlined as PNG ``data:`` URIs."""
from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np

from ..errors import MissingDependencyError


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingDependencyError("the report needs matplotlib and imagehash: pip install 'icformat[report]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def class_balance(splits: dict[str, dict[str, int]]) -> str:
    """Horizontal bars: images per class, one bar per split."""
    plt = _pyplot()
    labels = sorted({label for counts in splits.values() for label in counts}, key=natural_key)
    height = 0.8 / max(1, len(splits))
    figure, axes = plt.subplots(figsize=(7, 0.9 + 0.28 * len(labels) * max(1, len(splits)) ** 0.5))
    y = np.arange(len(labels))
    for n, (name, counts) in enumerate(splits.items()):
        axes.barh(y + n * height, [counts.get(label, 0) for label in labels], height, label=name)
    axes.set_yticks(y + height * (len(splits) - 1) / 2, labels)
    axes.invert_yaxis()
    axes.set_xlabel("images")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(figure)


def histograms(title: str, edges: np.ndarray, splits: dict[str, np.ndarray], edge_labels: Sequence[str]) -> str:
    """One step line per split over fixed bins (labelled by ``edge_labels``)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 2.6))
    x = np.arange(len(edges))
    for name, counts in splits.items():
        axes.stairs(counts, x, label=name, linewidth=2)
    axes.set_xticks(x, edge_labels, rotation=45, fontsize=8)
    axes.set_title(title)
    axes.set_ylabel("images")
    axes.legend()
    return _png(figure)


def confusion(matrix: np.ndarray, classes: Sequence[str]) -> str:
    """The confusion matrix as a heat map with its counts (rows: true class)."""
    plt = _pyplot()
    size = min(12, 2.5 + 0.45 * len(classes))
    figure, axes = plt.subplots(figsize=(size, size * 0.85))
    shown = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(classes)), classes, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if len(classes) <= 30:
        peak = matrix.max() or 1
        for (i, j), value in np.ndenumerate(matrix):
            axes.text(j, i, f"{value}", ha="center", va="center", fontsize=7,
                      color="white" if value > peak / 2 else "black")
    figure.colorbar(shown, ax=axes, shrink=0.8)
    return _png(figure)


def curves(history: Sequence[dict]) -> str:
    """Accuracy (and loss, where the run recorded it) per epoch."""
    plt = _pyplot()
    keys = [k for k in history[0] if k != "epoch" and any(isinstance(h.get(k), (int, float)) for h in history)]
    losses = [k for k in keys if "loss" in k]
    figure, axes = plt.subplots(1, 2 if losses else 1, figsize=(9 if losses else 6, 3), squeeze=False)
    epochs = [h.get("epoch", n) + 1 for n, h in enumerate(history)]
    for column, group in enumerate([[k for k in keys if k not in losses]] + ([losses] if losses else [])):
        for key in group:
            points = [(e, h[key]) for e, h in zip(epochs, history) if isinstance(h.get(key), (int, float))]
            axes[0][column].plot(*zip(*points), marker="o", label=key)
        axes[0][column].set_xlabel("epoch")
        axes[0][column].legend(fontsize=8)
    return _png(figure)


def natural_key(label: str):
    return (0, float(label), "") if label.replace(".", "", 1).isdigit() else (1, 0.0, label)
