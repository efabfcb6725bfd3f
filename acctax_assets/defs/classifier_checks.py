"""Checks on `account_classifier`: its quality gate and its comparison with the baseline.

Both are shown, neither decides what serves: `served_classifier` applies the same gate to every candidate
(adapter, baseline, ensemble) and promotes the best one, so re-running a check cannot change the champion and an
adapter below the floor is a failed candidate, not a failed job.
"""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetIn, asset_check

from acctax_assets.defs.artifact_io_managers import MISSING_IS_NONE
from acctax_assets.defs.metadata_format import readable
from acctax_assets.defs.ml_resources import ModelRegistryResource, ModelSettings
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import AdapterRef, compare_with_baseline
from acctax_assets.ml.candidates.baseline import BaselineRef
from acctax_assets.ml.candidates.selection import QualityGate


@asset_check(asset="account_classifier", blocking=False)
def classifier_quality_gate(
    account_classifier: AdapterRef, model_settings: ModelSettings, model_registry: ModelRegistryResource
) -> AssetCheckResult:
    """Test macro F1 ≥ min_f1_macro and not more than max_f1_drop below the serving champion (the gate
    served_classifier applies to every candidate)."""
    f1_macro = float(account_classifier.metrics()["test"]["f1_macro"])
    try:
        previous = model_registry.registry().serving_champion()
    except AcctaxError as exc:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, description=str(exc))
    passed, reason = QualityGate(model_settings.min_f1_macro, model_settings.max_f1_drop).judge(f1_macro, previous)
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=reason,
        metadata=readable(
            {
                "version": account_classifier.version,
                "test_f1_macro": f1_macro,
                "floor": model_settings.min_f1_macro,
                "max_drop": model_settings.max_f1_drop,
                "serving_champion": str(previous["version"]) if previous else "none",
                "champion_test_f1_macro": float(previous["f1_macro"]) if previous else "none",
            }
        ),
    )


NO_BASELINE = (
    "No baseline to compare with yet: baseline_classifier has never been materialized. Materialize it (training_job "
    "does, or select it beside account_classifier) and this check compares the two."
)


@asset_check(
    asset="account_classifier",
    additional_ins={"baseline_classifier": AssetIn(metadata={MISSING_IS_NONE: True})},
    blocking=False,
)
def classifier_beats_baseline(
    account_classifier: AdapterRef, baseline_classifier: BaselineRef | None
) -> AssetCheckResult:
    """Warns when the adapter's test macro F1 does not beat TF-IDF + logistic regression on the same test split.
    Before any baseline exists (account_classifier materialized without it) it warns that there is nothing to
    compare with yet: the adapter is not shown as beating a baseline it never met, and the run still succeeds."""
    adapter = account_classifier.metrics()["test"]
    if baseline_classifier is None:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description=NO_BASELINE,
            metadata={
                "adapter_version": account_classifier.version,
                "baseline_version": "none",
                "adapter_test_f1_macro": adapter["f1_macro"],
                "adapter_test_accuracy": adapter["accuracy"],
            },
        )
    baseline = baseline_classifier.metrics()
    verdict = compare_with_baseline(adapter, baseline, account_classifier.ledger_dataset_version)
    return AssetCheckResult(
        passed=verdict.passed,
        severity=AssetCheckSeverity.WARN,
        description=verdict.reason,
        metadata=readable(
            {
                "adapter_version": account_classifier.version,
                "baseline_version": baseline_classifier.version,
                "adapter_test_f1_macro": adapter["f1_macro"],
                "baseline_test_f1_macro": baseline["test"]["f1_macro"],
                "adapter_test_accuracy": adapter["accuracy"],
                "baseline_test_accuracy": baseline["test"]["accuracy"],
            }
        ),
    )
