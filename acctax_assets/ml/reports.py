"""Evaluation artefacts from a classification report (see metrics.classification_report) and the per-row
valid/test confidences: a per-class table, a confusion-matrix image and the evaluation report (review queue,
F1 by frequency band, calibration), for Dagster metadata and MLflow."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from acctax_assets.ml.evaluation import (
    ReviewThreshold,
    band_report,
    frequency_bands,
    reliability_table,
    review_tradeoff,
    valid_threshold,
)

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
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def reliability_png(curves: Mapping[str, pd.DataFrame], path: Path) -> Path:
    """Reliability diagram: accuracy against mean confidence per bin (see evaluation.reliability_table), one line
    per model; points on the diagonal mean a confidence can be taken at its word."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for name, table in curves.items():
        filled = table[table["rows"] > 0]
        axes.plot(filled["mean_confidence"], filled["accuracy"], marker="o", label=name)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence (bin mean)")
    axes.set_ylabel("accuracy")
    axes.set_title("Reliability on test")
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def inline_png(path: Path, title: str) -> str:
    """Markdown that shows the PNG inline (a data URI), so the Dagster UI renders it without file access."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{title}](data:image/png;base64,{encoded})"


@dataclass(frozen=True)
class EvaluationReport:
    """Everything a reviewer of a new adapter needs beyond accuracy: where it fails (bands), whether its
    confidence means what it says (calibration), and what the review queue costs and catches."""

    threshold: ReviewThreshold
    test_review_share: float
    test_error_capture: float
    test_auto_accuracy: float
    ece: float
    reliability: pd.DataFrame
    tradeoff: pd.DataFrame
    bands: pd.DataFrame

    def markdown(self) -> str:
        def table(frame: pd.DataFrame) -> str:
            return frame.round(3).to_markdown(index=False)

        return "\n\n".join(
            [
                "## Review queue",
                f"Threshold chosen on valid: {self.threshold.describe()}.",
                f"On test the same threshold reviews {self.test_review_share:.1%} of rows and catches "
                f"{self.test_error_capture:.1%} of errors; "
                + (
                    f"rows accepted without review are {self.test_auto_accuracy:.1%} right."
                    if self.test_review_share < 1
                    else "no row is accepted without review."
                ),
                "### Trade-off on test (review the least confident share)",
                table(self.tradeoff),
                "## F1 by frequency band (test)",
                table(self.bands),
                f"## Calibration (test), ECE {self.ece:.3f}",
                table(self.reliability),
            ]
        )

    def write(self, folder: Path) -> list[Path]:
        files = {
            "evaluation_report.md": self.markdown(),
            "review_tradeoff_test.csv": self.tradeoff.to_csv(index=False),
            "reliability_test.csv": self.reliability.to_csv(index=False),
            "f1_by_band_test.csv": self.bands.to_csv(index=False),
        }
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return [folder / name for name in files]


def evaluation_report(
    metrics: dict[str, Any],
    eval_rows: pd.DataFrame,
    train_counts: dict[str, int],
    target_accuracy: float,
    min_auto_rows: int,
) -> EvaluationReport:
    """From the trainer's metrics.json and per-row valid/test confidences (eval_outputs.EVAL_PREDICTIONS_FILE)."""
    threshold = valid_threshold(eval_rows, target_accuracy, min_auto_rows)
    test = eval_rows[eval_rows["split"] == "test"]
    test_conf, test_correct = test["confidence"].to_numpy(), (test["label"] == test["predicted"]).to_numpy()
    reviewed = threshold.needs_review(test_conf)
    errors = int((~test_correct).sum())
    reliability, ece = reliability_table(test_conf, test_correct)
    return EvaluationReport(
        threshold=threshold,
        test_review_share=float(reviewed.mean()) if reviewed.size else 0.0,
        test_error_capture=float((reviewed & ~test_correct).sum() / errors) if errors else 1.0,
        test_auto_accuracy=float(test_correct[~reviewed].mean()) if (~reviewed).any() else float("nan"),
        ece=ece,
        reliability=reliability,
        tradeoff=review_tradeoff(test_conf, test_correct),
        bands=band_report(metrics["test"]["per_class"], frequency_bands(train_counts)),
    )
