"""Checks on `account_classifier`: the blocking quality gate (nothing downstream uses an adapter that fails
it) and the comparison with the baseline (a warning: a LoRA model that loses to TF-IDF is not worth its cost)."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetIn, asset_check

from acctax_assets.ml.adapter import AdapterRef, QualityGate, compare_with_baseline, last_accepted, mark_accepted
from acctax_assets.ml.baseline import BaselineRef
from acctax_assets.defs.ml_resources import ModelSettings


@asset_check(asset="account_classifier", blocking=True)
def classifier_quality_gate(account_classifier: AdapterRef, model_settings: ModelSettings) -> AssetCheckResult:
    """Test macro F1 ≥ min_f1_macro and not more than max_f1_drop below the last accepted adapter."""
    f1_macro = float(account_classifier.metrics()["test"]["f1_macro"])
    previous = last_accepted(account_classifier.path.parent)
    passed, reason = QualityGate(model_settings.min_f1_macro, model_settings.max_f1_drop).judge(f1_macro, previous)
    if passed:
        mark_accepted(account_classifier, f1_macro)
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=reason,
        metadata={
            "version": account_classifier.version,
            "test_f1_macro": f1_macro,
            "floor": model_settings.min_f1_macro,
            "max_drop": model_settings.max_f1_drop,
            "previous_accepted": previous["version"] if previous else "none",
            "previous_f1_macro": previous["f1_macro"] if previous else 0.0,
        },
    )


@asset_check(asset="account_classifier", additional_ins={"baseline_classifier": AssetIn()}, blocking=False)
def classifier_beats_baseline(account_classifier: AdapterRef, baseline_classifier: BaselineRef) -> AssetCheckResult:
    """Warns when the adapter's test macro F1 does not beat TF-IDF + logistic regression on the same test split."""
    adapter, baseline = account_classifier.metrics()["test"], baseline_classifier.metrics()
    verdict = compare_with_baseline(adapter, baseline, account_classifier.text_spec().ledger_dataset_version)
    return AssetCheckResult(
        passed=verdict.passed,
        severity=AssetCheckSeverity.WARN,
        description=verdict.reason,
        metadata={
            "adapter_version": account_classifier.version,
            "baseline_version": baseline_classifier.version,
            "adapter_test_f1_macro": adapter["f1_macro"],
            "baseline_test_f1_macro": baseline["test"]["f1_macro"],
            "adapter_test_accuracy": adapter["accuracy"],
            "baseline_test_accuracy": baseline["test"]["accuracy"],
        },
    )
