"""`ledger_features`: the month's cleaned rows with calendar and amount features in the configured order."""

import pandas as pd
from dagster import AssetExecutionContext, DataVersion, Failure, Output, asset

from acctax_assets.defs.metadata_format import listing, mapping_table, percent
from acctax_assets.defs.partitions import explain_months, ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import FeatureConfigError
from acctax_assets.ledger.features import build_features, on_korean_holiday
from acctax_assets.ledger.fingerprints import table_version
from acctax_assets.ledger.quality import null_rates


@asset(partitions_def=ledger_months, group_name="ledger", kinds={"pandas", "parquet"})
@explain_months
def ledger_features(
    context: AssetExecutionContext, cleaned_ledger: pd.DataFrame, settings: LedgerSettings
) -> Output[pd.DataFrame]:
    """Model-ready columns; a configured feature the pipeline does not build fails the step. The data version is a
    content digest: the prediction sensor and retraining compare it with what they last consumed."""
    try:
        features = build_features(cleaned_ledger, settings.features)
    except FeatureConfigError as exc:
        raise Failure(description=str(exc)) from exc
    holiday_rate = float(on_korean_holiday(features["date"]).mean()) if len(features) else 0.0
    return Output(
        features,
        data_version=DataVersion(table_version(features)),
        metadata={
            "rows": len(features),
            "features": listing(settings.features),
            "null_rates": mapping_table(
                {f: percent(rate) for f, rate in null_rates(features, settings.features).items()}, "feature", "missing"
            ),
            "holiday_rate": percent(holiday_rate),
        },
    )
