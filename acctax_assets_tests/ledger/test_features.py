"""Features: Korean calendar, amounts, the configured order, and errors for unknown or leaking features."""

import pandas as pd
import pytest

from acctax_assets.errors import FeatureConfigError
from acctax_assets.ledger.features import (
    DEFAULT_FEATURES,
    IDENTITY_COLUMNS,
    amount_features,
    build_features,
    calendar_features,
)


def cleaned_frame(dates: list[str], totals: list[int], companies: list[str] | None = None) -> pd.DataFrame:
    count = len(dates)
    supply = [round(t / 1.1) for t in totals]
    return pd.DataFrame(
        {
            "source_file": ["f.csv"] * count,
            "source_row": list(range(2, count + 2)),
            "voucher_key": [f"v{i}" for i in range(count)],
            "journal_key_count": ["1"] * count,
            "date": pd.to_datetime(dates),
            "company_name": pd.array(companies or ["A"] * count, dtype="string"),
            "party_name": pd.array(["p"] * count, dtype="string"),
            "item": pd.array(["i"] * count, dtype="string"),
            "supply_amount": supply,
            "vat_amount": [t - s for t, s in zip(totals, supply)],
            "total_amount": totals,
            "acct_code": pd.array(["81100"] * count, dtype="string"),
            "acct_name": pd.array(["복리후생비"] * count, dtype="string"),
        }
    )


def test_korean_holidays_weekends_and_workdays() -> None:
    dates = pd.Series(
        pd.to_datetime(["2024-02-09", "2024-02-12", "2024-05-06", "2024-03-01", "2024-03-02", "2024-03-04"])
    )
    calendar = calendar_features(dates)
    assert calendar["day_type"].tolist() == ["holiday", "holiday", "holiday", "holiday", "weekend", "workday"]
    assert calendar["weekday"].tolist() == ["fri", "mon", "mon", "fri", "sat", "mon"]


def test_month_end_quarter_and_vat_period() -> None:
    dates = pd.Series(pd.to_datetime(["2024-02-27", "2024-02-26", "2024-04-30", "2024-08-15", "2024-12-31"]))
    calendar = calendar_features(dates)
    assert calendar["is_month_end"].tolist() == [True, False, True, False, True]
    assert calendar["quarter"].tolist() == ["q1", "q1", "q2", "q3", "q4"]
    assert calendar["vat_period"].tolist() == [
        "h1_preliminary",
        "h1_preliminary",
        "h1_final",
        "h2_preliminary",
        "h2_final",
    ]


def test_amount_features() -> None:
    frame = cleaned_frame(["2024-01-02"] * 5, [11000, -11000, 0, 1_100_000, 55], companies=["A", "A", "A", "A", "B"])
    frame.loc[4, ["supply_amount", "vat_amount"]] = [55, 0]
    amounts = amount_features(frame)
    assert amounts["amount_sign"].tolist() == [1, -1, 0, 1, 1]
    assert amounts["amount_log_bucket"].tolist() == [4, 4, 0, 6, 1]
    assert amounts["vat_rate_bucket"].tolist() == ["standard_10pct", "standard_10pct", "none", "standard_10pct", "none"]
    assert amounts["company_relative_size"].tolist()[3] == "top"
    assert amounts["company_relative_size"].tolist()[2] == "low"


def test_build_features_orders_identity_features_labels() -> None:
    frame = cleaned_frame(["2024-01-02", "2024-01-03"], [11000, 22000])
    features = build_features(frame, ["item", "day_type", "total_amount"])
    assert list(features.columns) == [
        *IDENTITY_COLUMNS,
        "date",
        "item",
        "day_type",
        "total_amount",
        "acct_code",
        "acct_name",
    ]


def test_default_features_build_on_a_full_cleaned_table(tmp_path) -> None:
    from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
    from acctax_assets.ledger.column_map import load_column_map
    from acctax_assets.ledger.ingestion import combine, read_ledger_file
    from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger

    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(3))
    cleaned = clean_ledger(
        combine([read_ledger_file(path, load_column_map(), tmp_path)]), "2024-01-01", CleaningRules()
    ).cleaned
    features = build_features(cleaned)
    assert [c for c in features.columns if c in DEFAULT_FEATURES] == list(DEFAULT_FEATURES)
    assert "acct_name" in features.columns


def test_configured_feature_that_does_not_exist_is_an_error() -> None:
    frame = cleaned_frame(["2024-01-02"], [11000])
    with pytest.raises(FeatureConfigError, match=r"\['transaction_type'\].*available"):
        build_features(frame, ["item", "transaction_type"])


@pytest.mark.parametrize("leak", ["acct_code", "acct_name"])
def test_label_as_feature_is_refused(leak: str) -> None:
    with pytest.raises(FeatureConfigError, match="leak"):
        build_features(cleaned_frame(["2024-01-02"], [11000]), ["item", leak])


def test_duplicate_feature_is_refused() -> None:
    with pytest.raises(FeatureConfigError, match="twice"):
        build_features(cleaned_frame(["2024-01-02"], [11000]), ["item", "item"])
