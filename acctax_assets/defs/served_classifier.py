"""`served_classifier`: the promotion step. Scores every candidate of the current ledger_dataset version alike,
picks the champion (best valid macro F1 among those that pass the quality gate, ties to the cheaper model),
registers each candidate in the MLflow Model Registry and moves the `champion`/`challenger` aliases.

What serves is decided here and only here, and recorded where people look: this asset's metadata (comparison
table, confusion matrix, reliability plot and the review trade-off inline) and the registry aliases, which
`ledger_predictions` resolves when it runs (so moving the alias back is a rollback).

Every candidate's confidences are temperature-scaled on its valid rows before its review queue is measured; the
temperature is a registry figure, so the served model applies the same one. The review trade-off of the champion
(review share -> accuracy of the rest, errors caught, threshold; on valid and test) is the office's menu for
`model_settings.review_target_accuracy` / `review_max_share` / `review_share`, and a target that needs more
review than `review_max_share` is a WARNING here, with the share it needs and what the alternatives give.
"""

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, ResourceParam, asset

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.defs.metadata_format import LEDGER_DATASET_VERSION, frame_table, inline_image, score
from acctax_assets.defs.ml_resources import ModelRegistryResource, ModelSettings, dagster_run_in_mlflow
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.candidates.baseline import BaselineRef
from acctax_assets.ml.candidates.ensemble import EnsembleRef
from acctax_assets.ml.candidates.precedent import PrecedentRef
from acctax_assets.ml.candidates.selection import (
    Candidate,
    Decision,
    QualityGate,
    Scorecard,
    score_candidate,
    select_champion,
)
from acctax_assets.ml.evaluation.reports import confused_pairs, confusion_matrix_png, reliability_png, tradeoff_png
from acctax_assets.ml.serving.model_registry import CHALLENGER, CHAMPION, ModelRegistry
from acctax_assets.ml.serving.served_model import ServingSettings
from acctax_assets.versioned_dirs import VersionedDirs

COMPARISON_FILE = "comparison.csv"
CONFUSION_PLOT = "confusion_matrix_test.png"
RELIABILITY_PLOT = "reliability_test.png"
DECISION_FILE = "decision.json"
TRADEOFF_FILE = "review_tradeoff.csv"
TRADEOFF_PLOT = "review_tradeoff.png"
# The trade-off's shares of rows, shown as percentages.
TRADEOFF_SHARES: tuple[str, ...] = (
    "review_share",
    "valid_auto_accuracy",
    "valid_errors_caught",
    "test_review_share",
    "test_auto_accuracy",
    "test_errors_caught",
)
CALIBRATION_COLUMNS: tuple[str, ...] = (
    "temperature",
    "valid_nll_uncalibrated",
    "valid_nll",
    "valid_ece_uncalibrated",
    "valid_ece",
)


def candidates(
    adapter: AdapterRef, baseline: BaselineRef, precedent: PrecedentRef, ensemble: EnsembleRef
) -> list[Candidate]:
    return [
        Candidate(
            "adapter",
            adapter.version,
            adapter.path,
            str(adapter.text_spec().ledger_dataset_version),
            adapter.eval_outputs(),
        ),
        Candidate(
            "baseline",
            baseline.version,
            baseline.path,
            str(baseline.metrics()["dataset_version"]),
            baseline.eval_outputs(),
        ),
        Candidate(
            "precedent",
            precedent.version,
            precedent.path,
            str(precedent.metrics()["dataset_version"]),
            precedent.eval_outputs(),
        ),
        Candidate(
            "ensemble", ensemble.version, ensemble.path, ensemble.spec().dataset_version, ensemble.eval_outputs()
        ),
    ]


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


def write_report(folder: Path, decision: Decision, cards: list[Scorecard], max_share: float) -> None:
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
                LEDGER_DATASET_VERSION: decision.dataset_version,
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


def _calibration_table(cards: list[Scorecard]) -> pd.DataFrame:
    """Temperature and valid NLL/ECE before and after calibration, per candidate."""
    rows = [{"candidate": card.candidate.name, **{k: card.figures[k] for k in CALIBRATION_COLUMNS}} for card in cards]
    return pd.DataFrame(rows)


@asset(group_name="ml", kinds={"mlflow"})
def served_classifier(
    context: AssetExecutionContext,
    ledger_dataset: SavedDataset,
    account_classifier: AdapterRef,
    baseline_classifier: BaselineRef,
    precedent_classifier: PrecedentRef,
    ensemble_classifier: EnsembleRef,
    model_settings: ModelSettings,
    model_registry: ModelRegistryResource,
    settings: LedgerSettings,
    mlflow: ResourceParam[Any],
) -> MaterializeResult:
    """The champion among adapter, baseline and ensemble, chosen on valid, gated on test, recorded in MLflow."""
    registry = model_registry.registry()
    policy = model_settings.review_policy()
    labels = ledger_dataset.registry()
    train_labels = np.asarray(ledger_dataset.load()["train"]["label"])
    train_counts = {
        labels.codes[i]: int(n) for i, n in enumerate(np.bincount(train_labels, minlength=labels.used)) if n
    }
    try:
        cards = [
            score_candidate(c, labels, train_counts, policy)
            for c in candidates(account_classifier, baseline_classifier, precedent_classifier, ensemble_classifier)
        ]
        gate = QualityGate(model_settings.min_f1_macro, model_settings.max_f1_drop)
        decision = select_champion(
            cards, gate, registry.serving_champion(), ledger_dataset.path.name, model_settings.selection_metric
        )
        run = dagster_run_in_mlflow(mlflow, context.run.run_id)
        serving = ServingSettings(
            settings.acctax_home.root,
            tuple(settings.features),
            settings.max_abs_amount,
            settings.amount_tolerance,
            policy,
        )
        decision = register(registry, decision, run.info.run_id, serving)
    except AcctaxError as exc:
        raise Failure(description=f"served_classifier: {exc}") from exc
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{context.run.run_id[:8]}"
    folder = VersionedDirs(settings.acctax_home.storage / "served_classifier").publish(
        version, lambda target: write_report(target, decision, cards, policy.max_share)
    )
    for card in cards:
        mlflow.log_metrics(
            {f"{card.candidate.kind}_{key}": value for key, value in card.figures.items() if np.isfinite(value)}
        )
    mlflow.log_artifacts(str(folder), artifact_path="served_classifier")
    champion = decision.champion
    champion_version = decision.registry_versions[champion.candidate.name]
    mlflow.set_tags({"acctax.champion": champion.candidate.name, "acctax.champion_registry_version": champion_version})
    mlflow.end_run()
    context.log.info(decision.reason)
    threshold = champion.evaluation.threshold
    context.log.info(f"Review queue ({policy.describe()}): {threshold.describe()}")
    if threshold.warning:
        context.log.warning(f"{champion.candidate.name}: {threshold.warning}")
    figures = champion.figures

    def plot(file: str, title: str) -> MetadataValue:
        return inline_image(context.instance, folder / file, title, "served_classifier", version, Path(file).stem)

    return MaterializeResult(
        metadata={
            "champion": champion.candidate.name,
            "champion_kind": champion.candidate.kind,
            "registry_model": registry.name,
            "registry_version": champion_version,
            "challenger": decision.challenger.candidate.name if decision.challenger else "none",
            "reason": decision.reason,
            "comparison": frame_table(decision.table()),
            "confusion_matrix_test": plot(CONFUSION_PLOT, f"most confused codes of {champion.candidate.name} on test"),
            "confused_codes_test": frame_table(
                confused_pairs(champion.reports["test"]), percent_columns=["share_of_true_code"]
            ),
            "reliability_test": plot(RELIABILITY_PLOT, "reliability of every candidate on test"),
            "review_operating_point": policy.describe(),
            "review_rule": threshold.describe(),
            "review_warning": threshold.warning or "none: the operating point is within review_max_share",
            "review_tradeoff": frame_table(champion.evaluation.tradeoff, percent_columns=TRADEOFF_SHARES),
            "review_tradeoff_plot": plot(TRADEOFF_PLOT, f"review trade-off of {champion.candidate.name}"),
            "calibration": frame_table(_calibration_table(cards)),
            **{
                key: score(figures[key])
                for key in (
                    "valid_f1_macro",
                    "test_f1_macro",
                    "test_accuracy",
                    "review_threshold",
                    "valid_review_share",
                    "valid_auto_accuracy",
                    "test_review_share",
                    "test_error_capture",
                    "test_auto_accuracy",
                    *CALIBRATION_COLUMNS,
                )
            },
            LEDGER_DATASET_VERSION: decision.dataset_version,
            "path": MetadataValue.path(str(folder)),
            "rollback": f"acctax champion --set <registry version> (versions: acctax champion); or move alias {CHAMPION!r} in the MLflow UI",
        }
    )
