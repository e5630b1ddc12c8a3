"""The pipeline's plots as PNG images (matplotlib): they render offline, in `dvc plots show` and anywhere else."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ser.pipeline.paths import PLOTS_DIR

CV_PLOT = PLOTS_DIR / "cv.png"
CONDITIONS_PLOT = PLOTS_DIR / "accuracy_per_condition.png"
CONFUSION_PLOT = PLOTS_DIR / "confusion.png"
PER_CLASS_PLOT = PLOTS_DIR / "per_class_f1.png"
# PNG metadata without the matplotlib version or a date, so the same figures give the same bytes.
_METADATA = {"Software": None}


def _save(figure: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata=_METADATA)
    plt.close(figure)


def plot_cv(results: pd.DataFrame, metric: str, conditions: Sequence[str], path: Path = CV_PLOT) -> None:
    """LOSO CV of each candidate: ``metric`` over all conditions and on clean audio, best at the top."""
    table = results.sort_values(f"{metric}_mean")
    figure, axis = plt.subplots(figsize=(8, 0.3 * len(table) + 1.5))
    rows = np.arange(len(table))
    axis.barh(rows + 0.2, table[f"{metric}_mean"], height=0.4, label=f"mean over {len(conditions)} conditions")
    if f"{metric}_clean" in table:
        axis.barh(rows - 0.2, table[f"{metric}_clean"], height=0.4, label="clean audio")
    axis.set_yticks(rows, table["candidate"])
    axis.set_xlim(0, 1)
    axis.set_xlabel(f"LOSO CV {metric} (training speakers)")
    axis.legend(loc="lower right")
    _save(figure, path)


def plot_conditions(scores: dict[str, dict[str, float]], path: Path = CONDITIONS_PLOT) -> None:
    """Accuracy and UAR on the test speakers per channel condition."""
    names = list(scores)
    figure, axis = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    rows = np.arange(len(names))[::-1]
    accuracy = [scores[n]["accuracy"] for n in names]
    axis.barh(rows + 0.2, accuracy, height=0.4, label="accuracy")
    axis.barh(rows - 0.2, [scores[n]["uar"] for n in names], height=0.4, label="UAR")
    for row, value in zip(rows, accuracy, strict=True):
        axis.text(value + 0.01, row + 0.2, f"{value:.3f}", va="center", fontsize=8)
    axis.set_yticks(rows, names)
    axis.set_xlim(0, 1.1)
    axis.set_xlabel("test speakers")
    axis.legend(loc="lower right")
    _save(figure, path)


def plot_confusion(actual: Sequence[str], predicted: Sequence[str], labels: Sequence[str], path: Path) -> None:
    """Confusion matrix counts (rows: actual emotion, columns: predicted)."""
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    for a, p in zip(actual, predicted, strict=True):
        counts[index[a], index[p]] += 1
    figure, axis = plt.subplots(figsize=(6, 5))
    axis.imshow(counts, cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        axis.text(j, i, str(count), ha="center", va="center", color="white" if count > counts.max() / 2 else "black")
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("actual")
    _save(figure, path)


def plot_per_class(f1: dict[str, float], path: Path = PER_CLASS_PLOT) -> None:
    """F1 per emotion on the test speakers."""
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.barh(list(f1)[::-1], list(f1.values())[::-1])
    axis.set_xlim(0, 1)
    axis.set_xlabel("F1 (clean audio)")
    _save(figure, path)
