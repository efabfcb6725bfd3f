"""The demo's injected defects are exactly what cleaning rejects, for every file format the demo writes."""

from pathlib import Path

import pandas as pd
import pytest

from acctax_assets.demo import generate_month, write_demo_ledger
from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import DEFAULT_FEATURES, build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file

REASON_FOR_DEFECT = {
    "": "",
    "duplicate": "duplicate",
    "missing_date": "missing_date",
    "missing_label": "missing_label",
    "invalid_amount": "invalid_amount",
    "invalid_date": "invalid_date",
    "date_outside_month": "date_outside_month",
    "outlier": "amount_outlier",
    "amount_mismatch": "amount_mismatch",
    "invalid_label": "invalid_label",
}


@pytest.mark.parametrize(
    ("month", "encoding", "xlsx"),
    [
        ("2024-01", "utf-8", False),
        ("2024-02", "utf-8-sig", False),
        ("2024-03", "cp949", False),
        ("2024-06", "mixed", True),
    ],
)
def test_rejects_match_injected_defects(tmp_path: Path, month: str, encoding: str, xlsx: bool) -> None:
    rows, seed = 1500, 11
    paths = write_demo_ledger(tmp_path, [month], rows, seed, encoding=encoding, xlsx_months=[month] if xlsx else [])
    raw = combine([read_ledger_file(p, load_column_map(), tmp_path) for p in paths])
    result = clean_ledger(raw, f"{month}-01", CleaningRules())

    expected = generate_month(month, rows, seed).defects.map(REASON_FOR_DEFECT).reset_index(drop=True)
    actual = pd.Series("", index=range(len(raw)), dtype=object)
    actual[result.rejected["source_row"].to_numpy() - 2] = result.rejected["reject_reason"].to_numpy()
    assert (actual == expected).all(), pd.crosstab(expected, actual)
    assert len(result.cleaned) + len(result.rejected) == len(raw) == rows
    assert result.cleaned["acct_code"].str.fullmatch(r"\d{5}").all()

    features = build_features(result.cleaned)
    assert len(features) == len(result.cleaned)
    assert features[list(DEFAULT_FEATURES)].columns.tolist() == list(DEFAULT_FEATURES)
    assert features["party_name"].notna().all() and features["item"].notna().all()
