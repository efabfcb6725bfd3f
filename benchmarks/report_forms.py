"""How the ledger reader ends on reports as Korean accounting programs print them, form by form and format by format.

    .venv/bin/python benchmarks/report_forms.py                  # this tree
    .venv/bin/python benchmarks/report_forms.py --against fdd48c2 # and the same files read by another revision

Each form is written in every format the readers take (XLSX, legacy XLS, HTML saved as .xls, CP949 CSV, tab text;
a two-row header as real merged cells in XLSX/XLS and printed once in the others) with a line-by-line truth: each
transaction's date, amount, counterparty and account code, and which lines are structure (balances, subtotals,
repeated headers, titles, page lines). The files are read with `read_ledger_files` + `clean_ledger` of the code
under test (a subprocess with PYTHONPATH at it; `--against` checks REV out in a temporary worktree), and each
case ends as one of:

- `ok`: every transaction cleaned with its exact values, every structure line rejected, nothing lost;
- `silent`: a structure line cleaned as a transaction, or a transaction cleaned with other values, or dropped
  from training as unlabelled — nobody is told;
- `refused`: the month fails (the message is shown) or transactions are rejected.

Columns: lines, transactions right/expected, structure lines cleaned as transactions, reasons of the rejected lines,
rejected_share (rejects that count as invalid, over lines). Output is a Markdown table per side.

Measured at 4799ee2 against fdd48c2 (before issue 22): fdd48c2 5 ok, 10 silent, 30 refused of 45 cases (the five
formats end alike on every form: silent on the dated-balance 매입매출장 — 4 structure lines cleaned as transactions —
and on code+name cells — read as unlabelled; refused on 계정별원장, 거래처원장, 분개장, the two-row header, the
3-digit chart and the month with a 일계표 file); this tree 45 ok. rejected_share 0 % on every form but 계정별원장,
8 %: its one total line without a marker or a date stays a transaction and is rejected as missing_date.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import xlwt

REPO = Path(__file__).resolve().parents[1]
MONTH = "2024-03-01"
FORMATS = ("xlsx", "xls", "html-as-xls", "cp949-csv", "tab-text")
Truth = tuple[str, int, str, str] | str  # a transaction (date, amount, party, code) or a structure kind


@dataclass
class Form:
    """One printed report: rows above the header, the header (1 or 2 rows: a group over leaves is merged in
    spreadsheets), its lines with their truth, and the column map an office would write for it."""

    name: str
    preamble: list[list[object]]
    header: list[list[str]]
    lines: list[tuple[list[object], Truth]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    column_map: str = ""
    extra: dict[str, list[list[object]]] = field(default_factory=dict)


def day(d: int) -> datetime.datetime:
    return datetime.datetime(2024, 3, d)


def t(d: int, amount: int, party: str, code: str) -> Truth:
    return (f"2024-03-{d:02d}", amount, party, code)


VOUCHER = ["전표일자", "거래처명", "적요명", "공급가액", "부가세", "합계금액", "계정과목코드"]


def voucher_list() -> Form:
    """매입매출장 as a flat list: title block, 합계 in the first cell (the form the reader always knew)."""
    return Form(
        "매입매출장 (flat, 합계 first cell)",
        [["매입매출장"], ["기간: 2024.03.01 ~ 2024.03.31"]],
        [VOUCHER],
        [
            ([day(4), "스타벅스", "직원 간식", 10_000, 1_000, 11_000, "81100"], t(4, 10_000, "스타벅스", "81100")),
            ([day(5), "이마트", "사무용품", 20_000, 2_000, 22_000, "83000"], t(5, 20_000, "이마트", "83000")),
            (["합계", "", "", 30_000, 3_000, 33_000, ""], "summary_row"),
        ],
    )


def voucher_print() -> Form:
    """매입매출장 printed with its structure lines dated or marked away from the first cell: a dated 전기이월 with
    the marker in 적요, a dated [일 계] in the party column, 월계 in 적요, the header again, a footer."""
    return Form(
        "매입매출장 (dated balances, markers mid-line)",
        [["매입매출장"], ["기간: 2024.03.01 ~ 2024.03.31"]],
        [VOUCHER],
        [
            ([day(1), "", "전기이월", "", "", 36_000_000, "81100"], "balance_row"),
            ([day(4), "스타벅스", "직원 간식", 10_000, 1_000, 11_000, "81100"], t(4, 10_000, "스타벅스", "81100")),
            ([day(4), "[일  계]", "", 10_000, 1_000, 11_000, "81100"], "summary_row"),
            (VOUCHER, "header_row"),
            ([day(5), "이마트", "사무용품", 20_000, 2_000, 22_000, "83000"], t(5, 20_000, "이마트", "83000")),
            ([day(31), "", "** 월 계 **", 30_000, 3_000, 33_000, "83000"], "summary_row"),
            ([day(31), "", "차월이월", "", "", 36_033_000, "81100"], "balance_row"),
            (["출력일시 : 2024-04-01 10:30", "", "", "", "", "", ""], "page_artifact"),
        ],
    )


def party_ledger() -> Form:
    """거래처원장: the counterparty printed once on each block's title line, 차변/대변 amounts."""
    return Form(
        "거래처원장 (party on block title)",
        [["거래처원장"], ["기간: 2024.03.01 ~ 2024.03.31"]],
        [["일자", "적요", "차변", "대변", "잔액", "계정과목코드"]],
        [
            (["거래처: 스타벅스 강남점", "", "", "", "", ""], "title_row"),
            ([day(4), "직원 간식", 10_000, "", 10_000, "81100"], t(4, 10_000, "스타벅스 강남점", "81100")),
            ([day(9), "회의 다과", 25_000, "", 35_000, "81100"], t(9, 25_000, "스타벅스 강남점", "81100")),
            (["거래처 : 이마트", "", "", "", "", ""], "title_row"),
            ([day(6), "사무용품", 20_000, "", 20_000, "83000"], t(6, 20_000, "이마트", "83000")),
            (["", "[합  계]", 55_000, "", "", ""], "summary_row"),
        ],
    )


def account_ledger() -> Form:
    """계정별원장 print: 차변/대변/잔액, dated 전기이월 with its marker in 적요, [일  계] in the party column, a
    page break with page number, title, period and the header again, 월계/누계, 차월이월, 출력일시 footer."""
    header = ["일자", "적요", "거래처", "차변", "대변", "잔액", "계정과목코드"]
    return Form(
        "계정별원장 (차변/대변, page breaks)",
        [["계정별원장"], ["기간: 2024.03.01 ~ 2024.03.31"]],
        [header],
        [
            ([day(1), "전기이월", "", "", "", 500_000, "81100"], "balance_row"),
            ([day(4), "직원 간식", "스타벅스", 10_000, "", 510_000, "81100"], t(4, 10_000, "스타벅스", "81100")),
            ([day(4), "", "[일  계]", 10_000, "", "", "81100"], "summary_row"),
            (["", "", "", "", "", "- 1 -", ""], "page_artifact"),
            (["계정별원장", "", "", "", "", "", ""], "title_row"),
            (header, "header_row"),
            ([day(9), "회식", "한우마을", 120_000, "", 630_000, "81100"], t(9, 120_000, "한우마을", "81100")),
            ([day(20), "환불", "한우마을", "", 20_000, 610_000, "81100"], t(20, 20_000, "한우마을", "81100")),
            (["", "", "", 130_000, 20_000, "", "81100"], TRANSACTION_WITHOUT_MARKER),
            (["", "** 월 계 **", "", 130_000, 20_000, "", "81100"], "summary_row"),
            (["", "누 계", "", 130_000, 20_000, "", "81100"], "summary_row"),
            ([day(31), "차월이월", "", "", "", 610_000, "81100"], "balance_row"),
            (["출력일시: 2024-04-01 10:30", "", "", "", "", "", ""], "page_artifact"),
        ],
    )


# A line with amounts and no marker at all stays a transaction (never guessed from amounts): here it has no date,
# so cleaning rejects it as a missing date in both versions; it is not counted among the structure lines.
TRANSACTION_WITHOUT_MARKER = "unmarked"


def journal_print() -> Form:
    """분개장 print: month-day dates, each day's date on its first line only, 일계 after each day."""
    return Form(
        "분개장 (03-05 dates, date once a day)",
        [["분개장"], ["회사명: (주)한빛상사", "", "기간: 2024.03.01 ~ 2024.03.31"]],
        [["일자", "거래처", "적요", "공급가액", "부가세", "합계금액", "계정과목코드"]],
        [
            (["03-04", "스타벅스", "간식", 10_000, 1_000, 11_000, "81100"], t(4, 10_000, "스타벅스", "81100")),
            (["", "이마트", "사무용품", 20_000, 2_000, 22_000, "83000"], t(4, 20_000, "이마트", "83000")),
            (["", "[일  계]", "", 30_000, 3_000, 33_000, ""], "summary_row"),
            (["03-05", "GS칼텍스", "주유", 50_000, 5_000, 55_000, "82200"], t(5, 50_000, "GS칼텍스", "82200")),
            (["", "쿠팡", "토너", 40_000, 4_000, 44_000, "83000"], t(5, 40_000, "쿠팡", "83000")),
        ],
    )


def two_row_header() -> Form:
    """매입매출장 with 매입 merged over 공급가액|부가세|합계 and the other headers merged over both rows."""
    return Form(
        "매입매출장 (two-row header)",
        [["매입매출장"]],
        [
            ["전표일자", "거래처명", "적요명", "매입", "", "", "계정과목코드"],
            ["", "", "", "공급가액", "부가세", "합계", ""],
        ],
        [
            ([day(4), "스타벅스", "간식", 10_000, 1_000, 11_000, "81100"], t(4, 10_000, "스타벅스", "81100")),
            ([day(6), "이마트", "비품", 30_000, 3_000, 33_000, "83000"], t(6, 30_000, "이마트", "83000")),
        ],
        merges=[(0, 3, 0, 5)] + [(0, c, 1, c) for c in (0, 1, 2, 6)],
    )


def code_in_name() -> Form:
    """A 계정과목 column holding code and name ("81100 복리후생비", "[830] …"), no code column."""
    return Form(
        "code+name in one cell",
        [],
        [["전표일자", "거래처명", "공급가액", "부가세", "합계금액", "계정과목"]],
        [
            ([day(4), "스타벅스", 10_000, 1_000, 11_000, "81100 복리후생비"], t(4, 10_000, "스타벅스", "81100")),
            ([day(5), "이마트", 20_000, 2_000, 22_000, "[83000] 소모품비"], t(5, 20_000, "이마트", "83000")),
            ([day(6), "GS칼텍스", 50_000, 5_000, 55_000, "차량유지비(82200)"], t(6, 50_000, "GS칼텍스", "82200")),
        ],
    )


def three_digit_chart() -> Form:
    """A KcLep/세무사랑 3-digit chart, declared in the column map."""
    return Form(
        "3-digit chart (chart: code_digits: 3)",
        [],
        [VOUCHER],
        [
            ([day(4), "스타벅스", "간식", 10_000, 1_000, 11_000, "811"], t(4, 10_000, "스타벅스", "811")),
            ([day(5), "이마트", "비품", 20_000, 2_000, 22_000, "830"], t(5, 20_000, "이마트", "830")),
        ],
        column_map="chart:\n  code_digits: 3\n",
    )


def with_daily_summary() -> Form:
    """The month's ledger beside a 일계표 file (no transaction lines)."""
    return Form(
        "ledger + 일계표 file",
        [],
        [VOUCHER],
        [([day(4), "스타벅스", "간식", 10_000, 1_000, 11_000, "81100"], t(4, 10_000, "스타벅스", "81100"))],
        extra={
            "일계표_2024-03": [
                ["일계표"],
                ["차변", "계정과목", "대변"],
                [10_000, "복리후생비", ""],
                [10_000, "현금", 10_000],
            ]
        },
    )


FORMS: list[Callable[[], Form]] = [
    voucher_list,
    voucher_print,
    party_ledger,
    account_ledger,
    journal_print,
    two_row_header,
    code_in_name,
    three_digit_chart,
    with_daily_summary,
]


def _text(value: object) -> object:
    return f"{value:%Y-%m-%d}" if isinstance(value, datetime.datetime) else value


def _write(path: Path, fmt: str, rows: list[list[object]], merges: list[tuple[int, int, int, int]]) -> Path:
    if fmt == "xlsx":
        path = path.with_suffix(".xlsx")
        book = openpyxl.Workbook()
        sheet = book.active
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value != "":
                    sheet.cell(row=r, column=c, value=value)
        for r1, c1, r2, c2 in merges:
            sheet.merge_cells(start_row=r1 + 1, start_column=c1 + 1, end_row=r2 + 1, end_column=c2 + 1)
        book.save(path)
    elif fmt == "xls":
        path = path.with_suffix(".xls")
        book = xlwt.Workbook()
        sheet = book.add_sheet("원장")
        dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
        covered = {(r, c) for r1, c1, r2, c2 in merges for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
        for r1, c1, r2, c2 in merges:
            sheet.write_merge(r1, r2, c1, c2, rows[r1][c1])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value == "" or (r, c) in covered:
                    continue
                if isinstance(value, datetime.datetime):
                    sheet.write(r, c, value, dates)
                else:
                    sheet.write(r, c, value)
        book.save(str(path))
    elif fmt == "html-as-xls":
        path = path.with_suffix(".xls")
        cells = "".join("<tr>" + "".join(f"<td>{_text(v)}</td>" for v in row) + "</tr>" for row in rows)
        path.write_bytes(f"<html><body><table>{cells}</table></body></html>".encode("cp949"))
    else:
        path = path.with_suffix(".csv" if fmt == "cp949-csv" else ".txt")
        buffer = io.StringIO()
        csv.writer(buffer, delimiter="," if fmt == "cp949-csv" else "\t", lineterminator="\r\n").writerows(
            [[_text(v) for v in row] for row in rows]
        )
        path.write_bytes(buffer.getvalue().encode("cp949" if fmt == "cp949-csv" else "utf-8"))
    return path


# Runs inside the code under test: reads the files and prints what cleaning made of them, as JSON.
PROBE = r"""
import json, sys
from pathlib import Path
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.ingestion import combine, read_ledger_files
from acctax_assets.ledger import cleaning
folder = Path(sys.argv[1])
override = folder / "column_map.yaml"
try:
    column_map = load_column_map(override if override.exists() else None)
    ledgers = read_ledger_files(sorted(p for p in folder.iterdir() if p.name != "column_map.yaml"), column_map, folder)
    raw = combine(ledgers)
    chart = getattr(column_map, "chart", None)
    rules = cleaning.CleaningRules(chart=chart) if chart is not None else cleaning.CleaningRules()
    result = cleaning.clean_ledger(raw, sys.argv[2], rules)
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    raise SystemExit(0)
clean = result.cleaned
amount = clean["supply_amount"].astype("int64")
rows = [
    [str(d.date()) if d == d else "", int(a), p if isinstance(p, str) else "", c if isinstance(c, str) else "", f, int(r)]
    for d, a, p, c, f, r in zip(clean["date"], amount, clean["party_name"], clean["acct_code"], clean["source_file"],
                                clean["source_row"])
]
print(json.dumps({
    "raw": len(raw),
    "cleaned": rows,
    "labelled": [bool(v) for v in clean["source_labelled"]],
    "rejected": result.rejected["reject_reason"].tolist(),
    "expected": list(cleaning.EXPECTED_REJECTS),
}))
"""


def probe(folder: Path, code: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), MONTH],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"},
        # Not the repository: `python -c` puts the working directory first on sys.path, ahead of PYTHONPATH.
        cwd=folder,
        check=False,
    )
    if done.returncode or not done.stdout.strip():
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(form: Form, result: dict, first_row: int) -> dict[str, object]:
    """How one case ends, from what cleaning made of its files (see the module docstring)."""
    wanted = collections.Counter(truth for _, truth in form.lines if isinstance(truth, tuple))
    expected = sum(wanted.values())
    if "error" in result:
        return {"ends": "refused", "lines": len(form.lines), "right": f"0/{expected}", "note": result["error"][:120]}
    structure = {first_row + i for i, (_, truth) in enumerate(form.lines) if isinstance(truth, str)}
    structure -= {first_row + i for i, (_, truth) in enumerate(form.lines) if truth == TRANSACTION_WITHOUT_MARKER}
    main, corrupt = [], 0
    for row, labelled in zip(result["cleaned"], result["labelled"], strict=True):
        if not row[4].startswith("원장_2024-03") or row[5] in structure:
            corrupt += 1
        else:
            main.append((tuple(row[:4]), labelled))
    right = sum((collections.Counter(values for values, labelled in main if labelled) & wanted).values())
    wrong = len(main) - right
    reasons = collections.Counter(result["rejected"])
    invalid = sum(n for reason, n in reasons.items() if reason not in result["expected"])
    ends = "silent" if corrupt or wrong else "refused" if right < expected else "ok"
    return {
        "ends": ends,
        "lines": len(form.lines),
        "right": f"{right}/{expected}",
        "structure cleaned": corrupt,
        "wrong or unlabelled": wrong,
        "reasons": ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())),
        "rejected_share": f"{invalid / (result['raw'] or 1):.0%}",
        "note": "",
    }


def run(code: Path, work: Path) -> list[dict[str, object]]:
    table = []
    for make in FORMS:
        form = make()
        for fmt in FORMATS:
            folder = work / f"{make.__name__}-{fmt}"
            folder.mkdir(parents=True)
            rows = [*form.preamble, *form.header, *(cells for cells, _ in form.lines)]
            merges = [(r + len(form.preamble), c, r2 + len(form.preamble), c2) for r, c, r2, c2 in form.merges]
            _write(folder / "원장_2024-03", fmt, rows, merges if fmt in ("xlsx", "xls") else [])
            for name, extra in form.extra.items():
                _write(folder / name, fmt, extra, [])
            if form.column_map:
                (folder / "column_map.yaml").write_text(form.column_map, encoding="utf-8")
            first_row = len(form.preamble) + len(form.header) + 1
            table.append({"form": form.name, "format": fmt, **verdict(form, probe(folder, code), first_row)})
    return table


def markdown(table: list[dict[str, object]]) -> str:
    columns = [
        "form",
        "format",
        "ends",
        "lines",
        "right",
        "structure cleaned",
        "wrong or unlabelled",
        "reasons",
        "rejected_share",
        "note",
    ]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in table]
    counts = collections.Counter(row["ends"] for row in table)
    return "\n".join(out) + f"\n\n{dict(counts)} of {len(table)} cases\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="REV", help="also read the same files with git revision REV's code")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-forms-") as scratch:
        work = Path(scratch)
        sides = [("this tree", REPO)]
        if args.against:
            tree = work / "against"
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.against],
                check=True,
                capture_output=True,
            )
            sides.insert(0, (args.against, tree))
        try:
            for name, code in sides:
                print(f"## {name}\n\n{markdown(run(code, work / name.replace(' ', '_')))}")
        finally:
            if args.against:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "against")],
                    check=False,
                    capture_output=True,
                )


if __name__ == "__main__":
    main()
