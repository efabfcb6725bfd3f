"""Accounting-software exports as they come out: title blocks, totals lines, 원 amounts, legacy and disguised
`.xls`, cover sheets, TSV, missing company columns and a month of one file per client company. Each form ends
cleaned, quarantined with its own reason, or as an error that names the fix."""

import csv
import datetime
import io
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
import xlwt
from dagster import build_asset_context

from acctax_assets.defs.metadata_format import as_mapping, table_text
from acctax_assets.defs.raw_ledger import raw_ledger
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import ColumnMapError, LedgerFileError
from acctax_assets.ledger import quality
from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file, read_ledger_files, read_ledger_sheets
from acctax_assets.ledger.landing import files_for_month, list_landing_files, month_of_file
from acctax_assets.ledger.line_kinds import LineMarkers, classify_lines
from acctax_assets.ledger.schema import DEFAULT_COMPANY
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.ledger_files import BASE_ROW, ledger_rows, write_ledger

MARCH = "2024-03-01"
RULES = CleaningRules()
COLUMN_MAP = load_column_map()
HEADER = [
    "전표일자",
    "거래처명",
    "적요명",
    "매입.품명",
    "매입.공급가액",
    "매입.부가세",
    "매입.합계금액",
    "계정과목코드",
]


def voucher(day: int, supply: int = 10_000, item: str = "커피") -> list[object]:
    """One voucher line under HEADER, with a date cell and number cells as a spreadsheet holds them."""
    return [
        datetime.datetime(2024, 3, day),
        "스타벅스 강남점",
        "직원 간식",
        item,
        supply,
        supply // 10,
        supply + supply // 10,
        "81100",
    ]


def title_block() -> list[list[object]]:
    """The rows 더존-style software writes above the header: title, period, a blank row."""
    return [["매입매출장"], ["기간: 2024.03.01 ~ 2024.03.31"], []]


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row, start=1):
                sheet.cell(row=number, column=column, value=value)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def write_text(path: Path, rows: list[list[object]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def text_rows(rows: list[list[object]]) -> list[list[object]]:
    """Rows as a CSV export writes them: dates as text."""
    return [[f"{v:%Y-%m-%d}" if isinstance(v, datetime.datetime) else v for v in row] for row in rows]


def cleaned_and_rejected(ledgers: list, month: str = MARCH) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    raw = combine(ledgers)
    result = clean_ledger(raw, month, RULES)
    assert len(result.cleaned) + len(result.rejected) == len(raw), "every raw row is cleaned or rejected"
    return raw, result.cleaned, result.rejected


# ---------------------------------------------------------------------------------------------------------
# Header detection.


def test_xlsx_title_block_is_skipped_and_rows_keep_their_spreadsheet_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "매입매출장_2024-03.xlsx",
        {"매입매출장": [*title_block(), HEADER, voucher(5), voucher(6), [], voucher(7)]},
    )
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.preamble_rows == 3 and ledger.kind == "xlsx"
    assert ledger.source_file == "매입매출장_2024-03.xlsx", "a one-sheet workbook keeps its plain path"
    frame = ledger.frame
    assert frame["source_row"].tolist() == [5, 6, 8], "header on row 4: data from row 5; the blank row 7 is skipped"
    assert frame["date"].tolist() == ["2024-03-05", "2024-03-06", "2024-03-07"], "Excel date cells come out as text"
    assert frame["supply_amount"].tolist() == ["10000"] * 3
    _, cleaned, rejected = cleaned_and_rejected([ledger])
    assert len(cleaned) == 3 and rejected.empty


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_text_title_block_is_skipped_on_both_readers(tmp_path: Path, suffix: str) -> None:
    delimiter = "\t" if suffix == ".tsv" else ","
    rows = text_rows([*title_block(), HEADER, voucher(5), voucher(6)])
    fast = read_ledger_file(
        write_text(tmp_path / f"fast_2024-03{suffix}", rows, delimiter=delimiter), COLUMN_MAP, tmp_path
    )
    rows.insert(5, [])
    checked = read_ledger_file(
        write_text(tmp_path / f"checked_2024-03{suffix}", rows, delimiter=delimiter), COLUMN_MAP, tmp_path
    )
    assert fast.preamble_rows == checked.preamble_rows == 3
    assert fast.frame["source_row"].tolist() == [5, 6]
    assert checked.frame["source_row"].tolist() == [5, 7], "a blank line sends the file to the checked reader"
    assert fast.frame["party_name"].tolist() == checked.frame["party_name"].tolist() == ["스타벅스 강남점"] * 2


def test_two_header_like_rows_first_best_wins_and_is_reported(tmp_path: Path) -> None:
    rows = text_rows([["전표일자", "거래처명", "비고"], HEADER, voucher(5), HEADER, voucher(6)])
    ledger = read_ledger_file(write_text(tmp_path / "ledger_2024-03.csv", rows), COLUMN_MAP, tmp_path)
    assert ledger.preamble_rows == 1, "row 2 names more known columns than row 1"
    assert any("rows 2 and 1 both look like a header" in w for w in ledger.warnings), ledger.warnings
    tie = text_rows([HEADER, HEADER, voucher(5)])
    ledger = read_ledger_file(write_text(tmp_path / "tie_2024-03.csv", tie), COLUMN_MAP, tmp_path)
    assert ledger.preamble_rows == 0 and any("rows 1 and 2 both look like a header" in w for w in ledger.warnings)
    _, _cleaned, rejected = cleaned_and_rejected([ledger])
    assert rejected["reject_reason"].tolist() == ["header_row"], "the repeated header line is quarantined, not lost"


def test_no_header_anywhere_lists_the_candidate_rows_and_the_fix(tmp_path: Path) -> None:
    rows = [["Monthly purchases"], [], ["Day", "Vendor", "Net", "VAT"], ["2024-03-05", "Starbucks", "10000", "1000"]]
    path = write_text(tmp_path / "ledger_2024-03.csv", rows)
    with pytest.raises(LedgerFileError) as error:
        read_ledger_file(path, COLUMN_MAP, tmp_path)
    message = str(error.value)
    assert message.startswith(str(path))
    assert "row 1: ['Monthly purchases']; row 2: (blank); row 3: ['Day', 'Vendor', 'Net', 'VAT']" in message
    assert "row 4: ['2024-03-05', 'Starbucks'" in message
    assert "전표일자" in message and "column_map.yaml" in message and "re-export" in message


def test_header_without_a_date_column_is_named_in_the_error(tmp_path: Path) -> None:
    rows = text_rows([HEADER, voucher(5)])
    rows[0][0] = "작성일"
    with pytest.raises(LedgerFileError, match=r"row 1 names 7 known columns but no date column"):
        read_ledger_file(write_text(tmp_path / "ledger_2024-03.csv", rows), COLUMN_MAP, tmp_path)
    override = tmp_path / "column_map.yaml"
    override.write_text("columns:\n  작성일: date\n", encoding="utf-8")
    ledger = read_ledger_file(tmp_path / "ledger_2024-03.csv", load_column_map(override), tmp_path)
    assert ledger.frame["date"].tolist() == ["2024-03-05"]


# ---------------------------------------------------------------------------------------------------------
# Totals lines, 원 amounts.


def test_cp949_csv_with_won_amounts_and_a_totals_row(tmp_path: Path) -> None:
    rows = text_rows([HEADER, voucher(5), voucher(6), voucher(7, supply=20_000)])
    for row in rows[1:]:
        row[4:7] = [f"{int(v):,}원" for v in row[4:7]]
    rows.append(["합계", "", "", "", "40,000원", "4,000원", "44,000원", ""])
    path = write_text(tmp_path / "매입_2024-03.csv", rows, encoding="cp949")
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.encoding == "cp949" and ledger.structure_lines == {"summary_row": 1}
    raw, cleaned, rejected = cleaned_and_rejected([ledger])
    assert cleaned["supply_amount"].tolist() == [10_000, 10_000, 20_000]
    assert cleaned["total_amount"].tolist() == [11_000, 11_000, 22_000]
    assert rejected["reject_reason"].tolist() == ["summary_row"]
    assert rejected["source_row"].tolist() == [5] and "합계" in rejected["reject_detail"].iloc[0]
    assert quality.rejected_share(len(raw), rejected, 0.05, 0.25).passed, "a totals line is not an invalid row"


def is_marker(cell: str) -> bool:
    """Whether a lone cell makes its line a summary line (the classifier run on a one-cell line)."""
    kinds = classify_lines([pa.array([cell]), pa.array(["스타벅스"]), pa.array(["1,000"])], [], LineMarkers.default())
    return kinds.kind.to_pylist() == ["summary_row"]


@pytest.mark.parametrize(
    ("header", "totals"),
    [
        (["No", *HEADER], ["", "", "", "", "", "30,000", "3,000", "33,000", ""]),
        (["No", *HEADER], ["합 계", "", "", "", "", "30,000", "3,000", "33,000", ""]),
        (HEADER, ["[월계]", "", "", "", "30,000", "3,000", "33,000", ""]),
        (HEADER, ["[ 누 계 ]", "", "", "", "30,000", "3,000", "33,000", ""]),
        (HEADER, ["", "** 합계 **", "", "", "30,000", "3,000", "33,000", ""]),
        (["구분", *HEADER], ["소계", "2024-03-31", "", "", "", "30,000", "3,000", "33,000", ""]),
        (HEADER, ["총계", "", "", "", "30,000", "3,000", "33,000", ""]),
    ],
)
def test_totals_lines_are_summary_rows_wherever_the_marker_sits(
    tmp_path: Path, header: list[str], totals: list[str]
) -> None:
    body = [
        row if len(header) == len(HEADER) else ["1", *row] for row in text_rows([voucher(5), voucher(6), voucher(7)])
    ]
    path = write_text(tmp_path / "ledger_2024-03.csv", [header, *body, totals])
    _, cleaned, rejected = cleaned_and_rejected([read_ledger_file(path, COLUMN_MAP, tmp_path)])
    assert len(cleaned) == 3
    marked = any(is_marker(cell) for cell in totals if cell)
    expected = "summary_row" if marked else "missing_date"
    assert rejected["reject_reason"].tolist() == [expected], "no marker: an undated line is a missing date, as before"


def test_a_voucher_line_mentioning_a_total_is_not_a_totals_line(tmp_path: Path) -> None:
    rows = text_rows([HEADER, voucher(5, item="합계표 인쇄"), voucher(6, item="월계동 사무실 임대")])
    _, cleaned, rejected = cleaned_and_rejected(
        [read_ledger_file(write_text(tmp_path / "l_2024-03.csv", rows), COLUMN_MAP, tmp_path)]
    )
    assert cleaned["item"].tolist() == ["합계표 인쇄", "월계동 사무실 임대"] and rejected.empty


@pytest.mark.parametrize(
    "cell", ["합계", "합 계", "[월계]", "[월 계]", "** 합계 **", "<소계>", "(누계)", " 총계 ", "합계:"]
)
def test_totals_marker_forms(cell: str) -> None:
    assert is_marker(cell)


@pytest.mark.parametrize("cell", ["합계금액", "월계동", "감가상각누계액", "3월 합계표", "계", "합"])
def test_not_totals_markers(cell: str) -> None:
    assert not is_marker(cell)


# ---------------------------------------------------------------------------------------------------------
# File kinds.


def write_xls(path: Path, rows: list[list[object]]) -> Path:
    """A real BIFF .xls as legacy Excel writes it, with true date cells."""
    book = xlwt.Workbook()
    sheet = book.add_sheet("매입")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for number, row in enumerate(rows):
        for column, value in enumerate(row):
            if isinstance(value, datetime.datetime):
                sheet.write(number, column, value, date_style)
            else:
                sheet.write(number, column, value)
    book.save(str(path))
    return path


def test_real_xls_is_read_with_its_date_cells(tmp_path: Path) -> None:
    path = write_xls(tmp_path / "ledger_2024-03.xls", [*title_block(), HEADER, voucher(5), voucher(6)])
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.kind == "xls" and not any("named .xls" in w for w in ledger.warnings)
    assert ledger.frame["date"].tolist() == ["2024-03-05", "2024-03-06"]
    assert ledger.frame["source_row"].tolist() == [5, 6] and ledger.frame["supply_amount"].tolist() == ["10000"] * 2
    _, cleaned, rejected = cleaned_and_rejected([ledger])
    assert len(cleaned) == 2 and rejected.empty


def html_table(rows: list[list[object]]) -> str:
    cells = "".join(
        "<tr>" + "".join(f"<td>{'' if value is None else value}</td>" for value in row) + "</tr>" for row in rows
    )
    return f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"></head><body><table border=1>{cells}</table></body></html>'


def test_xls_that_is_html_is_read_as_html(tmp_path: Path) -> None:
    rows = [
        ["<b>매입매출장</b>"],
        [],
        ["전표일자", "거래처코드", *HEADER[1:]],
        ["2024-03-05", "00123", *text_rows([voucher(5)])[0][1:]],
    ]
    path = tmp_path / "ledger_2024-03.xls"
    path.write_bytes(html_table(rows).encode("cp949"))
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert (ledger.kind, ledger.encoding, ledger.preamble_rows) == ("html", "cp949", 2)
    assert any("named .xls but is an HTML table" in w for w in ledger.warnings)
    assert ledger.frame["party_code"].tolist() == ["00123"], "codes keep their leading zeros"
    assert ledger.frame["source_row"].tolist() == [4]
    _, cleaned, rejected = cleaned_and_rejected([ledger])
    assert len(cleaned) == 1 and rejected.empty


def test_xls_that_is_xlsx_or_csv_is_read_for_what_it_is(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "real.xlsx", {"Sheet1": [HEADER, voucher(5)]})
    disguised = tmp_path / "zip_2024-03.xls"
    disguised.write_bytes(xlsx.read_bytes())
    text = write_text(tmp_path / "text_2024-03.xls", text_rows([HEADER, voucher(5)]))
    for path, kind in ((disguised, "xlsx"), (text, "text")):
        ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
        assert ledger.kind == kind and ledger.frame["date"].tolist() == ["2024-03-05"]
        assert any("named .xls but is" in w for w in ledger.warnings)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"%PDF-1.7 ...", "is a PDF document"),
        (
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "Excel 2003 XML spreadsheet",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "cannot be read as XLS: an OLE2"),
        (b"", "empty"),
    ],
)
def test_files_that_are_not_ledgers_say_what_they_are(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "ledger_2024-03.xls"
    path.write_bytes(content)
    with pytest.raises(LedgerFileError, match=rf"ledger_2024-03.xls: .*{problem}.*Fix: "):
        read_ledger_sheets(path, COLUMN_MAP, tmp_path)


def test_cover_sheet_is_skipped_and_named(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "hanbit_2024-03.xlsx",
        {
            "표지": [["2024년 3월 매입매출장"], ["작성자: 김회계"]],
            "매입": [*title_block(), HEADER, voucher(5), voucher(6)],
            "Sheet3": [],
        },
    )
    ledgers = read_ledger_sheets(path, COLUMN_MAP, tmp_path)
    assert [ledger.source_file for ledger in ledgers] == ["hanbit_2024-03.xlsx#매입"]
    assert any(
        "hanbit_2024-03.xlsx#표지: no ledger header" in w and "2024년 3월 매입매출장" in w for w in ledgers[0].warnings
    )
    assert not any("Sheet3" in w for w in ledgers[0].warnings), "an empty sheet is not worth a warning"
    assert read_ledger_file(path, COLUMN_MAP, tmp_path).frame["source_row"].tolist() == [5, 6]


def test_workbook_with_two_ledger_sheets_gives_one_ledger_file_each(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "ledger_2024-03.xlsx", {"매입": [HEADER, voucher(5)], "매출": [HEADER, voucher(6), voucher(7)]}
    )
    ledgers = read_ledger_sheets(path, COLUMN_MAP, tmp_path)
    assert [(ledger.source_file, ledger.rows) for ledger in ledgers] == [
        ("ledger_2024-03.xlsx#매입", 1),
        ("ledger_2024-03.xlsx#매출", 2),
    ]
    raw, cleaned, _ = cleaned_and_rejected(ledgers)
    assert set(raw["source_file"]) == {"ledger_2024-03.xlsx#매입", "ledger_2024-03.xlsx#매출"} and len(cleaned) == 3
    with pytest.raises(LedgerFileError, match="holds 2 ledger sheets"):
        read_ledger_file(path, COLUMN_MAP, tmp_path)
    other = write_xlsx(tmp_path / "upload.xlsx", {"매입": [HEADER, voucher(5)], "매출": [HEADER, voucher(6)]})
    assert month_of_file(other, COLUMN_MAP, tmp_path) == MARCH


def test_workbook_without_any_ledger_sheet_lists_each_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "ledger_2024-03.xlsx", {"표지": [["매입매출장"]], "메모": [["거래처", "메모"], ["스타벅스", "확인"]]}
    )
    with pytest.raises(
        LedgerFileError, match=r"sheet '표지': row 1: \['매입매출장'\] \| sheet '메모': row 1: \['거래처', '메모'\]"
    ):
        read_ledger_sheets(path, COLUMN_MAP, tmp_path)


@pytest.mark.parametrize("name", ["ledger_2024-03.tsv", "ledger_2024-03.txt", "tabs_2024-03.csv"])
def test_tab_separated_exports_are_sniffed(tmp_path: Path, name: str) -> None:
    rows = text_rows([HEADER, voucher(5), voucher(6)])
    rows[1][4:7] = ["10,000", "1,000", "11,000"]
    ledger = read_ledger_file(write_text(tmp_path / name, rows, delimiter="\t"), COLUMN_MAP, tmp_path)
    assert ledger.frame["supply_amount"].tolist() == ["10,000", "10000"]
    _, cleaned, rejected = cleaned_and_rejected([ledger])
    assert len(cleaned) == 2 and rejected.empty


def test_utf16_unicode_text_export(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "ledger_2024-03.txt", text_rows([HEADER, voucher(5)]), encoding="utf-16", delimiter="\t"
    )
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.encoding == "utf-16" and ledger.frame["party_name"].tolist() == ["스타벅스 강남점"]


# ---------------------------------------------------------------------------------------------------------
# Missing columns, company from configuration.


def test_company_from_sources_config_else_the_default(tmp_path: Path) -> None:
    columns = [c for c in BASE_ROW if c not in ("company_name", "item")]
    hanbit = write_ledger(tmp_path / "hanbit_2024-01.csv", ledger_rows(2), columns=columns)
    other = write_ledger(tmp_path / "매입_2024-01.csv", ledger_rows(1, voucher_key="X-1"), columns=columns)
    override = tmp_path / "column_map.yaml"
    override.write_text(
        "sources:\n  'hanbit_*.csv':\n    company: 주식회사 한빛\n    columns:\n      비고: desc\n", encoding="utf-8"
    )
    column_map = load_column_map(override)
    configured, defaulted = read_ledger_files([hanbit, other], column_map, tmp_path)
    assert (configured.company_origin, configured.company) == ("config", "주식회사 한빛")
    assert not any("company" in w for w in configured.warnings)
    assert (defaulted.company_origin, defaulted.company) == ("default", DEFAULT_COMPANY)
    assert any("no company column" in w and "company:" in w for w in defaulted.warnings)
    assert {"item", "business_type"} <= set(
        configured.columns_missing
    ) and "company_name" not in configured.columns_missing
    result = clean_ledger(combine([configured, defaulted]), "2024-01-01", RULES)
    assert result.cleaned["company_name"].tolist() == ["주식회사 한빛", "주식회사 한빛", DEFAULT_COMPANY]
    assert result.cleaned["item"].isna().all() and result.rejected.empty
    assert len(build_features(result.cleaned)) == 3, "features build without item or a company column"


def test_supply_amount_is_derived_from_the_total(tmp_path: Path) -> None:
    columns = [c for c in BASE_ROW if c != "supply_amount"]
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(1), columns=columns)
    cleaned = clean_ledger(combine([read_ledger_file(path, COLUMN_MAP, tmp_path)]), "2024-01-01", RULES).cleaned
    assert cleaned[["supply_amount", "vat_amount", "total_amount"]].iloc[0].tolist() == [10_000, 1_000, 11_000]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sources:\n  'a*.csv':\n    company: 3\n", "company must be the company's name"),
        ("sources:\n  'a*.csv':\n    company: ''\n", "company must be the company's name"),
        ("sources:\n  'a*.csv':\n    columns: [a, b]\n", r"sources\['a\*.csv'\].columns must map headers"),
        ("sources:\n  'a*.csv': [x]\n", "must map headers to column names"),
    ],
)
def test_invalid_sources_entries_are_clear_errors(tmp_path: Path, text: str, problem: str) -> None:
    override = tmp_path / "column_map.yaml"
    override.write_text(text, encoding="utf-8")
    with pytest.raises(ColumnMapError, match=problem):
        load_column_map(override)


def test_raw_ledger_metadata_shows_preamble_company_and_missing_columns(home: AcctaxHome) -> None:
    write_xlsx(
        home.landing / "hanbit_2024-03.xlsx", {"표지": [["매입매출장"]], "매입": [*title_block(), HEADER, voucher(5)]}
    )
    write_text(
        home.landing / "매입매출장_2024-03.csv",
        text_rows([HEADER, voucher(6), ["합계", "", "", "", "10000", "1000", "11000", ""]]),
    )
    home.column_map_override.write_text("sources:\n  'hanbit_*':\n    company: 주식회사 한빛\n", encoding="utf-8")
    output = raw_ledger(build_asset_context(partition_key=MARCH), LedgerSettings())
    metadata = {key: getattr(value, "value", value) for key, value in output.metadata.items()}
    assert metadata["files"] == 2 and metadata["rows"] == 3
    assert as_mapping(metadata["preamble_rows"]) == {"hanbit_2024-03.xlsx#매입": 3}
    assert as_mapping(metadata["companies_assigned"]) == {
        "hanbit_2024-03.xlsx#매입": "주식회사 한빛 (config)",
        "매입매출장_2024-03.csv": f"{DEFAULT_COMPANY} (default)",
    }
    assert "vat_type" in as_mapping(metadata["columns_missing"])["매입매출장_2024-03.csv"]
    table = table_text(metadata["source_files"])
    assert re.search(r"hanbit_2024-03.xlsx#매입\s*\|\s*xlsx", table) and "structure_lines" in table


# ---------------------------------------------------------------------------------------------------------
# One file per client company.


def test_four_hundred_small_files_of_one_month_are_all_accounted_for(tmp_path: Path) -> None:
    companies = 400
    for number in range(companies):
        rows = text_rows([HEADER, *(voucher(1 + (number + i) % 28, supply=1_000 * (number + 1) + i) for i in range(3))])
        if number == 7:
            rows.insert(1, [""] * len(HEADER))
        if number == 11:
            rows.append(["2024-03-09", "잘린 줄"])
        if number % 50 == 0:
            rows.append(["[월 계]", "", "", "", "3,000", "300", "3,300", ""])
        write_text(tmp_path / f"client{number:03d}_2024-03.csv", rows)
    files, unmapped = files_for_month(list_landing_files(tmp_path), MARCH, COLUMN_MAP, tmp_path)
    assert len(files) == companies and not unmapped
    ledgers = read_ledger_files(files, COLUMN_MAP, tmp_path)
    raw, cleaned, rejected = cleaned_and_rejected(ledgers)
    sizes = raw.groupby("source_file").size()
    assert sizes.to_dict() == {f"client{n:03d}_2024-03.csv": 3 + (n % 50 == 0) + (n == 11) for n in range(companies)}
    assert len(cleaned) == companies * 3
    assert rejected["reject_reason"].value_counts().to_dict() == {"summary_row": companies // 50, "malformed_line": 1}
    shifted = raw[raw["source_file"] == "client007_2024-03.csv"]["source_row"].tolist()
    assert shifted == [3, 4, 5], "the delimiters-only line 2 is blank: numbering keeps it"
    assert raw[raw["source_file"] == "client050_2024-03.csv"]["source_row"].tolist() == [2, 3, 4, 5]
    assert cleaned.groupby("source_file")["supply_amount"].min().loc["client399_2024-03.csv"] == 400_000
