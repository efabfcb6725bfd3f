"""The quality gate on `account_classifier`: nothing downstream uses an adapter that fails it."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from acctax_assets.ml.adapter import AdapterRef, QualityGate, last_accepted, mark_accepted
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
