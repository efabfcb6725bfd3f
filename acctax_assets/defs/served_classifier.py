"""`served_classifier`: the promotion step as an asset. What serves is decided in `ml/serving/promotion.py` and only
there; this asset resolves the candidates and settings, calls it, publishes its report and records the decision where
people look: this asset's metadata (comparison table, confusion matrix, reliability plot and the review trade-off
inline) and the MLflow registry aliases, which `ledger_predictions` resolves when it runs.

Every candidate's confidences are temperature-scaled on its valid rows before its review queue is measured; the
temperature is a registry figure, so the served model applies the same one. The review trade-off of the champion
(review share -> accuracy of the rest, errors caught, threshold; on valid and test) is the office's menu for
`model_settings.review_target_accuracy` / `review_max_share` / `review_share`, and a target that needs more
review than `review_max_share` is a WARNING here, with the share it needs and what the alternatives give.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
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
from acctax_assets.ml.candidates.selection import Kind, QualityGate
from acctax_assets.ml.evaluation.outputs import CandidateFolder
from acctax_assets.ml.evaluation.reports import confused_pairs
from acctax_assets.ml.serving.model_registry import CHAMPION
from acctax_assets.ml.serving.promotion import (
    CALIBRATION_COLUMNS,
    CONFUSION_PLOT,
    RELIABILITY_PLOT,
    TRADEOFF_PLOT,
    calibration_table,
    choose_champion,
    register,
    run_metrics,
    run_tags,
    write_report,
)
from acctax_assets.ml.serving.served_model import ServingSettings
from acctax_assets.versioned_dirs import VersionedDirs

# The trade-off's shares of rows, shown as percentages.
TRADEOFF_SHARES: tuple[str, ...] = (
    "review_share",
    "valid_auto_accuracy",
    "valid_errors_caught",
    "test_review_share",
    "test_auto_accuracy",
    "test_errors_caught",
)


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
    folders: dict[Kind, CandidateFolder] = {
        "adapter": account_classifier,
        "baseline": baseline_classifier,
        "precedent": precedent_classifier,
        "ensemble": ensemble_classifier,
    }
    label_slots, train_labels = ledger_dataset.label_slots(), np.asarray(ledger_dataset.load()["train"]["label"])
    try:
        decision, cards = choose_champion(
            folders,
            label_slots,
            train_labels,
            policy,
            QualityGate(model_settings.min_f1_macro, model_settings.max_f1_drop),
            registry,
            ledger_dataset.path.name,
            model_settings.selection_metric,
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
    mlflow.log_metrics(run_metrics(cards))
    mlflow.log_artifacts(str(folder), artifact_path="served_classifier")
    mlflow.set_tags(run_tags(decision))
    mlflow.end_run()
    champion = decision.champion
    champion_version = decision.registry_versions[champion.candidate.name]
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
            "calibration": frame_table(calibration_table(cards)),
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
