"""Data-quality rules as pure functions: frames in, a verdict with evidence out. The Dagster asset checks
are thin wrappers, so each rule is tested on a five-row frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from acctax_assets.ledger.account_codes import Chart
from acctax_assets.ledger.cleaning import EXPECTED_REJECTS, REJECT_REASON
from acctax_assets.ledger.parsing import TEXT
from acctax_assets.ledger.schema import (
    AMOUNT_COLUMNS,
    LABEL_COLUMN,
    SOURCE_FILE,
    SOURCE_LABELLED,
    missing_required,
    required_name,
)

Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    severity: Severity = "ERROR"
    metadata: dict[str, Any] = field(default_factory=dict)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def required_columns(frame: pd.DataFrame, required: Sequence[Sequence[Sequence[str]]]) -> Verdict:
    """Each entry of `required` names alternatives of which one must be wholly among the columns
    (`supply_amount|total_amount|debit_amount+credit_amount`: a debit column alone is not an amount)."""
    missing = [required_name(group) for group in missing_required(frame.columns, required)]
    return Verdict(passed=not missing, metadata={"missing": missing, "required": [required_name(g) for g in required]})


EXPECTED_CLEANED_DTYPES: dict[str, str] = {
    "date": "datetime64[ns]",
    "supply_amount": "int64",
    "vat_amount": "int64",
    "total_amount": "int64",
    "acct_code": "string",
    "party_name": "string",
    "item": "string",
}


def cleaned_dtypes(cleaned: pd.DataFrame) -> Verdict:
    """Dates as datetimes, KRW as integers, codes and text as strings: the contract downstream relies on."""
    wrong = {
        column: str(cleaned[column].dtype) if column in cleaned.columns else "missing"
        for column, expected in EXPECTED_CLEANED_DTYPES.items()
        if column not in cleaned.columns or str(cleaned[column].dtype) != expected
    }
    return Verdict(passed=not wrong, metadata={"wrong_dtypes": wrong, "expected": EXPECTED_CLEANED_DTYPES})


def dates_inside_month(frame: pd.DataFrame, month: str) -> Verdict:
    period = pd.Period(month, freq="M")
    outside = frame["date"].isna() | (frame["date"].dt.to_period("M") != period)
    return Verdict(passed=not outside.any(), metadata={"rows_outside": int(outside.sum()), "month": str(period)})


def row_accounting(raw_rows: int, cleaned_rows: int, rejected_rows: int) -> Verdict:
    """Every raw row is either cleaned or rejected: nothing lost, nothing invented."""
    difference = raw_rows - cleaned_rows - rejected_rows
    return Verdict(
        passed=difference == 0,
        metadata={"raw": raw_rows, "cleaned": cleaned_rows, "rejected": rejected_rows, "unaccounted": difference},
    )


def rejected_share(raw_rows: int, rejected: pd.DataFrame, warn_above: float, error_above: float) -> Verdict:
    """Share of rows that failed validation. Expected rejects (totals lines, duplicates: see EXPECTED_REJECTS)
    are reported in `by_reason` but not counted; duplicates have `duplicate_rate` of their own."""
    by_reason = rejected[REJECT_REASON].value_counts().to_dict() if len(rejected) else {}
    share = _share(len(rejected) - sum(by_reason.get(reason, 0) for reason in EXPECTED_REJECTS), raw_rows)
    metadata = {"rejected_share": round(share, 4), "by_reason": {str(k): int(v) for k, v in by_reason.items()}}
    if share > error_above:
        return Verdict(passed=False, severity="ERROR", metadata=metadata)
    return Verdict(passed=share <= warn_above, severity="WARN", metadata=metadata)


def duplicate_rate(raw_rows: int, rejected: pd.DataFrame, max_share: float) -> Verdict:
    duplicates = int((rejected[REJECT_REASON] == "duplicate").sum()) if len(rejected) else 0
    share = _share(duplicates, raw_rows)
    return Verdict(
        passed=share <= max_share,
        severity="WARN",
        metadata={"duplicates": duplicates, "duplicate_share": round(share, 4)},
    )


def label_format(cleaned: pd.DataFrame, chart: Chart) -> Verdict:
    """Rows of labelled files carry an account code of the chart's length; unlabelled files are exempt."""
    labelled = cleaned[SOURCE_LABELLED].astype(bool)
    bad = labelled & chart.wrong_length(cleaned[LABEL_COLUMN].astype(TEXT).where(labelled))
    return Verdict(
        passed=not bad.any(),
        metadata={
            "labelled_rows": int(labelled.sum()),
            "bad_labels": int(bad.sum()),
            "classes": int(cleaned.loc[labelled, LABEL_COLUMN].nunique()),
        },
    )


def amount_consistency(cleaned: pd.DataFrame, tolerance: int, max_abs_amount: int) -> Verdict:
    """supply + VAT = total within tolerance and no amount beyond the outlier bound."""
    supply, vat, total = (cleaned[c].astype("int64") for c in AMOUNT_COLUMNS)
    mismatched = (supply + vat - total).abs() > tolerance
    outliers = pd.concat([cleaned[c].abs() > max_abs_amount for c in AMOUNT_COLUMNS], axis=1).any(axis=1)
    return Verdict(
        passed=not (mismatched.any() or outliers.any()),
        metadata={
            "mismatched_rows": int(mismatched.sum()),
            "outlier_rows": int(outliers.sum()),
            "tolerance_krw": tolerance,
        },
    )


def null_rates(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    """Share of missing values per column (0 for an empty frame), rounded for metadata."""
    return {c: round(float(frame[c].isna().mean()), 4) if len(frame) else 0.0 for c in columns}


def feature_null_rates(features: pd.DataFrame, key_features: Sequence[str], max_null_rate: float) -> Verdict:
    """Warns when a key feature is missing on more than `max_null_rate` of the lines of files that do carry it.

    A column a file does not have (most exports lack 증빙 or 부가세유형, many 품명) is not a data problem: it is
    listed per file in `absent_in_files`, and raw_ledger names a descriptive column a file leaves empty. What
    warns is a column that is filled on some lines of a file and missing on others, the sign of a broken export.
    """
    present = [f for f in key_features if f in features.columns]
    rates = null_rates(features, present)
    by_file = features[SOURCE_FILE] if SOURCE_FILE in features.columns else pd.Series("", index=features.index)
    partial, absent = {}, {}
    for feature in present:
        missing = features[feature].isna()
        file_has_it = (~missing).groupby(by_file, sort=False).transform("any")
        partial[feature] = round(float((missing & file_has_it).mean()), 4) if len(features) else 0.0
        files = sorted(set(by_file[~file_has_it]))
        if files:
            absent[feature] = files
    too_high = {f: r for f, r in partial.items() if r > max_null_rate}
    return Verdict(
        passed=not too_high,
        severity="WARN",
        metadata={
            "null_rates": rates,
            "missing_where_present": partial,
            "above_limit": too_high,
            "absent_in_files": absent,
            "limit": max_null_rate,
        },
    )


def feature_columns(features: pd.DataFrame, configured: Sequence[str]) -> Verdict:
    """The stored table carries exactly the configured features, in the configured order."""
    present = [c for c in features.columns if c in set(configured)]
    missing = [c for c in configured if c not in features.columns]
    in_order = [c for c in configured if c in present] == present
    return Verdict(passed=not missing and in_order, metadata={"missing": missing, "order_ok": in_order})
