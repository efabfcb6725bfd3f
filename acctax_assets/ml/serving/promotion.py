"""Promotion (no Dagster): which candidate serves, decided once and recorded in the MLflow model registry.

Every candidate of the current ledger_dataset version is scored alike from its stored valid/test rows, the
champion is the best on valid among those that pass the quality gate (ties to the cheaper model,
`candidates.selection`), each comparable candidate becomes a registry version and the `champion`/`challenger`
aliases follow the decision, which `ledger_predictions` resolves when it runs (so moving the alias back is a
rollback). The report (comparison, decision, the champion's review trade-off, three plots) is what people read
beside the registry. `defs/served_classifier.py` wires this into the graph and turns it into metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from acctax_assets.ml.candidates.selection import (
    Candidate,
    Decision,
    Kind,
    QualityGate,
    Scorecard,
    score_candidate,
    select_champion,
)
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.confidence import ReviewPolicy
from acctax_assets.ml.evaluation.outputs import CandidateFolder
from acctax_assets.ml.evaluation.reports import confusion_matrix_png, reliability_png, tradeoff_png
from acctax_assets.ml.serving.model_registry import CHALLENGER, CHAMPION, ModelRegistry
from acctax_assets.ml.serving.served_model import ServingSettings

COMPARISON_FILE = "comparison.csv"
CONFUSION_PLOT = "confusion_matrix_test.png"
RELIABILITY_PLOT = "reliability_test.png"
DECISION_FILE = "decision.json"
TRADEOFF_FILE = "review_tradeoff.csv"
TRADEOFF_PLOT = "review_tradeoff.png"
# The name of the decision's dataset version in decision.json (the metadata key of the same figure).
DATASET_VERSION_KEY = "ledger_dataset_version"
CALIBRATION_COLUMNS: tuple[str, ...] = (
    "temperature",
    "valid_nll_uncalibrated",
    "valid_nll",
    "valid_ece_uncalibrated",
    "valid_ece",
)


def candidates(folders: Mapping[Kind, CandidateFolder]) -> list[Candidate]:
    """Each stored candidate folder with its per-row outputs, in the order given (the comparison's order)."""
    return [
        Candidate(kind, folder.version, folder.path, folder.ledger_dataset_version, folder.eval_outputs())
        for kind, folder in folders.items()
    ]


def choose_champion(
    folders: Mapping[Kind, CandidateFolder],
    label_slots: LabelSlots,
    train_labels: np.ndarray,
    policy: ReviewPolicy,
    gate: QualityGate,
    registry: ModelRegistry,
    dataset_version: str,
    metric: str,
) -> tuple[Decision, list[Scorecard]]:
    """Every candidate scored (band figures from the train split's class counts, the review queue of `policy`) and
    the champion among those of `dataset_version`, gated against the champion `registry` serves now."""
    counts = np.bincount(train_labels, minlength=label_slots.used)
    train_counts = {label_slots.codes[i]: int(n) for i, n in enumerate(counts) if n}
    cards = [score_candidate(c, label_slots, train_counts, policy) for c in candidates(folders)]
    return select_champion(cards, gate, registry.serving_champion(), dataset_version, metric), cards


def register(
    registry: ModelRegistry, decision: Decision, run_id: str | None, serving: ServingSettings | None = None
) -> Decision:
    """Every comparable candidate becomes a registry version (an MLflow model served with `serving`);
    champion/challenger aliases follow the decision."""
    versions = {
        verdict.card.candidate.name: registry.register(
            verdict.card.candidate.kind,
            verdict.card.candidate.version,
            verdict.card.candidate.path,
            verdict.card.candidate.dataset_version,
            verdict.card.figures,
            run_id,
            serving,
        )
        for verdict in decision.verdicts
        if verdict.card.candidate.dataset_version == decision.dataset_version
    }
    registry.set_alias(CHAMPION, versions[decision.champion.candidate.name])
    registry.set_alias(CHALLENGER, versions[decision.challenger.candidate.name] if decision.challenger else None)
    return replace(decision, registry_versions=versions)


def write_report(folder: Path, decision: Decision, cards: Sequence[Scorecard], max_share: float) -> None:
    """Comparison table, decision, the champion's review trade-off and the three plots, as one atomic version
    (also logged to MLflow)."""
    decision.table().to_csv(folder / COMPARISON_FILE, index=False)
    champion = decision.champion
    (folder / DECISION_FILE).write_text(
        json.dumps(
            {
                "champion": champion.candidate.name,
                "registry_version": decision.registry_versions[champion.candidate.name],
                "challenger": decision.challenger.candidate.name if decision.challenger else None,
                "reason": decision.reason,
                DATASET_VERSION_KEY: decision.dataset_version,
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    confusion_matrix_png(champion.reports["test"], folder / CONFUSION_PLOT)
    reliability_png({card.candidate.name: card.evaluation.reliability for card in cards}, folder / RELIABILITY_PLOT)
    champion.evaluation.tradeoff.to_csv(folder / TRADEOFF_FILE, index=False)
    tradeoff_png(champion.evaluation.tradeoff, champion.evaluation.threshold, max_share, folder / TRADEOFF_PLOT)


def calibration_table(cards: Sequence[Scorecard]) -> pd.DataFrame:
    """Temperature and valid NLL/ECE before and after calibration, per candidate."""
    rows = [{"candidate": card.candidate.name, **{k: card.figures[k] for k in CALIBRATION_COLUMNS}} for card in cards]
    return pd.DataFrame(rows)


def run_metrics(cards: Sequence[Scorecard]) -> dict[str, float]:
    """Every candidate's finite figures as MLflow metrics of the promotion run (`<kind>_<figure>`)."""
    return {
        f"{card.candidate.kind}_{key}": value
        for card in cards
        for key, value in card.figures.items()
        if np.isfinite(value)
    }


def run_tags(decision: Decision) -> dict[str, str]:
    """The champion and its registry version, as tags of the promotion run."""
    champion = decision.champion.candidate.name
    return {"acctax.champion": champion, "acctax.champion_registry_version": decision.registry_versions[champion]}
