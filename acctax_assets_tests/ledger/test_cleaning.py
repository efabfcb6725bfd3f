"""Cleaning: typing, every reject reason, dedupe keys, code words, and raw = cleaned + rejected."""

from pathlib import Path

import pandas as pd
import pytest

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger, within_file_twins
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.ingestion import combine, read_ledger_file
from acctax_assets.ledger.parsing import parse_amounts, parse_dates
from acctax_assets_tests.support.ledger_files import UNCODED_COLUMNS, ledger_rows, write_ledger

MONTH = "2024-01-01"
RULES = CleaningRules()


def raw_from(
    tmp_path: Path, rows: list[dict[str, str]], name: str = "ledger_2024-01.csv", **kwargs: object
) -> pd.DataFrame:
    path = write_ledger(tmp_path / name, rows, **kwargs)
    return combine([read_ledger_file(path, load_column_map(), tmp_path)])


def test_parse_amounts() -> None:
    values, invalid = parse_amounts(
        pd.Series(["1,234,000", "-5000", "(5,000)", "1234000.0", "", "abc", "12.5", "inf", " 7 "])
    )
    assert values.tolist()[:4] == [1234000, -5000, -5000, 1234000]
    assert values.isna().tolist()[4:8] == [True, True, True, True]
    assert values.tolist()[8] == 7
    assert invalid.tolist() == [False, False, False, False, False, True, True, True, False]


def test_parse_amounts_plain_integers_as_the_general_path_reads_them() -> None:
    # Up to 15 digits the fast integer read; longer values keep the float64 rounding of the general path.
    values, invalid = parse_amounts(
        pd.Series(["123456789012345", "-000123", "1e3", "+5", "-", "--5", "1,2,3", "9007199254740993", "-0", None])
    )
    assert values.tolist() == [123456789012345, -123, 1000, 5, pd.NA, pd.NA, 123, 9007199254740992, 0, pd.NA]
    assert invalid.tolist() == [False, False, False, False, True, True, False, False, False, False]


def test_parse_dates_per_distinct_value_keeps_rows_index_and_name() -> None:
    values = pd.Series(["20240305", None, "2024.3.5", "", "20240305", "x"], index=[10, 3, 7, 1, 2, 0], name="date")
    dates = parse_dates(values)
    assert dates.name == "date" and dates.index.tolist() == [10, 3, 7, 1, 2, 0]
    assert dates.tolist()[::2] == [pd.Timestamp("2024-03-05")] * 3
    assert dates.iloc[1::2].isna().all()


def test_parse_dates() -> None:
    dates = parse_dates(
        pd.Series(
            ["20240131", "2024-01-31", "2024.01.31", "2024/01/31", "2024-01-31 00:00:00", "20241301", "", "31.01.2024"]
        )
    )
    assert dates.iloc[:5].tolist() == [pd.Timestamp("2024-01-31")] * 5
    assert dates.iloc[5:].isna().all()


@pytest.mark.parametrize(
    ("cell", "amount"),
    [
        ("231,140원", 231_140),
        ("231,140 원", 231_140),
        ("KRW 5,000", 5_000),
        ("5,000 KRW", 5_000),
        ("krw5000", 5_000),
        ("₩5,000", 5_000),
        ("￦5,000", 5_000),
        ("１２３，０００", 123_000),
        ("１２３，０００원", 123_000),
        ("△5,000", -5_000),
        ("▲5,000", -5_000),
        ("△5,000원", -5_000),
        ("5,000-", -5_000),
        ("(5,000)", -5_000),
        ("(₩5,000)", -5_000),
        ("-₩5,000", -5_000),
        ("₩-5,000", -5_000),
        ("+5,000", 5_000),
        ("1.2E+7", 12_000_000),
    ],
)
def test_parse_amounts_written_forms(cell: str, amount: int) -> None:
    values, invalid = parse_amounts(pd.Series([cell, "1,000"]))
    assert values.tolist() == [amount, 1_000] and not invalid.any()


@pytest.mark.parametrize(
    "cell",
    ["--500", "(-500)", "5,000원원", "(5,000", "5,000)", "원", "KRW", "1원2", "5.000.000", "△", "12.5원", "1,0x0"],
)
def test_unparseable_amounts_stay_invalid(cell: str) -> None:
    values, invalid = parse_amounts(pd.Series([cell]))
    assert values.isna().all() and invalid.all()


@pytest.mark.parametrize(
    ("cell", "date"),
    [
        ("45352", "2024-03-01"),
        ("45352.0", "2024-03-01"),
        ("45352.75", "2024-03-01"),
        ("32874", "1990-01-01"),
        ("2024년 3월 5일", "2024-03-05"),
        ("2024년03월05일", "2024-03-05"),
        ("2024년 03월 05일", "2024-03-05"),
        ("2024.3.5", "2024-03-05"),
        ("2024-3-5", "2024-03-05"),
        ("2024/3/15", "2024-03-15"),
        ("2024. 3. 5.", "2024-03-05"),
        ("2024/03/05 00:00:00", "2024-03-05"),
        ("2024-3-5 13:45", "2024-03-05"),
        ("２０２４－０３－０５", "2024-03-05"),
    ],
)
def test_parse_dates_written_forms(cell: str, date: str) -> None:
    assert parse_dates(pd.Series([cell])).tolist() == [pd.Timestamp(date)]


@pytest.mark.parametrize(
    "cell", ["12345", "99999", "2024.13.5", "2024년 2월 30일", "2024-3", "3월 5일", "45352abc", "합계", "2024.3.5.6"]
)
def test_unparseable_dates_stay_missing(cell: str) -> None:
    assert parse_dates(pd.Series([cell])).isna().all()


def test_unparseable_written_forms_are_quarantined_with_the_raw_value(tmp_path: Path) -> None:
    rows = ledger_rows(4)
    rows[1].update(date="2024년 13월 5일")
    rows[2].update(supply_amount="--10,000원")
    rows[3].update(date="45308", supply_amount="10,000원", vat_amount="△0", total_amount="10,000")
    result = clean_ledger(raw_from(tmp_path, rows), MONTH, RULES)
    rejected = result.rejected.set_index("source_row")
    assert (
        rejected.loc[3, "reject_reason"] == "invalid_date"
        and rejected.loc[3, "reject_detail"] == "date=2024년 13월 5일"
    )
    assert (
        rejected.loc[4, "reject_reason"] == "invalid_amount"
        and rejected.loc[4, "reject_detail"] == "supply_amount=--10,000원"
    )
    assert result.cleaned["date"].tolist() == [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-01-17")], (
        "serial 45308 is 2024-01-17"
    )


def test_totals_lines_come_first_among_the_reasons(tmp_path: Path) -> None:
    rows = ledger_rows(2)
    rows[1].update(date="[월 계]", supply_amount="abc", acct_code="")
    result = clean_ledger(raw_from(tmp_path, rows), MONTH, RULES)
    assert result.rejected["reject_reason"].tolist() == ["summary_row"]
    assert result.rejected["reject_detail"].tolist() == ["summary row marked [월 계]"]
    assert result.rejected_by_reason == {"summary_row": 1}


def test_clean_rows_are_typed_and_coded_as_words(tmp_path: Path) -> None:
    result = clean_ledger(raw_from(tmp_path, ledger_rows(2)), MONTH, RULES)
    cleaned = result.cleaned
    assert len(cleaned) == 2 and result.rejected.empty
    assert str(cleaned["date"].dtype) == "datetime64[ns]"
    assert cleaned["supply_amount"].tolist() == [10000, 10000]
    assert str(cleaned["total_amount"].dtype) == "int64"
    assert cleaned["document_type"].tolist() == ["credit_card"] * 2
    assert cleaned["document_type_code"].tolist() == ["20"] * 2
    assert cleaned["vat_type"].tolist() == ["purchase_card"] * 2
    assert cleaned["acct_code"].tolist() == ["81100"] * 2
    assert cleaned["business_type"].isna().all(), "absent optional columns are null, not missing"


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"date": ""}, "missing_date"),
        ({"date": "20241301"}, "invalid_date"),
        ({"date": "2024.02.01"}, "date_outside_month"),
        ({"supply_amount": "", "total_amount": ""}, "missing_amount"),
        ({"supply_amount": "abc"}, "invalid_amount"),
        ({"vat_amount": "1,0x0"}, "invalid_amount"),
        ({"supply_amount": "10000000000000", "vat_amount": "0", "total_amount": "10000000000000"}, "amount_outlier"),
        ({"total_amount": "12,000"}, "amount_mismatch"),
        ({"acct_code": ""}, "missing_label"),
        ({"acct_code": "8110"}, "invalid_label"),
        ({"acct_code": "A1100"}, "invalid_label"),
    ],
)
def test_each_reject_reason(tmp_path: Path, override: dict[str, str], reason: str) -> None:
    rows = ledger_rows(3)
    rows[1].update(override)
    result = clean_ledger(raw_from(tmp_path, rows), MONTH, RULES)
    assert len(result.cleaned) == 2
    assert result.rejected["reject_reason"].tolist() == [reason]
    assert result.rejected["source_row"].tolist() == [3]
    assert result.rejected["reject_detail"].iloc[0]


def test_first_failing_rule_wins(tmp_path: Path) -> None:
    rows = ledger_rows(1, date="", supply_amount="abc", acct_code="")
    assert clean_ledger(raw_from(tmp_path, rows), MONTH, RULES).rejected["reject_reason"].tolist() == ["missing_date"]


def test_malformed_line_is_rejected_with_its_parse_error(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(2))
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n").rsplit(",", 5)[0], encoding="utf-8")
    raw = combine([read_ledger_file(path, load_column_map(), tmp_path)])
    result = clean_ledger(raw, MONTH, RULES)
    assert result.rejected["reject_reason"].tolist() == ["malformed_line"]
    assert "truncated" in result.rejected["reject_detail"].iloc[0]


def test_duplicates_by_voucher_key_and_by_full_row_in_another_file(tmp_path: Path) -> None:
    rows = ledger_rows(3)
    rows.append({**rows[0], "item": "corrected text, same voucher line"})
    unkeyed = [ledger_rows(1, voucher_key="", journal_key_count="", item=item)[0] for item in ("커피", "녹차")]
    rows += [*unkeyed, dict(unkeyed[0])]
    first = write_ledger(tmp_path / "ledger_2024-01.csv", rows)
    again = write_ledger(tmp_path / "ledger_2024-01 re-export.csv", [dict(unkeyed[1])])
    column_map = load_column_map()
    raw = combine([read_ledger_file(p, column_map, tmp_path) for p in (first, again)])
    result = clean_ledger(raw, MONTH, RULES)
    rejected = result.rejected
    assert rejected["reject_reason"].tolist() == ["duplicate", "duplicate"]
    assert rejected["source_row"].tolist() == [5, 2]
    assert rejected["reject_detail"].tolist() == [
        "duplicate of ledger_2024-01.csv row 2",
        "duplicate of ledger_2024-01.csv row 7",
    ]
    assert len(result.cleaned) == 6, "the keyless 커피 line printed twice in one export is two payments"
    assert within_file_twins(result.cleaned) == 1, "and is counted for the month's metadata"


def test_duplicates_need_equal_keys_or_equal_content(tmp_path: Path) -> None:
    keyed = ledger_rows(2)
    keyed.append({**keyed[0], "journal_key_count": "2"})
    keyless = ledger_rows(1, voucher_key="", journal_key_count="")[0]
    variants = [
        {**keyless, "total_amount": "11,001", "vat_amount": "1,001"},
        {**keyless, "party_name": "다른 거래처"},
        {**keyless, "supply_amount": "10000"},  # the same amount, written without separators
    ]
    first = write_ledger(tmp_path / "ledger_2024-01.csv", [*keyed, keyless])
    second = write_ledger(tmp_path / "ledger_2024-01 (2).csv", [*variants, dict(keyless)])
    column_map = load_column_map()
    result = clean_ledger(combine([read_ledger_file(p, column_map, tmp_path) for p in (first, second)]), MONTH, RULES)
    assert result.rejected["source_file"].tolist() == ["ledger_2024-01 (2).csv"] * 2
    assert result.rejected["source_row"].tolist() == [4, 5]
    assert result.rejected["reject_detail"].tolist() == ["duplicate of ledger_2024-01.csv row 5"] * 2
    assert len(result.cleaned) == 6


def test_same_file_dropped_twice_keeps_one_copy(tmp_path: Path) -> None:
    first = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(4))
    second = write_ledger(tmp_path / "ledger_2024-01 (1).csv", ledger_rows(4))
    column_map = load_column_map()
    raw = combine([read_ledger_file(p, column_map, tmp_path) for p in (first, second)])
    result = clean_ledger(raw, MONTH, RULES)
    assert len(result.cleaned) == 4
    assert set(result.cleaned["source_file"]) == {"ledger_2024-01.csv"}
    assert result.rejected_by_reason == {"duplicate": 4}


def test_unlabelled_file_rows_are_kept_without_label(tmp_path: Path) -> None:
    result = clean_ledger(raw_from(tmp_path, ledger_rows(3), columns=UNCODED_COLUMNS), MONTH, RULES)
    assert len(result.cleaned) == 3 and result.rejected.empty
    assert result.cleaned["acct_code"].isna().all()
    assert not result.cleaned["source_labelled"].any()


def test_missing_vat_and_total_are_derived(tmp_path: Path) -> None:
    rows = ledger_rows(1, supply_amount="5000", vat_amount="", total_amount="")
    cleaned = clean_ledger(raw_from(tmp_path, rows), MONTH, RULES).cleaned
    assert cleaned[["supply_amount", "vat_amount", "total_amount"]].iloc[0].tolist() == [5000, 0, 5000]


def test_negative_amounts_are_valid_returns(tmp_path: Path) -> None:
    rows = ledger_rows(1, supply_amount="-10,000", vat_amount="-1,000", total_amount="-11,000")
    assert clean_ledger(raw_from(tmp_path, rows), MONTH, RULES).cleaned["total_amount"].tolist() == [-11000]


def test_unknown_codes_stay_visible(tmp_path: Path) -> None:
    rows = ledger_rows(1, document_type="99", vat_type="")
    cleaned = clean_ledger(raw_from(tmp_path, rows), MONTH, RULES).cleaned
    assert cleaned["document_type"].tolist() == ["other_99"]
    assert cleaned["vat_type"].isna().all()


def test_tolerance_and_outlier_bound_are_configurable(tmp_path: Path) -> None:
    rows = ledger_rows(2)
    rows[0]["total_amount"] = "11,005"
    raw = raw_from(tmp_path, rows)
    assert len(clean_ledger(raw, MONTH, CleaningRules(amount_tolerance=10)).cleaned) == 2
    assert len(clean_ledger(raw, MONTH, CleaningRules(amount_tolerance=0)).cleaned) == 1
    assert len(clean_ledger(raw, MONTH, CleaningRules(max_abs_amount=10_000)).cleaned) == 0


def test_every_raw_row_is_accounted_for(tmp_path: Path) -> None:
    rows = ledger_rows(20)
    rows[3]["date"] = "junk"
    rows[5]["supply_amount"] = "abc"
    rows[7]["acct_code"] = ""
    rows.append(dict(rows[0]))
    raw = raw_from(tmp_path, rows)
    result = clean_ledger(raw, MONTH, RULES)
    assert len(result.cleaned) + len(result.rejected) == len(raw)
    identities = set(zip(result.cleaned["source_file"], result.cleaned["source_row"])) | set(
        zip(result.rejected["source_file"], result.rejected["source_row"])
    )
    assert identities == set(zip(raw["source_file"], raw["source_row"]))
    assert result.rejected["supply_amount"].tolist()[1] == "abc", "rejected rows keep the raw text"
