"""Reports as accounting programs print them: a header over two rows with merged group cells (XLSX, XLS, HTML,
CP949 CSV) is read as one header of flattened names, and a month's non-ledger files (a cover sheet, a 일계표, a
summary) are skipped with a warning instead of sinking the month."""

import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlwt
from dagster import build_asset_context

from acctax_assets.defs.raw_ledger import raw_ledger
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.headers import KnownHeaders, find_header
from acctax_assets.ledger.ingestion import LedgerFile, combine, read_ledger_files
from acctax_assets.ledger.landing import files_for_month
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.ledger.test_real_exports import text_rows, title_block, write_text, write_xlsx

MARCH = "2024-03-01"
COLUMN_MAP = load_column_map()

# 더존-style 매입매출장 as printed: 매입 merged over its three amounts, the other columns merged over both rows.
GROUP_ROW = ["전표일자", "거래처명", "적요", "매입", "", "", "계정과목코드"]
LEAF_ROW = ["", "", "", "공급가액", "부가세", "합계", ""]
# (date, party, memo, supply, VAT, total, account code) per voucher line.
LINES = [
    (datetime.datetime(2024, 3, 5), "스타벅스 강남점", "직원 간식", 10_000, 1_000, 11_000, "81100"),
    (datetime.datetime(2024, 3, 12), "(주)오피스디포", "복사용지", 254_500, 25_450, 279_950, "83000"),
    (datetime.datetime(2024, 3, 28), "SK에너지", "주유 환불", -50_000, -5_000, -55_000, "82200"),
]
EXPECTED = [(line[0].strftime("%Y-%m-%d"), line[1], line[3], line[4], line[5]) for line in LINES]


def cleaned_lines(ledgers: list[LedgerFile]) -> list[tuple[str, str, int, int, int]]:
    """Every raw row cleaned (none rejected), as (date, party, supply, VAT, total) per line in file order."""
    raw = combine(ledgers)
    result = clean_ledger(raw, MARCH, CleaningRules())
    assert result.rejected.empty, result.rejected.to_dict("records")
    cleaned = result.cleaned.sort_values(["source_file", "source_row"])
    columns = ["date", "party_name", "supply_amount", "vat_amount", "total_amount"]
    return [(str(pd.Timestamp(d).date()), p, s, v, t) for d, p, s, v, t in cleaned[columns].itertuples(index=False)]


def read(*paths: Path) -> list[LedgerFile]:
    return read_ledger_files(list(paths), COLUMN_MAP, paths[0].parent)


def assert_two_row_header(ledger: LedgerFile, header_row: int) -> None:
    """The group row and the leaf row read as one header: VAT and total mapped, the data right below it."""
    assert ledger.mapping.rename["매입.공급가액"] == "supply_amount"
    assert ledger.mapping.rename["매입.부가세"] == "vat_amount"
    assert ledger.mapping.rename["합계"] == "total_amount", "매입.합계 is unknown: its leaf 합계 is"
    assert ledger.mapping.rename["적요"] == "desc" and ledger.mapping.unknown == []
    assert ledger.preamble_rows == header_row - 1, "the header's last row counts as its row"
    assert ledger.frame["source_row"].tolist() == [header_row + 1, header_row + 2, header_row + 3]


# ---------------------------------------------------------------------------------------------------------
# Two-row headers in every format.


def test_xlsx_with_merged_header_cells(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "매입매출장_2024-03.xlsx", {"매입매출장": [*title_block(), GROUP_ROW, LEAF_ROW]})
    book = openpyxl.load_workbook(path)
    sheet = book["매입매출장"]
    for number, line in enumerate(LINES, start=6):
        for column, value in enumerate(line, start=1):
            sheet.cell(row=number, column=column, value=value)
    sheet.merge_cells("A1:G1")
    for column in "ABCG":
        sheet.merge_cells(f"{column}4:{column}5")
    sheet.merge_cells("D4:F4")
    book.save(path)
    [ledger] = read(path)
    assert_two_row_header(ledger, header_row=5)
    assert cleaned_lines([ledger]) == EXPECTED


def test_legacy_xls_with_merged_header_cells(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("매입매출장")
    sheet.write_merge(0, 0, 0, 6, "매입매출장")
    for column, name in enumerate(GROUP_ROW):
        if name and not LEAF_ROW[column]:
            sheet.write_merge(2, 3, column, column, name)
    sheet.write_merge(2, 2, 3, 5, "매입")
    for column in (3, 4, 5):
        sheet.write(3, column, LEAF_ROW[column])
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for number, line in enumerate(LINES, start=4):
        sheet.write(number, 0, line[0], date_style)
        for column, value in enumerate(line[1:], start=1):
            sheet.write(number, column, value)
    path = tmp_path / "매입매출장_2024-03.xls"
    book.save(str(path))
    [ledger] = read(path)
    assert ledger.kind == "xls"
    assert_two_row_header(ledger, header_row=4)
    assert cleaned_lines([ledger]) == EXPECTED


def test_html_with_colspan_and_rowspan(tmp_path: Path) -> None:
    """An HTML report saved as .xls: rowspan cells (in the header, and a party printed once over a day's two
    lines) leave the cells below them empty, so every later cell stays under its column."""
    body = "".join(
        "<tr>"
        + (f"<td>{line[0]:%Y-%m-%d}</td>")
        + (f'<td rowspan="2">{line[1]}</td>' if number == 1 else "" if number == 2 else f"<td>{line[1]}</td>")
        + "".join(f"<td>{value:,}</td>" if isinstance(value, int) else f"<td>{value}</td>" for value in line[2:])
        + "</tr>"
        for number, line in enumerate(LINES)
    )
    html = (
        "<html><body><table><tr><td colspan=7>매입매출장</td></tr><tr><td colspan=7>기간: 2024.03.01 ~ 2024.03.31</td></tr>"
        "<tr><th rowspan=2>전표일자</th><th rowspan=2>거래처명</th><th rowspan=2>적요</th><th colspan=3>매입</th>"
        "<th rowspan=2>계정과목코드</th></tr><tr><th>공급가액</th><th>부가세</th><th>합계</th></tr>"
        f"{body}</table></body></html>"
    )
    path = tmp_path / "매입매출장_2024-03.xls"
    path.write_bytes(html.encode("cp949"))
    [ledger] = read(path)
    assert ledger.kind == "html"
    assert_two_row_header(ledger, header_row=4)
    assert ledger.frame["party_name"].tolist() == ["스타벅스 강남점", "(주)오피스디포", ""]
    raw = combine([ledger])
    result = clean_ledger(raw, MARCH, CleaningRules())
    assert result.rejected.empty, result.rejected.to_dict("records")
    amounts = result.cleaned.sort_values("source_row")[["supply_amount", "vat_amount", "total_amount"]]
    assert [tuple(row) for row in amounts.itertuples(index=False)] == [line[3:6] for line in LINES]


@pytest.mark.parametrize(
    ("group_row", "leaf_row"),
    [
        (GROUP_ROW, LEAF_ROW),
        (
            ["", "", "", "매입", "", "", ""],
            ["전표일자", "거래처명", "적요", "공급가액", "부가세", "합계", "계정과목코드"],
        ),
        (GROUP_ROW, ["전표일자", "거래처명", "적요", "공급가액", "부가세", "합계", "계정과목코드"]),
    ],
    ids=["names-in-upper-row", "names-in-lower-row", "names-in-both-rows"],
)
def test_cp949_csv_with_the_group_printed_once(tmp_path: Path, group_row: list[str], leaf_row: list[str]) -> None:
    rows = text_rows([["매입매출장"], [], group_row, leaf_row, *[list(line) for line in LINES]])
    path = write_text(tmp_path / "매입매출장_2024-03.csv", rows, encoding="cp949")
    [ledger] = read(path)
    assert ledger.encoding == "cp949"
    assert_two_row_header(ledger, header_row=4)
    assert cleaned_lines([ledger]) == EXPECTED


def test_a_two_row_header_repeated_on_every_page_is_a_header_row_not_a_data_problem(tmp_path: Path) -> None:
    rows = [GROUP_ROW, LEAF_ROW, LINES[0], LINES[1], ["- 1 -"], GROUP_ROW, LEAF_ROW, LINES[2]]
    xlsx = write_xlsx(tmp_path / "매입매출장_2024-03.xlsx", {"매입매출장": rows})
    csv = write_text(tmp_path / "매입매출장_2024-03_b.csv", text_rows(rows), encoding="cp949")
    for path in (xlsx, csv):
        result = clean_ledger(combine(read(path)), MARCH, CleaningRules())
        assert result.rejected.set_index("source_row")["reject_reason"].to_dict() == {
            5: "page_artifact",
            6: "header_row",
            7: "header_row",
        }, path
        assert result.cleaned[["supply_amount", "vat_amount", "total_amount"]].to_numpy().tolist() == [
            list(line[3:6]) for line in LINES
        ]


def test_flattening_rules_and_the_printed_rows() -> None:
    """`group.leaf` when the map knows it; else the leaf when known and its column not yet named; else
    `group.leaf` kept as an unknown column. `rows` keeps the printed rows for a repeated page header."""
    known = KnownHeaders(
        {
            "전표일자": "date",
            "계정과목": "acct_name",
            "차변": "debit",
            "대변": "credit",
            "매입.공급가액": "supply_amount",
            "공급가액": "supply_amount",
        },
        ("전표일자",),
    )
    upper = ["전표일자", "계정과목", "금액", "", "매입", "매출", "비고"]
    lower = ["", "", "차변", "대변", "공급가액", "공급가액", "메모"]
    header = find_header(
        enumerate([["계정별원장"], upper, lower, ["2024-03-05", "여비", "1000", "", "", "", ""]]), known
    )
    assert header is not None and header.index == 2 and header.others == []
    assert header.cells == ["전표일자", "계정과목", "차변", "대변", "매입.공급가액", "매출.공급가액", "비고.메모"]
    assert header.rows == [upper, lower]
    assert header.known == 5


def test_a_title_or_a_data_row_next_to_a_one_row_header_is_not_a_second_header_row() -> None:
    known = KnownHeaders(
        {"전표일자": "date", "거래처명": "party_name", "공급가액": "supply_amount", "비고": "note"}, ("전표일자",)
    )
    header_row = ["전표일자", "거래처명", "공급가액", ""]
    for above, below in [
        (["매입매출장", "", "", ""], ["2024-03-05", "스타벅스", "10,000", "메모"]),
        (["기간: 2024.03.01 ~ 2024.03.31", "", "", "출력일: 2024.04.01"], ["", "", "10000", "메모"]),
    ]:
        header = find_header(enumerate([above, header_row, below]), known)
        assert header is not None and (header.index, header.cells, header.rows) == (1, header_row, [header_row])


# ---------------------------------------------------------------------------------------------------------
# A month's non-ledger files and sheets.

ILGYEPYO = [["일계표"], ["2024년 3월 31일"], ["차변", "", "계정과목", "대변", ""], ["계", "현금", "", "현금", "계"]]
SUMMARY = [["계정과목별 요약"], ["계정과목", "건수", "공급가액"], ["복리후생비", "1", "10,000"]]


def ledger_workbook(path: Path) -> Path:
    """A ledger workbook with a cover sheet before the ledger sheet."""
    header = ["전표일자", "거래처명", "적요", "매입.공급가액", "매입.부가세", "매입.합계금액", "계정과목코드"]
    return write_xlsx(path, {"표지": [["2024년 3월 매입매출장"], ["작성자: 김회계"]], "매입": [header, *LINES]})


def test_a_daily_summary_and_a_cover_sheet_beside_the_ledger_are_skipped_and_named(tmp_path: Path) -> None:
    ledger = ledger_workbook(tmp_path / "매입매출장_2024-03.xlsx")
    daily = write_xlsx(tmp_path / "일계표_2024-03.xlsx", {"일계표": ILGYEPYO})
    summary = write_text(tmp_path / "요약_2024-03.csv", SUMMARY, encoding="cp949")
    ledgers = read(daily, ledger, summary)
    assert [file.source_file for file in ledgers] == ["매입매출장_2024-03.xlsx#매입"]
    assert cleaned_lines(ledgers) == EXPECTED
    skipped = ledgers[0].skipped
    assert len(skipped) == 3 and all(note in ledgers[0].warnings for note in skipped)
    assert skipped[0].startswith("매입매출장_2024-03.xlsx#표지: no ledger header") and "김회계" in skipped[0]
    daily_note, summary_note = skipped[1:]
    assert daily_note.startswith("일계표_2024-03.xlsx: not a ledger, file skipped") and "['일계표']" in daily_note
    assert "this is not a ledger export: remove it" in daily_note
    assert (
        summary_note.startswith("요약_2024-03.csv: not a ledger, file skipped") and "'계정과목별 요약'" in summary_note
    )


def test_raw_ledger_metadata_lists_the_skipped_files_and_sheets(home: AcctaxHome) -> None:
    ledger_workbook(home.landing / "매입매출장_2024-03.xlsx")
    write_xlsx(home.landing / "일계표_2024-03.xlsx", {"일계표": ILGYEPYO})
    output = raw_ledger(build_asset_context(partition_key=MARCH), LedgerSettings())
    metadata = {key: getattr(value, "value", value) for key, value in output.metadata.items()}
    assert [note.split(":")[0] for note in metadata["files_skipped"]] == [
        "매입매출장_2024-03.xlsx#표지",
        "일계표_2024-03.xlsx",
    ]
    assert metadata["files"] == 2 and metadata["rows"] == 3


def test_a_month_of_only_non_ledger_files_is_one_error_naming_each_file_and_its_fix(tmp_path: Path) -> None:
    daily = write_xlsx(tmp_path / "일계표_2024-03.xlsx", {"일계표": ILGYEPYO})
    renamed = write_text(
        tmp_path / "officeB_2024-03.csv",
        [["거래일(전표)", "거래처명", "공급가액", "부가세"], ["2024-03-05", "a", "1", "0"]],
    )
    with pytest.raises(LedgerFileError) as error:
        read(daily, renamed)
    message = str(error.value)
    assert message.startswith("일계표_2024-03.xlsx, officeB_2024-03.csv: none of these 2 files holds a ledger")
    daily_part, renamed_part = message.split(" || ")
    assert "row 3: ['차변', '계정과목', '대변']" in daily_part
    assert "Fix for 일계표_2024-03.xlsx: this is not a ledger export" in daily_part
    assert "row 1 names 3 known columns but no date column" in renamed_part
    assert "Fix for officeB_2024-03.csv: map your date header" in renamed_part


def test_an_unreadable_file_beside_a_ledger_still_fails_the_month(tmp_path: Path) -> None:
    """A corrupt file may be the month's ledger cut short by a copy: it is not skipped, it fails with its fix."""
    ledger = ledger_workbook(tmp_path / "매입매출장_2024-03.xlsx")
    cut = tmp_path / "매입_2024-03_b.xlsx"
    cut.write_bytes(ledger.read_bytes()[:400])
    with pytest.raises(LedgerFileError, match="매입_2024-03_b.xlsx: cannot be read as XLSX.*Fix: copy the file again"):
        read(ledger, cut)


def test_an_undated_non_ledger_file_is_reported_as_unmapped(tmp_path: Path) -> None:
    ledger = ledger_workbook(tmp_path / "매입매출장_2024-03.xlsx")
    daily = write_xlsx(tmp_path / "일계표.xlsx", {"일계표": ILGYEPYO})
    selected, unmapped = files_for_month([ledger, daily], MARCH, COLUMN_MAP, tmp_path)
    assert selected == [ledger]
    assert len(unmapped) == 1 and unmapped[0].startswith(f"{daily}: no header row")
