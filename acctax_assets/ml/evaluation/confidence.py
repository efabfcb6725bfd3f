"""How far the classifier's confidence can be trusted (pure numpy/pandas): the review threshold chosen on the
valid split, calibration, the review-queue trade-off, and F1 by class-frequency band.

A clerk only checks rows in the review queue, so the threshold is the product decision: it is derived from
held-out rows the model never trained on, never hard-coded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

BANDS: tuple[str, ...] = ("head", "torso", "tail", "unseen")
DEFAULT_BAND_CUTS: tuple[float, float] = (0.5, 0.9)
# The trade-off curve: review 0 %, 5 %, ..., 100 % of the least confident rows.
REVIEW_SHARES: tuple[float, ...] = tuple(round(0.05 * step, 2) for step in range(21))
# The largest review share an office finds useful unless it says otherwise (ModelSettings.review_max_share).
DEFAULT_MAX_SHARE = 0.4
# The office's default accuracy of the rows accepted without review (ModelSettings.review_target_accuracy).
DEFAULT_TARGET_ACCURACY = 0.97
# The accuracy the "target out of reach" message quotes as an alternative an office can usually reach.
FALLBACK_ACCURACY = 0.9


def _arrays(confidence: Sequence[float], correct: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if conf.shape != right.shape or conf.ndim != 1:
        raise ValueError(f"confidence and correct must be 1-D and the same length, got {conf.shape} and {right.shape}")
    if conf.size and (conf.min() < 0 or conf.max() > 1 or np.isnan(conf).any()):
        raise ValueError("confidence must lie in [0, 1]")
    return conf, right


@dataclass(frozen=True)
class QueueFigures:
    """What a threshold does to a set of rows: the share reviewed, the share of errors that are among them, and
    how often the rows accepted without review are right (NaN when none is accepted)."""

    review_share: float
    error_capture: float
    auto_accuracy: float


def queue_at(confidence: Sequence[float], correct: Sequence[bool], threshold: float) -> QueueFigures:
    """The review queue `confidence < threshold` on these rows."""
    conf, right = _arrays(confidence, correct)
    reviewed = conf < threshold
    errors = int((~right).sum())
    return QueueFigures(
        review_share=float(reviewed.mean()) if conf.size else 0.0,
        error_capture=float((reviewed & ~right).sum() / errors) if errors else 1.0,
        auto_accuracy=float(right[~reviewed].mean()) if (~reviewed).any() else float("nan"),
    )


def share_threshold(confidence: Sequence[float], share: float) -> float:
    """The threshold that reviews the least confident `share` of these rows: the confidence of the least
    confident row kept (rounded half up to whole rows). Rows tied with it are kept together, so with ties at the
    boundary slightly fewer rows are reviewed. 0 reviews none (0.0), 1 reviews all (inf)."""
    if not 0 <= share <= 1:
        raise ValueError(f"a review share must lie in [0, 1], got {share}")
    ranked = np.sort(np.asarray(confidence, dtype=np.float64))
    reviewed = math.floor(share * ranked.size + 0.5 + 1e-9)
    if reviewed == 0:
        return 0.0
    if reviewed >= ranked.size:
        return math.inf
    return float(ranked[reviewed])


@dataclass(frozen=True)
class Shortfall:
    """The accuracy target needs more review than the office considers useful (`max_share`), measured on the
    valid rows: what it would take, what the largest useful share gives, and what a 90 % target would take."""

    target_accuracy: float
    needed_share: float | None
    max_share: float
    max_share_review: QueueFigures
    fallback_accuracy: float
    fallback_share: float | None
    valid_rows: int

    def message(self) -> str:
        need = (
            f"keeping auto-accepted rows {self.target_accuracy:.1%} right needs {self.needed_share:.1%} of rows "
            f"reviewed on the {self.valid_rows} valid rows, above review_max_share {self.max_share:.0%}"
            if self.needed_share is not None
            else f"no confidence level keeps auto-accepted rows {self.target_accuracy:.1%} right on the "
            f"{self.valid_rows} valid rows: every row would go to review (review_max_share {self.max_share:.0%})"
        )
        at_max = self.max_share_review
        sent = 1.0 if self.needed_share is None else self.needed_share
        fallback = (
            f"{self.fallback_accuracy:.0%} accuracy needs {self.fallback_share:.1%} reviewed"
            if self.fallback_share is not None
            else f"no share below 100 % reaches {self.fallback_accuracy:.0%} accuracy"
        )
        return (
            f"Review target out of reach: {need}. Reviewing the least confident {at_max.review_share:.1%} would leave "
            f"the rest {at_max.auto_accuracy:.1%} right and catch {at_max.error_capture:.1%} of errors; {fallback}. "
            f"The served threshold stays the target's, so {sent:.1%} of rows go to review. Fix: set "
            f"model_settings.review_share (e.g. {self.max_share}) to review a fixed share of the least confident rows, "
            f"or lower model_settings.review_target_accuracy (e.g. {self.fallback_accuracy})"
        )


@dataclass(frozen=True)
class ReviewThreshold:
    """Rows with confidence below `threshold` go to review (`inf`: every row, the target is out of reach).

    `requested_share` is set when the office asked for a fixed review share instead of a target accuracy;
    `shortfall` when the target needs more review than `review_max_share`."""

    threshold: float
    target_accuracy: float
    auto_accuracy: float
    review_share: float
    error_capture: float
    valid_rows: int
    requested_share: float | None = None
    shortfall: Shortfall | None = None

    @property
    def reachable(self) -> bool:
        return math.isfinite(self.threshold)

    @property
    def reported(self) -> float:
        """The threshold as a metadata/metric value: 1.0 when out of reach (every row is reviewed)."""
        return self.threshold if self.reachable else 1.0

    def needs_review(self, confidence: np.ndarray) -> np.ndarray:
        return np.asarray(confidence, dtype=np.float64) < self.threshold

    @property
    def warning(self) -> str | None:
        """What the office must be told plainly (None: the operating point is within what it finds useful)."""
        return self.shortfall.message() if self.shortfall else None

    def describe(self) -> str:
        if self.requested_share is not None:
            return (
                f"review_share {self.requested_share:.0%} is set: confidence < {self.threshold:.4f} goes to review; on "
                f"{self.valid_rows} valid rows that reviews {self.review_share:.1%} of rows, catches "
                f"{self.error_capture:.1%} of errors, and the rest are {self.auto_accuracy:.1%} right"
            )
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


@dataclass(frozen=True)
class ReviewPolicy:
    """The office's operating point of the review queue (ModelSettings.review_*), applied to valid rows.

    - `share` set: review exactly that share of the least confident rows (the threshold is the valid quantile,
      see share_threshold); it overrides the target.
    - else the target: the lowest threshold whose auto-accepted valid rows are `target_accuracy` right. When
      that needs more than `max_share` of rows reviewed (or no threshold reaches it), the served threshold is
      still the target's (the office asked for that accuracy, and a queue that silently shrinks would pass
      wrong codes unseen), but the threshold carries a `shortfall` that says plainly how much it sends to
      review, what `max_share` would give, what 90 % would take, and which setting to change.
    """

    target_accuracy: float
    min_auto_rows: int = 20
    max_share: float = DEFAULT_MAX_SHARE
    share: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.target_accuracy <= 1:
            raise ValueError(f"review_target_accuracy must be in (0, 1], got {self.target_accuracy}")
        if not 0 <= self.max_share <= 1:
            raise ValueError(f"review_max_share must be in [0, 1], got {self.max_share}")
        if self.share is not None and not 0 <= self.share <= 1:
            raise ValueError(f"review_share must be in [0, 1] or unset, got {self.share}")

    def describe(self) -> str:
        if self.share is not None:
            return f"review_share {self.share:.0%} (the least confident rows; overrides the accuracy target)"
        return f"review_target_accuracy {self.target_accuracy:.1%} (useful up to review_max_share {self.max_share:.0%})"

    def threshold(self, confidence: Sequence[float], correct: Sequence[bool]) -> ReviewThreshold:
        conf, right = _arrays(confidence, correct)
        if self.share is not None:
            cut = share_threshold(conf, self.share)
            queue = queue_at(conf, right, cut)
            return ReviewThreshold(
                threshold=cut,
                target_accuracy=self.target_accuracy,
                auto_accuracy=queue.auto_accuracy,
                review_share=queue.review_share,
                error_capture=queue.error_capture,
                valid_rows=conf.size,
                requested_share=self.share,
            )
        chosen = review_threshold(conf, right, self.target_accuracy, self.min_auto_rows)
        if chosen.reachable and chosen.review_share <= self.max_share:
            return chosen
        fallback = review_threshold(conf, right, FALLBACK_ACCURACY, self.min_auto_rows)
        shortfall = Shortfall(
            target_accuracy=self.target_accuracy,
            needed_share=chosen.review_share if chosen.reachable else None,
            max_share=self.max_share,
            max_share_review=queue_at(conf, right, share_threshold(conf, self.max_share)),
            fallback_accuracy=FALLBACK_ACCURACY,
            fallback_share=fallback.review_share if fallback.reachable else None,
            valid_rows=conf.size,
        )
        return replace(chosen, shortfall=shortfall)


def valid_threshold(eval_rows: pd.DataFrame, policy: ReviewPolicy) -> ReviewThreshold:
    """The review threshold of `policy` on the valid rows of a candidate's per-row evaluation (split, label,
    predicted, confidence): what both the evaluation report and ledger_predictions apply."""
    valid = eval_rows[eval_rows["split"] == "valid"]
    return policy.threshold(valid["confidence"].to_numpy(), (valid["label"] == valid["predicted"]).to_numpy())


def review_tradeoff(
    confidence: Sequence[float], correct: Sequence[bool], shares: Sequence[float] = REVIEW_SHARES
) -> pd.DataFrame:
    """Reviewing the least confident X % of rows (threshold: share_threshold): how many rows that is, which
    share of all errors it catches, and how accurate the rows accepted without review are."""
    conf, right = _arrays(confidence, correct)
    rows = []
    for share in shares:
        cut = share_threshold(conf, share)
        queue = queue_at(conf, right, cut)
        rows.append(
            {
                "review_share": share,
                "rows_reviewed": int((conf < cut).sum()),
                "confidence_below": cut,
                "errors_caught": queue.error_capture,
                "accuracy_without_review": queue.auto_accuracy,
            }
        )
    return pd.DataFrame(rows)


def tradeoff_curve(
    valid_confidence: Sequence[float],
    valid_correct: Sequence[bool],
    test_confidence: Sequence[float],
    test_correct: Sequence[bool],
    shares: Sequence[float] = REVIEW_SHARES,
) -> pd.DataFrame:
    """The office's menu: for each review share, the threshold chosen on valid and what it gives on valid and,
    applied unchanged, on test (the test columns are what a new month can expect)."""
    valid = review_tradeoff(valid_confidence, valid_correct, shares)
    test_conf, test_right = _arrays(test_confidence, test_correct)
    on_test = [queue_at(test_conf, test_right, cut) for cut in valid["confidence_below"]]
    return pd.DataFrame(
        {
            "review_share": valid["review_share"],
            "threshold": valid["confidence_below"],
            "valid_rows_reviewed": valid["rows_reviewed"],
            "valid_auto_accuracy": valid["accuracy_without_review"],
            "valid_errors_caught": valid["errors_caught"],
            "test_review_share": [q.review_share for q in on_test],
            "test_auto_accuracy": [q.auto_accuracy for q in on_test],
            "test_errors_caught": [q.error_capture for q in on_test],
        }
    )


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
