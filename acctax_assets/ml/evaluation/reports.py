"""Evaluation artefacts from a classification report (see metrics.classification_report) and the per-row
valid/test confidences: a per-class table, a confusion-matrix image, the review trade-off plot and the evaluation
report (review queue, F1 by frequency band, calibration), for Dagster metadata and MLflow."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from acctax_assets.ml.evaluation.calibration import Calibration
from acctax_assets.ml.evaluation.confidence import (
    ReviewPolicy,
    ReviewThreshold,
    band_report,
    frequency_bands,
    queue_at,
    reliability_table,
    tradeoff_curve,
    valid_threshold,
)

# A screen holds a matrix of about a dozen codes with their counts written in the cells.
MAX_MATRIX_CLASSES = 12
CONFUSED_PAIRS = 10
# What an empty reliability bin shows instead of `nan`.
EMPTY_BIN = "no rows"


def per_class_frame(report: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(report["per_class"], columns=["code", "name", "precision", "recall", "f1", "support"])


def _confusion(report: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    labels = [str(label) for label in report["confusion_matrix"]["labels"]]
    return labels, np.asarray(report["confusion_matrix"]["matrix"], dtype=np.float64)


def confused_pairs(report: dict[str, Any], limit: int = CONFUSED_PAIRS) -> pd.DataFrame:
    """The most frequent mistakes, most rows first: true code -> predicted code, their names, the rows and the
    share of the true code's rows that went to that wrong code."""
    labels, matrix = _confusion(report)
    per_class = per_class_frame(report)
    names = dict(zip(per_class["code"].astype(str), per_class["name"], strict=True))
    wrong = matrix.copy()
    np.fill_diagonal(wrong, 0)
    rows = []
    for flat in np.argsort(-wrong, axis=None, kind="stable")[:limit]:
        true, predicted = divmod(int(flat), len(labels))
        if wrong[true, predicted] == 0:
            break
        rows.append(
            {
                "true_code": labels[true],
                "true_name": names.get(labels[true], ""),
                "predicted_code": labels[predicted],
                "predicted_name": names.get(labels[predicted], ""),
                "rows": int(wrong[true, predicted]),
                "share_of_true_code": float(wrong[true, predicted] / matrix[true].sum()),
            }
        )
    columns = ["true_code", "true_name", "predicted_code", "predicted_name", "rows", "share_of_true_code"]
    return pd.DataFrame(rows, columns=columns)


def _matrix_codes(matrix: np.ndarray, limit: int) -> np.ndarray:
    """The codes most involved in mistakes (as true or predicted code); the most frequent ones when there are
    none, so a perfect model still shows its diagonal."""
    wrong = matrix.copy()
    np.fill_diagonal(wrong, 0)
    involvement = wrong.sum(axis=0) + wrong.sum(axis=1)
    confused = np.flatnonzero(involvement)
    if confused.size == 0:
        return np.argsort(-matrix.sum(axis=1), kind="stable")[:limit]
    return confused[np.argsort(-involvement[confused], kind="stable")][:limit]


def confusion_matrix_png(report: dict[str, Any], path: Path) -> Path:
    """Confusion matrix of the most confused codes only, counts written in the cells and colour by row share, at a
    size a screen holds (a 250x250 image is unreadable, and so is one taller than the screen)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels, matrix = _confusion(report)
    keep = _matrix_codes(matrix, MAX_MATRIX_CLASSES)
    matrix = matrix[np.ix_(keep, keep)]
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = min(7.0, max(4.0, 0.4 * len(keep) + 2))
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            shade = "white" if normalised[row, column] > 0.5 else "black"
            axes.text(column, row, f"{int(count)}", ha="center", va="center", fontsize=7, color=shade)
    ticks = range(len(keep))
    axes.set_xticks(ticks, [labels[i] for i in keep], rotation=90, fontsize=8)
    axes.set_yticks(ticks, [labels[i] for i in keep], fontsize=8)
    axes.set_xlabel("predicted code")
    axes.set_ylabel("true code")
    axes.set_title(f"Most confused {len(keep)} codes (rows; colour: share of the true code)", fontsize=9)
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


def tradeoff_png(curve: pd.DataFrame, threshold: ReviewThreshold, max_share: float, path: Path) -> Path:
    """The review trade-off (see evaluation.tradeoff_curve): accuracy of the rows accepted without review and
    share of errors caught against the review share, on valid (solid) and test (dashed), with the accuracy
    target, the largest useful review share and the served operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    share = 100 * curve["review_share"]
    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    axes.plot(
        share, 100 * curve["valid_auto_accuracy"], marker="o", color="tab:blue", label="accuracy of the rest (valid)"
    )
    axes.plot(
        share, 100 * curve["test_auto_accuracy"], linestyle="--", color="tab:blue", label="accuracy of the rest (test)"
    )
    axes.plot(share, 100 * curve["valid_errors_caught"], marker="s", color="tab:orange", label="errors caught (valid)")
    axes.plot(
        share, 100 * curve["test_errors_caught"], linestyle="--", color="tab:orange", label="errors caught (test)"
    )
    if threshold.requested_share is None:
        axes.axhline(
            100 * threshold.target_accuracy,
            color="grey",
            linestyle=":",
            label=f"target {threshold.target_accuracy:.1%}",
        )
    axes.axvline(100 * max_share, color="tab:red", linestyle=":", label=f"review_max_share {max_share:.0%}")
    axes.axvline(
        100 * threshold.review_share, color="black", linewidth=1, label=f"served: {threshold.review_share:.1%} reviewed"
    )
    axes.set_xlim(0, 100)
    axes.set_ylim(0, 101)
    axes.set_xlabel("rows sent to review, least confident first (%)")
    axes.set_ylabel("%")
    axes.set_title("Review queue trade-off (threshold chosen on valid)")
    axes.legend(fontsize=7, loc="lower right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def feedback_png(history: pd.DataFrame, path: Path) -> Path:
    """The production figure over the months (see feedback.history_table): the share of proposals the clerk changed
    among reviewed lines and among auto-accepted lines (errors that slipped through the queue), one point per month."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 4))
    axes.plot(history["month"], history["changed_reviewed_%"], marker="o", label="changed among reviewed")
    axes.plot(history["month"], history["changed_auto_%"], marker="s", label="changed among auto-accepted (slipped)")
    axes.set_ylim(bottom=0)
    axes.set_xlabel("month")
    axes.set_ylabel("proposals the clerk changed (%)")
    axes.set_title("Proposals changed by the clerk, per month")
    axes.tick_params(axis="x", rotation=45)
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
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
    """Everything a reviewer of a new model needs beyond accuracy: where it fails (bands), whether its
    confidence means what it says (calibration), and what the review queue costs and catches at every share."""

    threshold: ReviewThreshold
    test_review_share: float
    test_error_capture: float
    test_auto_accuracy: float
    ece: float
    reliability: pd.DataFrame
    tradeoff: pd.DataFrame
    bands: pd.DataFrame
    calibration: Calibration | None = None

    def markdown(self) -> str:
        def table(frame: pd.DataFrame) -> str:
            """Three decimals; an empty bin's figures say "no rows" instead of `nan`."""
            rounded = frame.round(3).astype(object)
            return rounded.where(frame.notna(), EMPTY_BIN).to_markdown(index=False)

        warning = self.threshold.warning
        return "\n\n".join(
            [
                "## Review queue",
                f"Threshold chosen on valid: {self.threshold.describe()}.",
                *([f"**WARNING** {warning}."] if warning else []),
                f"On test the same threshold reviews {self.test_review_share:.1%} of rows and catches "
                f"{self.test_error_capture:.1%} of errors; "
                + (
                    f"rows accepted without review are {self.test_auto_accuracy:.1%} right."
                    if self.test_review_share < 1
                    else "no row is accepted without review."
                ),
                "### Trade-off on test and valid (the threshold of each review share is chosen on valid)",
                table(self.tradeoff),
                "## F1 by frequency band (test)",
                table(self.bands),
                f"## Calibration (test), ECE {self.ece:.3f}",
                *([f"Confidences are temperature-scaled: {self.calibration.describe()}."] if self.calibration else []),
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
    policy: ReviewPolicy,
    calibration: Calibration | None = None,
) -> EvaluationReport:
    """From the classification reports and per-row valid/test confidences (eval_outputs.EVAL_PREDICTIONS_FILE;
    calibrated ones when `calibration` says how they were made): the threshold of `policy` chosen on valid and
    applied to test, the trade-off curve, calibration and F1 by band."""
    threshold = valid_threshold(eval_rows, policy)
    valid = eval_rows[eval_rows["split"] == "valid"]
    test = eval_rows[eval_rows["split"] == "test"]
    test_conf, test_correct = test["confidence"].to_numpy(), (test["label"] == test["predicted"]).to_numpy()
    on_test = queue_at(test_conf, test_correct, threshold.threshold)
    reliability, ece = reliability_table(test_conf, test_correct)
    return EvaluationReport(
        threshold=threshold,
        test_review_share=on_test.review_share,
        test_error_capture=on_test.error_capture,
        test_auto_accuracy=on_test.auto_accuracy,
        ece=ece,
        reliability=reliability,
        tradeoff=tradeoff_curve(
            valid["confidence"].to_numpy(),
            (valid["label"] == valid["predicted"]).to_numpy(),
            test_conf,
            test_correct,
        ),
        bands=band_report(metrics["test"]["per_class"], frequency_bands(train_counts)),
        calibration=calibration,
    )
