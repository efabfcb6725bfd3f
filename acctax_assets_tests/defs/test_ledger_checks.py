"""Each data-quality check passes on good data and fails on bad data (called directly, as Dagster runs them)."""

import pandas as pd
import pytest
from dagster import AssetCheckSeverity
from pydantic import ValidationError

from acctax_assets.defs import ledger_checks as checks
from acctax_assets.defs.metadata_format import as_mapping
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger import quality
from acctax_assets.ledger.features import DEFAULT_FEATURES
from acctax_assets.ledger.schema import REQUIRED_COLUMNS

SETTINGS = LedgerSettings()


def cleaned(rows: int = 4, **columns: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-10"] * rows),
            "supply_amount": pd.Series([1000] * rows, dtype="int64"),
            "vat_amount": pd.Series([100] * rows, dtype="int64"),
            "total_amount": pd.Series([1100] * rows, dtype="int64"),
            "acct_code": pd.array(["81100"] * rows, dtype="string"),
            "party_name": pd.array(["p"] * rows, dtype="string"),
            "item": pd.array(["i"] * rows, dtype="string"),
            "source_labelled": [True] * rows,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def rejected(reasons: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"reject_reason": reasons})


def test_raw_required_columns_accept_any_of_the_alternatives() -> None:
    good = pd.DataFrame({c: ["x"] for c in ("date", "total_amount", "desc")})
    assert checks.raw_required_columns(good).passed
    every = {c: ["x"] for group in REQUIRED_COLUMNS for alternative in group for c in alternative}
    assert checks.raw_required_columns(pd.DataFrame(every)).passed
    result = checks.raw_required_columns(good.drop(columns=["desc"]))
    assert not result.passed and result.metadata["missing"].value == ["party_name|desc|item"]
    result = checks.raw_required_columns(good.drop(columns=["date", "total_amount"]))
    assert result.metadata["missing"].value == ["date", "supply_amount|total_amount|debit_amount+credit_amount"]
    sides = good.drop(columns=["total_amount"]).assign(debit_amount="x", credit_amount="x")
    assert checks.raw_required_columns(sides).passed
    result = checks.raw_required_columns(sides.drop(columns=["credit_amount"]))
    assert result.metadata["missing"].value == ["supply_amount|total_amount|debit_amount+credit_amount"]


def test_cleaned_schema() -> None:
    assert checks.cleaned_schema(cleaned()).passed
    bad = cleaned(supply_amount=[1000.0] * 4)
    result = checks.cleaned_schema(bad)
    assert not result.passed and as_mapping(result.metadata["wrong_dtypes"]) == {"supply_amount": "float64"}


def test_dates_in_partition() -> None:
    assert quality.dates_inside_month(cleaned(), "2024-01-01").passed
    outside = cleaned(date=pd.to_datetime(["2024-01-10", "2024-02-01", "2024-01-31", None]))
    verdict = quality.dates_inside_month(outside, "2024-01-01")
    assert not verdict.passed and verdict.metadata["rows_outside"] == 2


def test_row_accounting() -> None:
    assert checks.row_accounting(
        cleaned(4), pd.DataFrame(index=range(6)), rejected(["duplicate", "invalid_date"])
    ).passed
    result = checks.row_accounting(cleaned(4), pd.DataFrame(index=range(7)), rejected(["duplicate", "invalid_date"]))
    assert not result.passed and result.metadata["unaccounted"].value == 1


def test_rejected_share_passes_warns_and_blocks() -> None:
    raw = pd.DataFrame(index=range(100))
    assert checks.rejected_share(cleaned(), raw, rejected(["invalid_date"] * 2), SETTINGS).passed
    assert checks.rejected_share(cleaned(), raw, rejected(["duplicate"] * 50), SETTINGS).passed
    totals = checks.rejected_share(cleaned(), raw, rejected(["summary_row"] * 30 + ["invalid_date"]), SETTINGS)
    assert totals.passed, "totals lines are expected in real exports, not invalid rows"
    assert as_mapping(totals.metadata["by_reason"]) == {"summary_row": 30, "invalid_date": 1}
    warn = checks.rejected_share(cleaned(), raw, rejected(["invalid_date"] * 10), SETTINGS)
    assert not warn.passed and warn.severity == AssetCheckSeverity.WARN
    error = checks.rejected_share(cleaned(), raw, rejected(["invalid_date"] * 30), SETTINGS)
    assert not error.passed and error.severity == AssetCheckSeverity.ERROR
    assert as_mapping(error.metadata["by_reason"]) == {"invalid_date": 30}


def test_duplicate_rate() -> None:
    raw = pd.DataFrame(index=range(100))
    assert checks.duplicate_rate(
        cleaned(), raw, rejected(["duplicate", "invalid_date", "invalid_date"]), SETTINGS
    ).passed
    result = checks.duplicate_rate(cleaned(), raw, rejected(["duplicate"] * 5), SETTINGS)
    assert not result.passed and result.severity == AssetCheckSeverity.WARN


def test_label_format_applies_to_labelled_rows_only() -> None:
    unlabelled_ok = cleaned(
        acct_code=pd.array(["81100", None, "81100", None], dtype="string"), source_labelled=[True, False, True, False]
    )
    assert checks.label_format(unlabelled_ok, SETTINGS).passed
    bad = cleaned(acct_code=pd.array(["81100", "8110", None, "81100"], dtype="string"))
    result = checks.label_format(bad, SETTINGS)
    assert not result.passed and result.metadata["bad_labels"].value == 2


def test_amount_consistency() -> None:
    assert checks.amount_consistency(cleaned(), SETTINGS).passed
    mismatch = cleaned(total_amount=pd.Series([1100, 1100, 1200, 1100], dtype="int64"))
    assert not checks.amount_consistency(mismatch, SETTINGS).passed
    outlier = cleaned(
        supply_amount=pd.Series([10**13, 1000, 1000, 1000]), total_amount=pd.Series([10**13 + 100, 1100, 1100, 1100])
    )
    result = checks.amount_consistency(outlier, SETTINGS)
    assert not result.passed and result.metadata["outlier_rows"].value == 1


def test_feature_null_rates() -> None:
    features = pd.DataFrame(
        {f: ["x"] * 20 for f in ("party_name", "item", "document_type", "vat_type", "total_amount")}
    )
    assert checks.feature_null_rates(features, SETTINGS).passed
    features.loc[:4, "item"] = None
    result = checks.feature_null_rates(features, SETTINGS)
    assert not result.passed and as_mapping(result.metadata["above_limit"]) == {"item": 0.25}


def test_a_column_a_file_does_not_have_is_listed_not_warned() -> None:
    features = pd.DataFrame(
        {f: ["x"] * 20 for f in ("party_name", "item", "document_type", "vat_type", "total_amount")}
        | {"source_file": ["a.csv"] * 10 + ["b.csv"] * 10}
    )
    features.loc[10:, ["item", "vat_type"]] = None
    features.loc[0, "party_name"] = None
    result = checks.feature_null_rates(features, SETTINGS)
    assert result.passed, "b.csv has no 품명 or 부가세유형 column: nothing to warn about"
    assert as_mapping(result.metadata["absent_in_files"]) == {"item": "b.csv", "vat_type": "b.csv"}
    assert as_mapping(result.metadata["null_rates"])["item"] == 0.5
    features.loc[1:2, "party_name"] = None
    result = checks.feature_null_rates(features, SETTINGS)
    assert not result.passed and as_mapping(result.metadata["above_limit"]) == {"party_name": 0.15}


def test_feature_columns_order_and_presence() -> None:
    features = pd.DataFrame(columns=["source_file", *DEFAULT_FEATURES, "acct_code"])
    assert checks.feature_columns(features, SETTINGS).passed
    swapped = list(DEFAULT_FEATURES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert not checks.feature_columns(pd.DataFrame(columns=swapped), SETTINGS).passed
    result = checks.feature_columns(pd.DataFrame(columns=list(DEFAULT_FEATURES[1:])), SETTINGS)
    assert not result.passed and result.metadata["missing"].value == [DEFAULT_FEATURES[0]]


def test_settings_validate_ranges() -> None:
    with pytest.raises(ValidationError, match="reject_warn_share"):
        LedgerSettings(reject_warn_share=0.5, reject_error_share=0.1)
    with pytest.raises(ValidationError, match="amount_tolerance"):
        LedgerSettings(amount_tolerance=-1)
