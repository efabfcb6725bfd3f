"""Per-month asset checks on the data layer; blocking ones stop bad data before it reaches features/training."""

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetIn, asset_check

from acctax_assets.defs.metadata_format import readable
from acctax_assets.defs.partitions import ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger import quality
from acctax_assets.ledger.features import KEY_FEATURES
from acctax_assets.ledger.schema import REQUIRED_COLUMNS


def as_result(verdict: quality.Verdict) -> AssetCheckResult:
    return AssetCheckResult(
        passed=verdict.passed,
        severity=AssetCheckSeverity.WARN if verdict.severity == "WARN" else AssetCheckSeverity.ERROR,
        metadata=readable(verdict.metadata),
    )


@asset_check(asset="raw_ledger", partitions_def=ledger_months, blocking=True)
def raw_required_columns(raw_ledger: pd.DataFrame) -> AssetCheckResult:
    """The raw month has every required canonical column (a date, an amount, a text column: see REQUIRED_COLUMNS)."""
    return as_result(quality.required_columns(raw_ledger, REQUIRED_COLUMNS))


@asset_check(asset="cleaned_ledger", partitions_def=ledger_months, blocking=True)
def cleaned_schema(cleaned_ledger: pd.DataFrame) -> AssetCheckResult:
    """Dates are datetimes, amounts integer KRW, codes and text strings."""
    return as_result(quality.cleaned_dtypes(cleaned_ledger))


@asset_check(asset="cleaned_ledger", partitions_def=ledger_months, blocking=True)
def dates_in_partition(context: AssetCheckExecutionContext, cleaned_ledger: pd.DataFrame) -> AssetCheckResult:
    """Every cleaned row is dated inside the partition's month."""
    return as_result(quality.dates_inside_month(cleaned_ledger, context.partition_key))


@asset_check(
    asset="cleaned_ledger",
    partitions_def=ledger_months,
    blocking=True,
    additional_ins={"raw_ledger": AssetIn(), "rejected_ledger_rows": AssetIn()},
)
def row_accounting(
    cleaned_ledger: pd.DataFrame, raw_ledger: pd.DataFrame, rejected_ledger_rows: pd.DataFrame
) -> AssetCheckResult:
    """raw rows = cleaned rows + rejected rows: nothing lost, nothing invented."""
    return as_result(quality.row_accounting(len(raw_ledger), len(cleaned_ledger), len(rejected_ledger_rows)))


@asset_check(
    asset="cleaned_ledger",
    partitions_def=ledger_months,
    blocking=True,
    additional_ins={"raw_ledger": AssetIn(), "rejected_ledger_rows": AssetIn()},
)
def rejected_share(
    cleaned_ledger: pd.DataFrame, raw_ledger: pd.DataFrame, rejected_ledger_rows: pd.DataFrame, settings: LedgerSettings
) -> AssetCheckResult:
    """Invalid (non-duplicate) rows: warns above reject_warn_share, blocks above reject_error_share (a broken export)."""
    return as_result(
        quality.rejected_share(
            len(raw_ledger), rejected_ledger_rows, settings.reject_warn_share, settings.reject_error_share
        )
    )


@asset_check(
    asset="cleaned_ledger",
    partitions_def=ledger_months,
    additional_ins={"raw_ledger": AssetIn(), "rejected_ledger_rows": AssetIn()},
)
def duplicate_rate(
    cleaned_ledger: pd.DataFrame, raw_ledger: pd.DataFrame, rejected_ledger_rows: pd.DataFrame, settings: LedgerSettings
) -> AssetCheckResult:
    """Warns when many rows were duplicates (a file dropped twice, an export run twice)."""
    return as_result(quality.duplicate_rate(len(raw_ledger), rejected_ledger_rows, settings.max_duplicate_share))


@asset_check(asset="cleaned_ledger", partitions_def=ledger_months, blocking=True)
def label_format(cleaned_ledger: pd.DataFrame, settings: LedgerSettings) -> AssetCheckResult:
    """Labelled rows carry an account code of the office's chart (`chart.code_digits` in the column map)."""
    return as_result(quality.label_format(cleaned_ledger, settings.column_map().chart))


@asset_check(asset="cleaned_ledger", partitions_def=ledger_months, blocking=True)
def amount_consistency(cleaned_ledger: pd.DataFrame, settings: LedgerSettings) -> AssetCheckResult:
    """supply + VAT = total within tolerance, and no outlier amounts."""
    return as_result(quality.amount_consistency(cleaned_ledger, settings.amount_tolerance, settings.max_abs_amount))


@asset_check(asset="ledger_features", partitions_def=ledger_months)
def feature_null_rates(ledger_features: pd.DataFrame, settings: LedgerSettings) -> AssetCheckResult:
    """Warns when a key feature (party, item, evidence, VAT type, amount) is often missing."""
    return as_result(quality.feature_null_rates(ledger_features, KEY_FEATURES, settings.max_feature_null_rate))


@asset_check(asset="ledger_features", partitions_def=ledger_months, blocking=True)
def feature_columns(ledger_features: pd.DataFrame, settings: LedgerSettings) -> AssetCheckResult:
    """The stored table carries exactly the configured features in order."""
    return as_result(quality.feature_columns(ledger_features, settings.features))


ledger_checks = [
    raw_required_columns,
    cleaned_schema,
    dates_in_partition,
    row_accounting,
    rejected_share,
    duplicate_rate,
    label_format,
    amount_consistency,
    feature_null_rates,
    feature_columns,
]
