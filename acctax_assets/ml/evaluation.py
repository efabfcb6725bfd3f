"""How far the classifier's confidence can be trusted (pure numpy/pandas): the review threshold chosen on the
valid split, calibration, the review-queue trade-off, and F1 by class-frequency band.

A clerk only checks rows in the review queue, so the threshold is the product decision: it is derived from
held-out rows the model never trained on, never hard-coded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

BANDS: tuple[str, ...] = ("head", "torso", "tail", "unseen")
DEFAULT_BAND_CUTS: tuple[float, float] = (0.5, 0.9)
REVIEW_SHARES: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def _arrays(confidence: Sequence[float], correct: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if conf.shape != right.shape or conf.ndim != 1:
        raise ValueError(f"confidence and correct must be 1-D and the same length, got {conf.shape} and {right.shape}")
    if conf.size and (conf.min() < 0 or conf.max() > 1 or np.isnan(conf).any()):
        raise ValueError("confidence must lie in [0, 1]")
    return conf, right


@dataclass(frozen=True)
class ReviewThreshold:
    """Rows with confidence below `threshold` go to review (`inf`: every row, the target is out of reach)."""

    threshold: float
    target_accuracy: float
    auto_accuracy: float
    review_share: float
    error_capture: float
    valid_rows: int

    @property
    def reachable(self) -> bool:
        return math.isfinite(self.threshold)

    @property
    def reported(self) -> float:
        """The threshold as a metadata/metric value: 1.0 when out of reach (every row is reviewed)."""
        return self.threshold if self.reachable else 1.0

    def needs_review(self, confidence: np.ndarray) -> np.ndarray:
        return np.asarray(confidence, dtype=np.float64) < self.threshold

    def describe(self) -> str:
        if not self.reachable:
            return (
                f"no confidence level reaches {self.target_accuracy:.0%} accuracy on the {self.valid_rows} valid rows: "
                "every row goes to review"
            )
        return (
            f"confidence < {self.threshold:.4f} goes to review: on {self.valid_rows} valid rows that reviews "
            f"{self.review_share:.1%} of rows, catches {self.error_capture:.1%} of errors, and the rest are "
            f"{self.auto_accuracy:.1%} right (target {self.target_accuracy:.0%})"
        )


def review_threshold(
    confidence: Sequence[float], correct: Sequence[bool], target_accuracy: float, min_auto_rows: int = 20
) -> ReviewThreshold:
    """The lowest threshold at which the rows accepted without review are right at least `target_accuracy` of
    the time (and there are at least `min_auto_rows` of them, so one lucky row cannot set it)."""
    if not 0 < target_accuracy <= 1:
        raise ValueError(f"target_accuracy must be in (0, 1], got {target_accuracy}")
    conf, right = _arrays(confidence, correct)
    total = conf.size
    errors = int((~right).sum())
    order = np.argsort(-conf, kind="stable")
    ranked, hits = conf[order], right[order]
    accepted = np.arange(1, total + 1)
    accuracy = np.cumsum(hits) / accepted
    # A threshold can only fall between distinct confidences: ties are accepted or reviewed together.
    boundary = np.append(ranked[:-1] > ranked[1:], True) if total else np.zeros(0, dtype=bool)
    candidates = np.flatnonzero(boundary & (accuracy >= target_accuracy) & (accepted >= min_auto_rows))
    if candidates.size == 0:
        return ReviewThreshold(math.inf, target_accuracy, float("nan"), 1.0, 1.0 if errors else 0.0, total)
    best = int(candidates.max())
    auto = best + 1
    caught = errors - int(auto - hits[:auto].sum())
    return ReviewThreshold(
        threshold=float(ranked[best]),
        target_accuracy=target_accuracy,
        auto_accuracy=float(accuracy[best]),
        review_share=float((total - auto) / total),
        error_capture=float(caught / errors) if errors else 1.0,
        valid_rows=total,
    )


def valid_threshold(eval_rows: pd.DataFrame, target_accuracy: float, min_auto_rows: int) -> ReviewThreshold:
    """The review threshold from the valid rows of an adapter's per-row evaluation (split, label, predicted,
    confidence): what both the evaluation report and ledger_predictions apply."""
    valid = eval_rows[eval_rows["split"] == "valid"]
    return review_threshold(valid["confidence"], valid["label"] == valid["predicted"], target_accuracy, min_auto_rows)


def review_tradeoff(
    confidence: Sequence[float], correct: Sequence[bool], shares: Sequence[float] = REVIEW_SHARES
) -> pd.DataFrame:
    """Reviewing the least confident X % of rows: which share of all errors that catches, and how accurate
    the rows accepted without review are."""
    conf, right = _arrays(confidence, correct)
    order = np.argsort(conf, kind="stable")
    wrong = ~right[order]
    errors = int(wrong.sum())
    rows = []
    for share in shares:
        reviewed = int(round(share * conf.size))
        kept = conf.size - reviewed
        rows.append(
            {
                "review_share": share,
                "rows_reviewed": reviewed,
                "confidence_below": float(conf[order][reviewed]) if kept else 1.0,
                "errors_caught": float(wrong[:reviewed].sum() / errors) if errors else 1.0,
                "accuracy_without_review": float(1 - wrong[reviewed:].sum() / kept) if kept else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def reliability_table(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> tuple[pd.DataFrame, float]:
    """Equal-width confidence bins with their accuracy, and the expected calibration error (ECE)."""
    conf, right = _arrays(confidence, correct)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=False), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        mean_conf = float(conf[members].mean()) if count else float("nan")
        accuracy = float(right[members].mean()) if count else float("nan")
        if count:
            ece += count / conf.size * abs(accuracy - mean_conf)
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "rows": count,
                "mean_confidence": mean_conf,
                "accuracy": accuracy,
                "gap": accuracy - mean_conf if count else float("nan"),
            }
        )
    return pd.DataFrame(rows), float(ece)


def frequency_bands(train_counts: Mapping[str, int], cuts: tuple[float, float] = DEFAULT_BAND_CUTS) -> dict[str, str]:
    """Code -> head/torso/tail by cumulative share of training rows (most frequent first): head classes hold
    the first `cuts[0]` of rows, torso up to `cuts[1]`, tail the rest. Scale-free, unlike fixed counts."""
    if not 0 < cuts[0] < cuts[1] < 1:
        raise ValueError(f"band cuts must satisfy 0 < head < torso < 1, got {cuts}")
    ranked = sorted(((code, n) for code, n in train_counts.items() if n > 0), key=lambda item: (-item[1], item[0]))
    total = sum(n for _, n in ranked)
    bands, before = {}, 0
    for code, count in ranked:
        share_before = before / total
        bands[code] = "head" if share_before < cuts[0] else "torso" if share_before < cuts[1] else "tail"
        before += count
    return bands


def band_report(per_class: Sequence[Mapping[str, Any]], bands: Mapping[str, str]) -> pd.DataFrame:
    """Per band over the classes present in the evaluated split: classes, rows, accuracy and macro F1.
    Codes absent from training form the `unseen` band (the model cannot propose them)."""
    frame = pd.DataFrame(list(per_class), columns=["code", "recall", "f1", "support"])
    frame = frame[frame["support"] > 0]
    frame["band"] = frame["code"].map(bands).fillna("unseen")
    frame["correct"] = frame["recall"] * frame["support"]
    rows = []
    for band in BANDS:
        members = frame[frame["band"] == band]
        if members.empty:
            continue
        rows.append(
            {
                "band": band,
                "classes": len(members),
                "rows": int(members["support"].sum()),
                "accuracy": float(members["correct"].sum() / members["support"].sum()),
                "f1_macro": float(members["f1"].mean()),
            }
        )
    return pd.DataFrame(rows, columns=["band", "classes", "rows", "accuracy", "f1_macro"])
