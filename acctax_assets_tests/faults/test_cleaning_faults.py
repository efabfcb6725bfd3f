"""Cleaning faults through the real ledger_data_job: one CP949 month carrying every dirty value of ARCHITECTURE.md §1 and
issue 2 (one row each) plus an uncoded XLSX export, materialized once; each case then checks its own row: cleaned
with the right typed value, or rejected with its reason and the raw text kept."""

from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd
import pytest
from dagster import ExecuteInProcessResult, instance_for_test

from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.faults.harness import assert_no_row_lost
from acctax_assets_tests.support.dagster_runs import failure_text, run_month, scratch_home, stored
from acctax_assets_tests.support.ledger_files import UNCODED_COLUMNS, ledger_rows, write_ledger

CLEAN_ROWS = 60
UNCODED_ROWS = 5
MAIN_FILE = "ledger_2024-01.csv"
FIRST_DATA_ROW = 2
KEYLESS = {"voucher_key": "", "journal_key_count": "", "item": "키 없는 품목"}


@dataclass(frozen=True)
class Dirty:
    """One dirty row: its cells, and either a reject reason or the (column, value) its cleaned row must carry."""

    cells: dict[str, str]
    reason: str | None = None
    cleaned: tuple[str, object] | None = None


DIRTY = {
    "thousands separators": Dirty(
        {"supply_amount": "1,234,000", "vat_amount": "123,400", "total_amount": "1,357,400"},
        cleaned=("supply_amount", 1_234_000),
    ),
    "negative return": Dirty(
        {"supply_amount": "-10,000", "vat_amount": "-1,000", "total_amount": "-11,000"},
        cleaned=("total_amount", -11_000),
    ),
    "negative in parentheses": Dirty(
        {"supply_amount": "(10,000)", "vat_amount": "(1,000)", "total_amount": "(11,000)"},
        cleaned=("vat_amount", -1_000),
    ),
    "dotted date": Dirty({"date": "2024.01.31"}, cleaned=("date", pd.Timestamp("2024-01-31"))),
    "dashed date": Dirty({"date": "2024-01-30"}, cleaned=("date", pd.Timestamp("2024-01-30"))),
    "empty VAT and total": Dirty({"vat_amount": "", "total_amount": ""}, cleaned=("total_amount", 10_000)),
    "spreadsheet code 81100.0": Dirty({"acct_code": "81100.0"}, cleaned=("acct_code", "81100")),
    "unknown evidence code": Dirty({"document_type": "99"}, cleaned=("document_type", "other_99")),
    "keyless row": Dirty(KEYLESS, cleaned=("item", KEYLESS["item"])),
    "amount abc": Dirty({"supply_amount": "abc"}, "invalid_amount"),
    "fractional won": Dirty({"vat_amount": "1,000.5"}, "invalid_amount"),
    "impossible date 20241301": Dirty({"date": "20241301"}, "invalid_date"),
    "empty date": Dirty({"date": ""}, "missing_date"),
    "date of another month": Dirty({"date": "20240215"}, "date_outside_month"),
    "empty supply amount, total given": Dirty({"supply_amount": ""}, cleaned=("supply_amount", 10_000)),
    "+8.8e12 outlier": Dirty(
        {"supply_amount": "8,800,000,000,000", "vat_amount": "0", "total_amount": "8,800,000,000,000"}, "amount_outlier"
    ),
    "-8.8e12 outlier": Dirty(
        {"supply_amount": "-8,800,000,000,000", "vat_amount": "0", "total_amount": "-8,800,000,000,000"},
        "amount_outlier",
    ),
    "supply + VAT is not total": Dirty({"total_amount": "12,000"}, "amount_mismatch"),
    "empty account code": Dirty({"acct_code": ""}, "missing_label"),
    "4-digit account code": Dirty({"acct_code": "8110"}, "invalid_label"),
    "letter in account code": Dirty({"acct_code": "A1100"}, "invalid_label"),
    "same voucher key and line": Dirty({"voucher_key": "2024-01-00001", "item": "정정된 품목"}, "duplicate"),
    "keyless repeat in the same export": Dirty(KEYLESS, cleaned=("item", KEYLESS["item"])),
    "empty supply amount and total": Dirty({"supply_amount": "", "total_amount": ""}, "missing_amount"),
}
SOURCE_ROWS = {name: FIRST_DATA_ROW + CLEAN_ROWS + index for index, name in enumerate(DIRTY)}


class DirtyMonth(NamedTuple):
    home: AcctaxHome
    result: ExecuteInProcessResult
    cleaned: pd.DataFrame
    rejected: pd.DataFrame


@pytest.fixture(scope="module")
def dirty_month(tmp_path_factory: pytest.TempPathFactory) -> DirtyMonth:
    """January: 60 clean rows then one row per dirty case (CP949 CSV), and an uncoded XLSX export of 5 rows."""
    with scratch_home(tmp_path_factory.mktemp("dirty") / "acctax") as home:
        rows = ledger_rows(CLEAN_ROWS)
        rows += [
            {**rows[0], "voucher_key": f"2024-01-9{index:04d}", **case.cells}
            for index, case in enumerate(DIRTY.values())
        ]
        write_ledger(home.landing / MAIN_FILE, rows, encoding="cp949")
        uncoded = [
            {**row, "voucher_key": f"2024-01-8{index:04d}"} for index, row in enumerate(ledger_rows(UNCODED_ROWS))
        ]
        write_ledger(home.landing / "ledger_2024-01_uncoded.xlsx", uncoded, columns=UNCODED_COLUMNS)
        with instance_for_test() as instance:
            result = run_month(instance)
    return DirtyMonth(home, result, stored(home, "cleaned_ledger"), stored(home, "rejected_ledger_rows"))


@pytest.mark.parametrize("name", DIRTY)
def test_dirty_value_is_cleaned_or_quarantined_with_its_reason(dirty_month: DirtyMonth, name: str) -> None:
    """Each dirty value ends in exactly one place: typed in cleaned_ledger, or in rejected_ledger_rows with its reason
    and a detail, the raw text kept."""
    case, row = DIRTY[name], SOURCE_ROWS[name]
    cleaned = dirty_month.cleaned.loc[
        (dirty_month.cleaned["source_file"] == MAIN_FILE) & (dirty_month.cleaned["source_row"] == row)
    ]
    rejected = dirty_month.rejected.loc[
        (dirty_month.rejected["source_file"] == MAIN_FILE) & (dirty_month.rejected["source_row"] == row)
    ]
    if case.reason is None:
        assert rejected.empty, rejected[["reject_reason", "reject_detail"]].to_dict("records")
        column, value = case.cleaned
        assert cleaned[column].tolist() == [value]
    else:
        assert cleaned.empty
        assert rejected["reject_reason"].tolist() == [case.reason]
        assert rejected["reject_detail"].iloc[0]
        for column, text in case.cells.items():
            assert rejected[column].iloc[0] == text, "rejected rows keep what the file said"


def test_dirty_month_loses_no_row_and_warns(dirty_month: DirtyMonth) -> None:
    """The month materializes (rejected share below the blocking threshold): every raw row is accounted for, the
    uncoded export's rows pass without a label, and the rejected-share check warns (one duplicate in 87 rows is
    below the duplicate-rate warning)."""
    result = dirty_month.result
    assert result.success, failure_text(result)
    assert_no_row_lost(dirty_month.home, result)
    expected = pd.Series([case.reason for case in DIRTY.values() if case.reason]).value_counts().to_dict()
    assert dirty_month.rejected["reject_reason"].value_counts().to_dict() == expected
    uncoded = dirty_month.cleaned.loc[dirty_month.cleaned["source_file"] == "ledger_2024-01_uncoded.xlsx"]
    assert len(uncoded) == UNCODED_ROWS and uncoded["acct_code"].isna().all() and not uncoded["source_labelled"].any()
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert {name for name, e in checks.items() if not e.passed} == {"rejected_share"}
    assert checks["rejected_share"].severity.value == "WARN"
    assert len(stored(dirty_month.home, "ledger_features")) == len(dirty_month.cleaned)
