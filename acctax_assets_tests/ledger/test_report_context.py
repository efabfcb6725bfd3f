"""What a report prints once and means for every line: dates without a year or only on a day's first line, the
company above the header or in the file name, the account or counterparty on each block's title line."""

import datetime
from pathlib import Path

import pandas as pd
import pytest
from dagster import build_asset_context

from acctax_assets.defs.metadata_format import as_mapping
from acctax_assets.defs.raw_ledger import raw_ledger
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.ingestion import read_ledger_file, read_ledger_files
from acctax_assets.ledger.report_context import company_from_file_name, company_line, report_year
from acctax_assets.ledger.schema import DEFAULT_COMPANY
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.ledger.test_real_exports import (
    COLUMN_MAP,
    cleaned_and_rejected,
    text_rows,
    write_text,
    write_xlsx,
)

JOURNAL_HEADER = ["일자", "거래처", "적요", "공급가액", "부가세", "합계금액", "계정과목코드"]
# A 분개장 print: dates as month-day, each day's date on its first line only, a 일계 after each day.
JOURNAL = [
    ["03-04", "스타벅스 강남점", "직원 간식", 10_000, 1_000, 11_000, "81100"],
    ["", "이마트 역삼점", "사무용품", 20_000, 2_000, 22_000, "83000"],
    ["", "[일  계]", "", 30_000, 3_000, 33_000, ""],
    ["03-05", "GS칼텍스", "주유", 50_000, 5_000, 55_000, "82200"],
    ["", "", "[일  계]", 50_000, 5_000, 55_000, ""],
    ["3/7", "쿠팡", "복사용지", 30_000, 3_000, 33_000, "83000"],
    ["", "쿠팡", "토너", 40_000, 4_000, 44_000, "83000"],
]
PERIOD_TOP = [["분개장"], ["회사명: (주)한빛상사", "", "기간: 2024.03.01 ~ 2024.03.31"], []]


@pytest.mark.parametrize("form", ["xlsx", "cp949-csv"])
def test_a_day_by_day_print_with_month_day_dates_is_read_as_the_clerk_reads_it(tmp_path: Path, form: str) -> None:
    rows = [*PERIOD_TOP, JOURNAL_HEADER, *JOURNAL]
    path = (
        write_xlsx(tmp_path / "분개장.xlsx", {"분개장": rows})
        if form == "xlsx"
        else write_text(tmp_path / "분개장.csv", text_rows(rows), encoding="cp949")
    )
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert (ledger.company, ledger.company_origin) == ("(주)한빛상사", "company line")
    _, cleaned, rejected = cleaned_and_rejected([ledger])
    assert cleaned["date"].dt.strftime("%m-%d").tolist() == ["03-04", "03-04", "03-05", "03-07", "03-07"]
    assert cleaned["party_name"].tolist() == ["스타벅스 강남점", "이마트 역삼점", "GS칼텍스", "쿠팡", "쿠팡"]
    assert cleaned["supply_amount"].tolist() == [10_000, 20_000, 50_000, 30_000, 40_000]
    assert (cleaned["company_name"] == "(주)한빛상사").all()
    assert rejected["reject_reason"].tolist() == ["summary_row", "summary_row"]
    origins = ledger.frame["date_origin"].tolist()
    assert origins == [
        "year from period line",
        "filled from the line above",
        "",
        "year from period line",
        "",
        "year from period line",
        "filled from the line above",
    ], "a 일계 line is neither completed nor passes its date on"
    assert ledger.dates_completed == {"year from period line": 3, "filled from the line above": 2}
    assert any("took it from period line" in note for note in ledger.notes)


def test_a_voucher_export_with_a_missing_date_keeps_it_missing(tmp_path: Path) -> None:
    rows = [
        JOURNAL_HEADER,
        ["2024-03-04", "스타벅스", "간식", 10_000, 1_000, 11_000, "81100"],
        ["2024-03-04", "이마트", "사무용품", 20_000, 2_000, 22_000, "83000"],
        ["", "GS칼텍스", "주유", 50_000, 5_000, 55_000, "82200"],
        ["2024-03-05", "쿠팡", "토너", 40_000, 4_000, 44_000, "83000"],
    ]
    ledger = read_ledger_file(write_text(tmp_path / "전표_2024-03.csv", rows), COLUMN_MAP, tmp_path)
    _, _, rejected = cleaned_and_rejected([ledger])
    assert rejected["reject_reason"].tolist() == ["missing_date"], "each day's date repeats: not a print"
    assert ledger.dates_completed == {}


def test_the_year_comes_from_the_period_line_then_the_title_then_the_file_name() -> None:
    assert report_year([["분개장"], ["기간: 2024.03.01 ~ 2024.03.31"]], "a.xlsx").source == "period line"
    assert report_year([["2023년 11월 분개장"]], "분개장_2024-03.xlsx").start == datetime.date(2023, 11, 1)
    found = report_year([["분개장"]], "분개장_202403.xlsx")
    assert (found.source, found.start, found.end) == (
        "file name",
        datetime.date(2024, 3, 1),
        datetime.date(2024, 3, 31),
    )
    assert report_year([["분개장"]], "분개장.xlsx") is None
    spanning = report_year([["조회기간 : 2023-12-01 ~ 2024-01-31"]], "a.xlsx")
    assert (spanning.year_for(12, 15), spanning.year_for(1, 15)) == (2023, 2024)


def test_a_month_day_date_with_no_year_anywhere_names_the_three_places(tmp_path: Path) -> None:
    path = write_text(tmp_path / "분개장.csv", [JOURNAL_HEADER, *JOURNAL])
    with pytest.raises(LedgerFileError) as error:
        read_ledger_file(path, COLUMN_MAP, tmp_path)
    message = str(error.value)
    assert message.startswith(str(path)) or "분개장.csv" in message
    assert "'03-04'" in message and "period line" in message and "title" in message and "file name" in message


def test_a_blocks_account_and_counterparty_are_carried_onto_its_lines(tmp_path: Path) -> None:
    header = ["일자", "적요", "거래처", "차변", "대변", "잔액"]
    rows = [
        ["계정별원장"],
        ["기간: 2024.03.01 ~ 2024.03.31"],
        header,
        ["계정과목: 81100 복리후생비", "", "", "", "", ""],
        ["2024-03-01", "전기이월", "", "", "", "500,000"],
        ["2024-03-04", "직원 간식", "스타벅스", "10,000", "", "510,000"],
        ["2024-03-09", "회식", "", "120,000", "", "630,000"],
        ["", "[월  계]", "", "130,000", "", ""],
        ["계정과목 : [822] 차량유지비", "", "", "", "", ""],
        ["2024-03-05", "주유", "GS칼텍스", "50,000", "", "50,000"],
        ["2024-03-20", "환급", "GS칼텍스", "", "5,000", "45,000"],
    ]
    ledger = read_ledger_file(write_text(tmp_path / "원장_2024-03.csv", rows), COLUMN_MAP, tmp_path)
    raw, cleaned, rejected = cleaned_and_rejected([ledger])
    assert raw["acct_code"].tolist()[:4] == ["", "", "81100 복리후생비", "81100 복리후생비"]
    assert rejected["reject_reason"].tolist()[:3] == ["title_row", "balance_row", "summary_row"]
    assert cleaned["date"].dt.day.tolist() == [4, 9]
    assert cleaned["acct_code"].tolist() == ["81100", "81100"] and cleaned["acct_name"].tolist() == ["복리후생비"] * 2
    assert ledger.labelled_rows == 4
    assert any("acct_code carried from each block's title line" in note for note in ledger.notes)
    assert set(rejected["reject_reason"]) == {"title_row", "balance_row", "summary_row", "invalid_label"}, (
        "the 3-digit block is refused by the 5-digit chart, with its reason"
    )


def test_company_from_the_company_line_then_config_then_the_file_name() -> None:
    assert company_line([["거래처원장"], ["상호 : (주)가나상사   사업자등록번호: 123-45-67890"]]) == "(주)가나상사"
    assert company_line([["회사명", "(주)다라"]]) == "(주)다라"
    assert company_line([["계정별원장"], ["기간: 2024.03.01 ~ 2024.03.31"]]) is None
    assert company_from_file_name("한빛상사_계정별원장_202403.xlsx") == "한빛상사"
    for generic in (
        "ledger_2024-03.csv",
        "계정별원장_2024-03.xlsx",
        "매입_2024-03.csv",
        "2024-03.csv",
        "l_2024-03.csv",
    ):
        assert company_from_file_name(generic) is None, generic


def test_two_companies_files_are_never_merged(tmp_path: Path) -> None:
    rows = [JOURNAL_HEADER, ["2024-03-04", "스타벅스", "간식", 10_000, 1_000, 11_000, "81100"]]
    first = write_text(tmp_path / "한빛상사_전표_2024-03.csv", rows)
    second = write_text(tmp_path / "가나상사_전표_2024-03.csv", rows)
    ledgers = read_ledger_files([first, second], COLUMN_MAP, tmp_path)
    assert [(f.company, f.company_origin) for f in ledgers] == [("한빛상사", "file name"), ("가나상사", "file name")]
    assert not any("no company column" in w for f in ledgers for w in f.warnings)
    _, cleaned, rejected = cleaned_and_rejected(ledgers)
    assert cleaned["company_name"].tolist() == ["한빛상사", "가나상사"] and rejected.empty, "not duplicates"
    unnamed = [write_text(tmp_path / "전표_2024-03.csv", rows)]
    assert read_ledger_files(unnamed, COLUMN_MAP, tmp_path)[0].company == DEFAULT_COMPANY


def test_raw_ledger_metadata_counts_completed_dates(home: AcctaxHome) -> None:
    write_xlsx(home.landing / "분개장_2024-03.xlsx", {"분개장": [*PERIOD_TOP, JOURNAL_HEADER, *JOURNAL]})
    output = raw_ledger(build_asset_context(partition_key="2024-03-01"), LedgerSettings())
    metadata = {key: getattr(value, "value", value) for key, value in output.metadata.items()}
    assert as_mapping(metadata["dates_completed"]) == {
        "분개장_2024-03.xlsx": "year from period line 3, filled from the line above 2"
    }
    assert as_mapping(metadata["companies_assigned"]) == {"분개장_2024-03.xlsx": "(주)한빛상사 (company line)"}
    assert isinstance(output.value, pd.DataFrame) and len(output.value) == len(JOURNAL)
