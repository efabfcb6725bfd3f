"""`ledger_features`: the month's cleaned rows with calendar and amount features in the configured order."""

import pandas as pd
from dagster import AssetExecutionContext, Failure, Output, asset

from acctax_assets.errors import FeatureConfigError
from acctax_assets.ledger.features import build_features, korean_holidays
from acctax_assets.defs.partitions import ledger_months
from acctax_assets.defs.resources import LedgerSettings


@asset(partitions_def=ledger_months, group_name="ledger", kinds={"pandas", "parquet"})
def ledger_features(context: AssetExecutionContext, cleaned_ledger: pd.DataFrame, settings: LedgerSettings) -> Output[pd.DataFrame]:
    """Model-ready columns; a configured feature the pipeline does not build fails the step."""
    try:
        features = build_features(cleaned_ledger, settings.features)
    except FeatureConfigError as exc:
        raise Failure(description=str(exc)) from exc
    null_rates = {f: round(float(features[f].isna().mean()), 4) if len(features) else 0.0 for f in settings.features}
    on_holiday = features["date"].dt.normalize().isin(korean_holidays(features["date"]))
    holiday_rate = float(on_holiday.mean()) if len(features) else 0.0
    return Output(
        features,
        metadata={
            "rows": len(features),
            "features": list(settings.features),
            "null_rates": null_rates,
            "holiday_rate": round(holiday_rate, 4),
        },
    )
