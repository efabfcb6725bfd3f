"""Candidate models scored alike and the choice of the one to serve (pure numpy/pandas, no Dagster).

Every model trained on a ledger_dataset version (the LoRA adapter, the TF-IDF baseline, the precedent lookup,
their ensemble) is judged from its stored per-row valid/test outputs with the same figures. The champion is the
candidate with the best **valid** figure (model_settings.selection_metric: accuracy by default, or macro F1) among
those that pass the quality gate and were trained on the current dataset version; ties go to the cheaper model.
Test figures are reported and gated, never used to choose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.calibration import Calibration, calibrated_rows, fit_temperature
from acctax_assets.ml.evaluation.confidence import ReviewPolicy
from acctax_assets.ml.evaluation.metrics import classification_report
from acctax_assets.ml.evaluation.outputs import EVAL_SPLITS, EvalOutputs
from acctax_assets.ml.evaluation.reports import EvaluationReport, evaluation_report

Kind = Literal["precedent", "baseline", "adapter", "ensemble"]
# Serving cost order: on equal valid macro F1 the cheaper model wins.
KIND_COST: dict[str, int] = {"precedent": 0, "baseline": 1, "adapter": 2, "ensemble": 3}
# The figures of the comparison table, in order (also the MLflow registry tags and metrics of each candidate).
FIGURES: tuple[str, ...] = (
    "valid_f1_macro",
    "valid_accuracy",
    "test_f1_macro",
    "test_f1_weighted",
    "test_accuracy",
    "test_f1_head",
    "test_f1_torso",
    "test_f1_tail",
    "test_ece",
    "review_threshold",
    "valid_review_share",
    "valid_auto_accuracy",
    "test_review_share",
    "test_error_capture",
    "test_auto_accuracy",
    "temperature",
    "valid_nll_uncalibrated",
    "valid_nll",
    "valid_ece_uncalibrated",
    "valid_ece",
)


class NoServableCandidateError(AcctaxError):
    """No candidate passed its gate: nothing new is served (the previous champion, if any, stays)."""


@dataclass(frozen=True)
class Candidate:
    """A stored model of one kind and version, with its per-row outputs on the valid/test splits."""

    kind: Kind
    version: str
    path: Path
    dataset_version: str
    outputs: EvalOutputs

    @property
    def name(self) -> str:
        return f"{self.kind} {self.version}"


@dataclass(frozen=True)
class Scorecard:
    """A candidate's figures; every confidence figure (ECE, review queue) is on its calibrated confidences."""

    candidate: Candidate
    reports: Mapping[str, dict[str, Any]]
    evaluation: EvaluationReport
    calibration: Calibration

    @property
    def figures(self) -> dict[str, float]:
        bands = {row["band"]: row["f1_macro"] for row in self.evaluation.bands.to_dict("records")}
        return {
            "valid_f1_macro": self.reports["valid"]["f1_macro"],
            "valid_accuracy": self.reports["valid"]["accuracy"],
            "test_f1_macro": self.reports["test"]["f1_macro"],
            "test_f1_weighted": self.reports["test"]["f1_weighted"],
            "test_accuracy": self.reports["test"]["accuracy"],
            **{f"test_f1_{band}": float(bands.get(band, math.nan)) for band in ("head", "torso", "tail")},
            "test_ece": self.evaluation.ece,
            "review_threshold": self.evaluation.threshold.reported,
            "valid_review_share": self.evaluation.threshold.review_share,
            "valid_auto_accuracy": self.evaluation.threshold.auto_accuracy,
            "test_review_share": self.evaluation.test_review_share,
            "test_error_capture": self.evaluation.test_error_capture,
            "test_auto_accuracy": self.evaluation.test_auto_accuracy,
            **self.calibration.figures,
        }


def score_candidate(
    candidate: Candidate, label_slots: LabelSlots, train_counts: Mapping[str, int], policy: ReviewPolicy
) -> Scorecard:
    """Accuracy, F1 weighted/macro, F1 by frequency band, and, on confidences temperature-scaled on valid (the
    candidate's own temperature; predictions unchanged), ECE and the review queue of `policy` (threshold from
    valid, applied to test), all from the candidate's stored rows."""
    outputs = candidate.outputs
    reports = {
        split: classification_report(outputs.labels[split], outputs.predicted(split), label_slots)
        for split in EVAL_SPLITS
    }
    calibration = fit_temperature(outputs.probabilities["valid"], outputs.labels["valid"])
    rows = calibrated_rows(outputs, calibration.temperature)
    evaluation = evaluation_report(reports, rows, dict(train_counts), policy, calibration)
    return Scorecard(candidate, reports, evaluation, calibration)


@dataclass(frozen=True)
class QualityGate:
    """Test macro F1 must reach `floor` and not fall more than `max_drop` below the serving champion's."""

    floor: float
    max_drop: float

    def judge(self, f1_macro: float, previous: Mapping[str, Any] | None) -> tuple[bool, str]:
        if f1_macro < self.floor:
            return False, f"test macro F1 {f1_macro:.4f} is below the floor {self.floor:.4f}"
        if previous is not None and f1_macro < previous["f1_macro"] - self.max_drop:
            return False, (
                f"test macro F1 {f1_macro:.4f} is more than {self.max_drop:.4f} below the serving champion "
                f"{previous['version']} ({previous['f1_macro']:.4f})"
            )
        return True, f"test macro F1 {f1_macro:.4f} passes (floor {self.floor:.4f})"


@dataclass(frozen=True)
class Verdict:
    card: Scorecard
    passed: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    """The champion, the best other passing candidate (challenger), every candidate's verdict, and why."""

    champion: Scorecard
    challenger: Scorecard | None
    verdicts: tuple[Verdict, ...]
    reason: str
    dataset_version: str
    registry_versions: Mapping[str, str] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Candidate × figures, champion first, with the gate and the role of each."""
        rows = []
        for verdict in self.verdicts:
            candidate = verdict.card.candidate
            role = (
                "champion" if verdict.card is self.champion else "challenger" if verdict.card is self.challenger else ""
            )
            rows.append(
                {
                    "candidate": candidate.name,
                    "role": role,
                    "registry_version": self.registry_versions.get(candidate.name, ""),
                    "gate": "passed" if verdict.passed else f"FAILED: {verdict.reason}",
                    **verdict.card.figures,
                }
            )
        frame = pd.DataFrame(rows)
        order = frame["role"].map({"champion": 0, "challenger": 1}).fillna(2)
        return (
            frame.assign(_order=order)
            .sort_values("_order", kind="stable")
            .drop(columns="_order")
            .reset_index(drop=True)
        )


METRIC_NAMES: dict[str, str] = {"accuracy": "accuracy", "f1_macro": "macro F1"}


def select_champion(
    cards: Sequence[Scorecard],
    gate: QualityGate,
    previous: Mapping[str, Any] | None,
    dataset_version: str,
    metric: str = "f1_macro",
) -> Decision:
    """Among candidates of `dataset_version` that pass `gate`: best valid `metric` (accuracy or f1_macro), ties to
    the cheaper kind.
    Raises NoServableCandidateError naming each candidate's failed gate when none passes."""
    verdicts = []
    for card in cards:
        candidate = card.candidate
        if candidate.dataset_version != dataset_version:
            verdicts.append(
                Verdict(
                    card,
                    False,
                    (
                        f"not comparable: trained on ledger_dataset {candidate.dataset_version}, the others on {dataset_version}"
                    ),
                )
            )
            continue
        passed, reason = gate.judge(card.figures["test_f1_macro"], previous)
        verdicts.append(Verdict(card, passed, reason))
    key = f"valid_{metric}"
    passing = sorted(
        (v.card for v in verdicts if v.passed), key=lambda c: (-c.figures[key], KIND_COST[c.candidate.kind])
    )
    if not passing:
        failures = "; ".join(f"{v.card.candidate.name}: {v.reason}" for v in verdicts) or "no candidate was given"
        raise NoServableCandidateError(
            f"no candidate passed its quality gate ({failures}). Nothing new is served; the previous champion, if any, stays. "
            "Fix: train longer or on more labelled months, or lower model_settings.min_f1_macro / raise max_f1_drop "
            "if the floor is too strict for this data"
        )
    champion, challenger = passing[0], (passing[1] if len(passing) > 1 else None)
    figures = champion.figures
    tie = [c.candidate.name for c in passing[1:] if c.figures[key] == figures[key]]
    reason = (
        f"{champion.candidate.name} serves: best valid {METRIC_NAMES[metric]} {figures[key]:.4f} among "
        f"{len(passing)} candidate(s) that passed their gates on ledger_dataset {dataset_version}"
        + (f" (tied with {', '.join(tie)}; the cheaper model wins)" if tie else "")
        + (f"; runner-up {challenger.candidate.name} at {challenger.figures[key]:.4f}" if challenger else "")
        + "".join(f"; {v.card.candidate.name} failed: {v.reason}" for v in verdicts if not v.passed)
    )
    return Decision(champion, challenger, tuple(verdicts), reason, dataset_version)
