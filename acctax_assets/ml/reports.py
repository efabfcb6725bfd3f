"""Evaluation artefacts from a classification report (see metrics.classification_report): a per-class
table and a confusion-matrix image, for Dagster metadata and MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_MATRIX_CLASSES = 40


def per_class_frame(report: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(report["per_class"], columns=["code", "name", "precision", "recall", "f1", "support"])


def confusion_matrix_png(report: dict[str, Any], path: Path) -> Path:
    """Row-normalised confusion matrix of the most frequent classes (a 250x250 image is unreadable)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = report["confusion_matrix"]["labels"]
    matrix = np.asarray(report["confusion_matrix"]["matrix"], dtype=np.float64)
    keep = np.argsort(-matrix.sum(axis=1), kind="stable")[:MAX_MATRIX_CLASSES]
    matrix = matrix[np.ix_(keep, keep)]
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(4.0, 0.25 * len(keep) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(keep))
    axes.set_xticks(ticks, [labels[i] for i in keep], rotation=90, fontsize=7)
    axes.set_yticks(ticks, [labels[i] for i in keep], fontsize=7)
    axes.set_xlabel("predicted code")
    axes.set_ylabel("true code")
    axes.set_title(f"Confusion (row share), top {len(keep)} classes")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
