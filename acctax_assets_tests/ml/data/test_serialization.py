"""Rows to text: amounts, field order, nulls and free text last, never the label, and default text features that exist."""

import pandas as pd
import pytest

from acctax_assets.errors import FeatureConfigError
from acctax_assets.ledger.features import DEFAULT_FEATURES
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, format_amounts, serialize_rows
from acctax_assets_tests.support.ml_frames import feature_frame


def test_format_amounts() -> None:
    formatted = format_amounts(pd.Series([11000, -5000, 0, 999_999, 7, None], dtype="Int64"))
    assert formatted.tolist() == ["+1.1e4", "-5.0e3", "0", "+1.0e6", "+7.0e0", "NULL"]


def test_serialization_order_nulls_dates_and_free_text_last() -> None:
    texts = serialize_rows(feature_frame(), ["item", "date", "party_name", "total_amount", "desc", "is_month_end"])
    assert (
        texts.iloc[0]
        == "date:2024-03-05 | party:스타벅스 / 강남점 | amt:+1.1e4 | is_month_end:no | memo:직원 간식 | item:커피"
    )
    assert texts.iloc[1] == "date:2024-03-05 | party:NULL | amt:-2.2e3 | is_month_end:yes | memo:NULL | item:녹차"


@pytest.mark.parametrize("leak", ["acct_code", "acct_name"])
def test_serialization_never_includes_the_label(leak: str) -> None:
    with pytest.raises(FeatureConfigError, match="label"):
        serialize_rows(feature_frame(), ["item", leak])
    text = serialize_rows(feature_frame(), ["item", "party_name"]).str.cat()
    assert "81100" not in text and "복리후생비" not in text


def test_serialization_missing_feature_is_an_error() -> None:
    with pytest.raises(FeatureConfigError, match="transaction_type"):
        serialize_rows(feature_frame(), ["item", "transaction_type"])


def test_default_text_features_are_in_the_default_feature_table() -> None:
    assert set(DEFAULT_TEXT_FEATURES) <= set(DEFAULT_FEATURES)
