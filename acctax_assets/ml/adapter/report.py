"""The evaluation written beside a published adapter (no Dagster, torch-free): per-class test figures, the test
confusion matrix and the report of its valid/test rows at the office's review operating point, as the other
candidates get theirs when `served_classifier` scores them. `account_classifier` calls it after training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from acctax_assets.ml.adapter.reader import METRICS_FILE, AdapterRef
from acctax_assets.ml.evaluation.confidence import ReviewPolicy
from acctax_assets.ml.evaluation.reports import (
    EvaluationReport,
    confusion_matrix_png,
    evaluation_report,
    per_class_frame,
)

PER_CLASS_FILE = "per_class_test.csv"
CONFUSION_PLOT = "confusion_matrix_test.png"


@dataclass(frozen=True)
class AdapterReport:
    """Per-class test figures, the evaluation report, and every file written or read for it (MLflow artefacts)."""

    per_class: pd.DataFrame
    evaluation: EvaluationReport
    files: tuple[Path, ...]

    def figures(self) -> dict[str, float]:
        """The review and calibration figures, alike in metadata and MLflow."""
        evaluation = self.evaluation
        return {
            "review_threshold": evaluation.threshold.reported,
            "valid_review_share": evaluation.threshold.review_share,
            "test_review_share": evaluation.test_review_share,
            "test_error_capture": evaluation.test_error_capture,
            "test_ece": evaluation.ece,
        }


def write_adapter_report(adapter: AdapterRef, policy: ReviewPolicy) -> AdapterReport:
    """The adapter's evaluation under `policy`, written into its folder (band figures from its trained classes'
    counts)."""
    metrics = adapter.metrics()
    per_class = per_class_frame(metrics["test"])
    per_class.to_csv(adapter.path / PER_CLASS_FILE, index=False)
    confusion = confusion_matrix_png(metrics["test"], adapter.path / CONFUSION_PLOT)
    classes = adapter.trained_classes()
    evaluation = evaluation_report(
        metrics,
        adapter.eval_predictions(),
        dict(zip(classes["codes"], classes["counts"], strict=True)),
        policy,
    )
    report_files = evaluation.write(adapter.path)
    files = (adapter.path / PER_CLASS_FILE, confusion, adapter.path / METRICS_FILE, *report_files)
    return AdapterReport(per_class, evaluation, files)
