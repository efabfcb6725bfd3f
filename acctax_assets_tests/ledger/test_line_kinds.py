"""Line kinds of printed reports: every line of a 계정별원장/매입매출장 print, in each format the readers take, ends
cleaned (transactions, with their exact values) or rejected with its kind (balances, subtotals, repeated headers,
title and page lines); nothing is lost and no structure line counts as an invalid row."""

import datetime
import re
from pathlib import Path

import pyarrow as pa
import pytest

from acctax_assets.errors import ColumnMapError
from acctax_assets.ledger import quality
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.ingestion import read_ledger_file
from acctax_assets.ledger.line_kinds import (
    LINE_MARKERS,
    STRUCTURE_KINDS,
    SUMMARY_ROW,
    TRANSACTION,
    LineMarkers,
    classify_lines,
)
from acctax_assets_tests.ledger.test_real_exports import (
    COLUMN_MAP,
    HEADER,
    cleaned_and_rejected,
    html_table,
    text_rows,
    write_text,
    write_xls,
    write_xlsx,
)


def line(day: int | None, party: str, memo: str, supply: int | str, code: str = "81100") -> list[object]:
    """A line under HEADER (date, party, memo, item, supply, VAT, total, code); `day` None prints no date."""
    date = datetime.datetime(2024, 3, day) if day else ""
    if isinstance(supply, str):
        return [date, party, memo, "", supply, "", "", code]
    return [date, party, memo, "커피", supply, supply // 10, supply + supply // 10, code]


# The print of one month: each line with the kind it must end as.
REPORT: list[tuple[list[object], str]] = [
    ([datetime.datetime(2024, 3, 1), "", "전기이월", "", "", "", 36_000_000, ""], "balance_row"),
    (line(4, "스타벅스 강남점", "직원 간식", 10_000), TRANSACTION),
    (line(4, "이마트 역삼점", "사무용품", 52_000), TRANSACTION),
    ([datetime.datetime(2024, 3, 4), "[일  계]", "", "", 62_000, 6_200, 68_200, ""], "summary_row"),
    (["", "", "", "", "", "", "- 1 -", ""], "page_artifact"),
    (["계정별원장", "", "", "", "", "", "", ""], "title_row"),
    (["기간: 2024.03.01 ~ 2024.03.31", "", "", "", "", "", "", ""], "title_row"),
    (HEADER, "header_row"),
    (line(5, "합계상사", "월계동 사무실 임대", 1_000_000, "81900"), TRANSACTION),
    (["", "", "", "** 월 계 **", 1_062_000, 106_200, 1_168_200, ""], "summary_row"),
    (["", "", "누 계", "", 1_062_000, 106_200, 1_168_200, ""], "summary_row"),
    ([datetime.datetime(2024, 3, 31), "", "차월이월", "", "", "", 37_168_200, ""], "balance_row"),
    (["출력일시: 2024-04-01 10:30", "", "", "", "", "", "", ""], "page_artifact"),
    (["", "", "", "", "", "", "Page 2 of 2", ""], "page_artifact"),
    # A total without any marker stays a transaction: kinds are read, never guessed from amounts.
    (line(31, "", "", 100_000), TRANSACTION),
]
TRANSACTIONS = [row for row, kind in REPORT if kind == TRANSACTION]


def write_report(tmp_path: Path, form: str) -> Path:
    rows = [["계정별원장"], ["기간: 2024.03.01 ~ 2024.03.31"], [], HEADER, *(row for row, _ in REPORT)]
    if form == "xlsx":
        return write_xlsx(tmp_path / "원장_2024-03.xlsx", {"원장": rows})
    if form == "xls":
        return write_xls(tmp_path / "원장_2024-03.xls", rows)
    if form == "html-as-xls":
        path = tmp_path / "원장_2024-03.xls"
        path.write_bytes(html_table(text_rows(rows)).encode("cp949"))
        return path
    if form == "cp949-csv":
        return write_text(tmp_path / "원장_2024-03.csv", text_rows(rows), encoding="cp949")
    return write_text(tmp_path / "원장_2024-03.txt", text_rows(rows), delimiter="\t")


@pytest.mark.parametrize("form", ["xlsx", "xls", "html-as-xls", "cp949-csv", "tab-text"])
def test_every_line_of_a_printed_report_ends_as_its_kind(tmp_path: Path, form: str) -> None:
    ledger = read_ledger_file(write_report(tmp_path, form), COLUMN_MAP, tmp_path)
    assert ledger.frame["line_kind"].tolist() == [kind for _, kind in REPORT]
    raw, cleaned, rejected = cleaned_and_rejected([ledger])
    assert cleaned["date"].dt.day.tolist() == [4, 4, 5, 31]
    assert cleaned["party_name"].fillna("").tolist() == ["스타벅스 강남점", "이마트 역삼점", "합계상사", ""]
    assert cleaned["supply_amount"].tolist() == [10_000, 52_000, 1_000_000, 100_000]
    assert cleaned["vat_amount"].tolist() == [1_000, 5_200, 100_000, 10_000]
    assert cleaned["acct_code"].tolist() == ["81100", "81100", "81900", "81100"]
    structure = [kind for _, kind in REPORT if kind != TRANSACTION]
    assert rejected["reject_reason"].tolist() == structure
    assert rejected.loc[0, "reject_detail"] == "balance row marked 전기이월"
    assert re.fullmatch(r"summary row marked \[일\s+계\]", rejected.loc[1, "reject_detail"]), "HTML collapses spaces"
    verdict = quality.rejected_share(len(raw), rejected, 0.05, 0.25)
    assert verdict.passed and verdict.metadata["rejected_share"] == 0, "structure lines are not invalid rows"
    assert ledger.structure_lines == {kind: structure.count(kind) for kind in STRUCTURE_KINDS if kind in structure}


def decorated(word: str) -> list[str]:
    """The ways programs print a marker: spaced letters, brackets, stars, a month before it."""
    spaced = " ".join(word)
    return [
        word,
        spaced,
        f"[{word}]",
        f"[ {spaced} ]",
        f"** {word} **",
        f"<{word}>",
        f"({word})",
        f"3월 {word}",
        f"［{word}］",
    ]


def one_line(cell: str, position: int = 1) -> str:
    cells = ["2024-03-31", "", "", "1,000"]
    cells[position] = cell
    kinds = classify_lines([pa.array([c]) for c in cells], [], LineMarkers.default())
    return kinds.kind.to_pylist()[0]


@pytest.mark.parametrize(("kind", "word"), [(k, w) for k, words in LINE_MARKERS.items() for w in words])
def test_every_marker_counts_however_decorated_and_wherever_it_stands(kind: str, word: str) -> None:
    for cell in decorated(word):
        for position in (1, 2):
            assert one_line(cell, position) == kind, (cell, position)
        assert LineMarkers.default().may_occur_in(f"2024-03-31,{cell},1000\n"), cell


@pytest.mark.parametrize(
    "cell",
    [
        "합계상사",
        "월계동 사무실 임대",
        "감가상각누계액",
        "전기이월 미지급금 지급",
        "합계표 인쇄",
        "소계정",
        "기간제 근로자 급여",
    ],
)
def test_a_marker_inside_a_longer_text_is_not_a_marker(cell: str) -> None:
    assert one_line(cell) == TRANSACTION and one_line(cell, 2) == TRANSACTION


def test_a_page_number_counts_only_on_a_nearly_empty_line() -> None:
    cells = [pa.array(["2024-03-05", ""]), pa.array(["스타벅스", ""]), pa.array(["1/3", "1/3"])]
    assert classify_lines(cells, [], LineMarkers.default()).kind.to_pylist() == [TRANSACTION, "page_artifact"]


def test_an_office_adds_its_programs_markers_in_the_column_map(tmp_path: Path) -> None:
    override = tmp_path / "column_map.yaml"
    override.write_text("line_markers:\n  summary_row: [주계, 주 합 계]\n", encoding="utf-8")
    column_map = load_column_map(override)
    rows = [HEADER, line(4, "스타벅스", "간식", 10_000), ["", "[주계]", "", "", 10_000, 1_000, 11_000, ""]]
    ledger = read_ledger_file(write_text(tmp_path / "l_2024-03.csv", text_rows(rows)), column_map, tmp_path)
    assert ledger.frame["line_kind"].tolist() == [TRANSACTION, SUMMARY_ROW]
    assert read_ledger_file(tmp_path / "l_2024-03.csv", COLUMN_MAP, tmp_path).frame["line_kind"].tolist() == [
        TRANSACTION,
        TRANSACTION,
    ], "without the office's word the line is not a summary"


@pytest.mark.parametrize(
    "text", ["line_markers: [주계]\n", "line_markers:\n  totals: [주계]\n", "line_markers:\n  summary_row: 주계\n"]
)
def test_invalid_line_markers_are_clear_errors(tmp_path: Path, text: str) -> None:
    override = tmp_path / "column_map.yaml"
    override.write_text(text, encoding="utf-8")
    with pytest.raises(ColumnMapError, match="line_markers"):
        load_column_map(override)


def test_plain_voucher_exports_skip_the_search(tmp_path: Path) -> None:
    rows = [HEADER, *(line(day, "스타벅스", "간식", 10_000) for day in (4, 5, 6))]
    ledger = read_ledger_file(write_text(tmp_path / "l_2024-03.csv", text_rows(rows)), COLUMN_MAP, tmp_path)
    assert not COLUMN_MAP.line_markers.may_occur_in((tmp_path / "l_2024-03.csv").read_text(encoding="utf-8")[60:])
    assert set(ledger.frame["line_kind"]) == {TRANSACTION} and ledger.structure_lines == {}


def test_a_descriptive_column_empty_on_every_line_is_its_own_warning(tmp_path: Path) -> None:
    rows = [
        HEADER,
        line(4, "스타벅스", "", 10_000),
        line(5, "이마트", "", 20_000),
        ["", "", "[월계]", "", 30_000, 3_000, 33_000, ""],
    ]
    for row in rows[1:3]:
        row[3] = ""
    ledger = read_ledger_file(write_text(tmp_path / "l_2024-03.csv", text_rows(rows)), COLUMN_MAP, tmp_path)
    empty = [w for w in ledger.warnings if "is empty on every line" in w]
    assert len(empty) == 2 and "'적요명' (desc)" in empty[0] and "'매입.품명' (item)" in empty[1]
    assert all(w.startswith("l_2024-03.csv: ") and "column_map.yaml" in w for w in empty)
    assert not any("거래처명" in w for w in empty), "the party is filled"


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        ("출력일시 2024-04-01 10:30", "page_artifact"),
        ("작성자: 홍길동", "page_artifact"),
        ("기간 2024.03.01 ~ 2024.03.31", "title_row"),
        ("Page 1 Limited", TRANSACTION),
        ("거래처 관리 수수료", TRANSACTION),
    ],
)
def test_a_label_counts_only_before_a_colon_or_a_bare_date(cell: str, kind: str) -> None:
    assert one_line(cell, 1) == kind


@pytest.mark.parametrize("cell", ["거래처 3", "상호 12", "기간 3"])
def test_a_title_label_with_a_bare_number_is_a_name(cell: str) -> None:
    assert one_line(cell, 1) == TRANSACTION
