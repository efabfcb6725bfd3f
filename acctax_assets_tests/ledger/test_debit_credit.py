"""차변/대변 ledgers (계정별원장, 분개장, 거래처원장): each line's amount and direction come from the side it fills,
lines that fill both sides or neither are quarantined with the printed values, and the direction reaches the model
text. Mapping 차변 to supply_amount instead would clean every credit line at 0 won."""

import csv
import datetime
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger import quality
from acctax_assets.ledger.cleaning import CleaningResult, CleaningRules, clean_ledger, running_balances
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_files
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, serialize_rows

MARCH = "2024-03-01"
COLUMN_MAP = load_column_map()
HEADER = ["일자", "적요", "거래처", "차변", "대변", "잔액"]
# (date, memo, party, 차변, 대변, 잔액) as a 계정별원장 prints them: one side filled, the other empty or 0.
LINES = [
    (datetime.date(2024, 3, 4), "사무용품 구입", "오피스디포", 55_000, None, 55_000),
    (datetime.date(2024, 3, 5), "카드대금 결제", "신한카드", None, 30_000, 25_000),
    (datetime.date(2024, 3, 6), "반품 정정", "오피스디포", -5_000, 0, 20_000),
    (datetime.date(2024, 3, 7), "예금 이자", "국민은행", 0, 1_200, 18_800),
]
# Per line: total (= supply) amount, direction, party.
EXPECTED = [
    (55_000, "debit", "오피스디포"),
    (30_000, "credit", "신한카드"),
    (-5_000, "debit", "오피스디포"),
    (1_200, "credit", "국민은행"),
]


def as_text(value: object) -> str:
    """A cell as a CSV export writes it: dates `2024-03-04`, amounts with thousands separators, empty as ``."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return f"{value:%Y-%m-%d}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_csv(path: Path, rows: list[list[object]], encoding: str = "cp949") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([[as_text(v) for v in row] for row in rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def cleaned_month(tmp_path: Path, *paths: Path) -> tuple[pd.DataFrame, CleaningResult]:
    """Read, combine and clean the files; every raw row must come out cleaned or rejected, once."""
    raw = combine(read_ledger_files(paths, COLUMN_MAP, tmp_path))
    result = clean_ledger(raw, MARCH, CleaningRules())
    out = pd.concat([result.cleaned[["source_file", "source_row"]], result.rejected[["source_file", "source_row"]]])
    assert sorted(out.itertuples(index=False)) == sorted(raw[["source_file", "source_row"]].itertuples(index=False))
    return raw, result


def per_line(cleaned: pd.DataFrame) -> list[tuple[int, str, str]]:
    return list(zip(cleaned["total_amount"], cleaned["dr_cr"], cleaned["party_name"], strict=True))


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_each_line_takes_its_amount_and_direction_from_the_side_it_fills(tmp_path: Path, suffix: str) -> None:
    rows = [["계정별원장 (81100 복리후생비)"], ["기간: 2024.03.01 ~ 2024.03.31"], HEADER, *map(list, LINES)]
    path = tmp_path / f"원장_2024-03{suffix}"
    if suffix == ".csv":
        write_csv(path, rows)
    else:
        write_xlsx(path, rows)
    raw, result = cleaned_month(tmp_path, path)
    cleaned = result.cleaned
    assert per_line(cleaned) == EXPECTED
    assert (cleaned["supply_amount"] == cleaned["total_amount"]).all() and (cleaned["vat_amount"] == 0).all()
    assert (cleaned.loc[cleaned["dr_cr"] == "credit", "total_amount"] != 0).all(), "credit lines are not 0 won"
    assert cleaned["balance_amount"].tolist() == [55_000, 25_000, 20_000, 18_800]
    assert cleaned["debit_amount"].tolist()[:3] == [55_000, pd.NA, -5_000]
    assert cleaned["source_row"].tolist() == [4, 5, 6, 7] and result.rejected.empty
    assert running_balances(raw) == {"rows": 4, "files": 1}


def test_a_line_filling_both_sides_or_neither_is_rejected_with_the_printed_values(tmp_path: Path) -> None:
    both = ["2024-03-08", "정정 분개", "오피스디포", "1,000", "500", "19,300"]
    neither = ["2024-03-09", "메모만", "오피스디포", "", "0", "19,300"]
    unreadable = ["2024-03-10", "오타", "오피스디포", "1.000.000", "", "19,300"]
    path = write_csv(tmp_path / "원장_2024-03.csv", [HEADER, *map(list, LINES), both, neither, unreadable])
    raw, result = cleaned_month(tmp_path, path)
    assert per_line(result.cleaned) == EXPECTED
    rejected = result.rejected.set_index("source_row")
    assert rejected.loc[6, "reject_reason"] == "ambiguous_side"
    assert rejected.loc[6, "reject_detail"].startswith("차변=1,000 대변=500")
    assert rejected.loc[7, "reject_reason"] == "missing_amount"
    assert rejected.loc[7, "reject_detail"].startswith("차변= 대변=0")
    assert (rejected.loc[8, "reject_reason"], rejected.loc[8, "reject_detail"]) == (
        "invalid_amount",
        "debit_amount=1.000.000",
    )
    assert result.rejected_by_reason == {"missing_amount": 1, "invalid_amount": 1, "ambiguous_side": 1}
    assert not quality.rejected_share(len(raw), result.rejected, 0.05, 0.25).passed, "both are invalid rows"


def test_a_files_own_side_column_must_agree_with_the_side_its_amount_is_on(tmp_path: Path) -> None:
    rows = [
        ["일자", "적요", "거래처", "차대구분", "차변", "대변"],
        ["2024-03-04", "사무용품 구입", "오피스디포", "차변", "55,000", ""],
        ["2024-03-05", "카드대금 결제", "신한카드", "대변", "", "30,000"],
        ["2024-03-06", "비품 구입", "오피스디포", "대변", "12,000", ""],
        ["2024-03-07", "예금 이자", "국민은행", "", "", "1,200"],
    ]
    _, result = cleaned_month(tmp_path, write_csv(tmp_path / "분개장_2024-03.csv", rows))
    assert per_line(result.cleaned) == [
        (55_000, "debit", "오피스디포"),
        (30_000, "credit", "신한카드"),
        (1_200, "credit", "국민은행"),
    ]
    rejected = result.rejected.iloc[0]
    assert (rejected["source_row"], rejected["reject_reason"]) == (4, "side_mismatch")
    assert rejected["reject_detail"] == "dr_cr=대변 but 차변=12,000 대변="


def test_supply_and_total_win_where_a_file_prints_both_forms_and_the_sides_give_the_direction(tmp_path: Path) -> None:
    rows = [
        ["일자", "거래처", "적요", "공급가액", "부가세", "합계", "차변", "대변"],
        ["2024-03-04", "오피스디포", "복사용지", "10,000", "1,000", "11,000", "11,000", ""],
        ["2024-03-05", "오피스디포", "복사용지 반품", "-10,000", "-1,000", "-11,000", "", "-11,000"],
        ["2024-03-06", "오피스디포", "토너", "20,000", "2,000", "22,000", "", ""],
    ]
    _, result = cleaned_month(tmp_path, write_csv(tmp_path / "매입_2024-03.csv", rows))
    cleaned = result.cleaned
    assert cleaned["supply_amount"].tolist() == [10_000, -10_000, 20_000]
    assert cleaned["vat_amount"].tolist() == [1_000, -1_000, 2_000]
    assert cleaned["dr_cr"].tolist() == ["debit", "credit", pd.NA] and result.rejected.empty


def test_a_month_mixing_voucher_exports_and_side_ledgers_cleans_both(tmp_path: Path) -> None:
    voucher = write_csv(
        tmp_path / "매입_2024-03.csv",
        [
            ["전표일자", "거래처명", "공급가액", "부가세", "합계금액"],
            ["20240311", "스타벅스", "10,000", "1,000", "11,000"],
        ],
    )
    ledger = write_csv(tmp_path / "원장_2024-03.csv", [HEADER, *map(list, LINES)])
    raw, result = cleaned_month(tmp_path, voucher, ledger)
    assert result.rejected.empty and len(result.cleaned) == 5
    assert per_line(result.cleaned)[0] == (11_000, pd.NA, "스타벅스") and per_line(result.cleaned)[1:] == EXPECTED
    assert running_balances(raw) == {"rows": 4, "files": 1}


def test_a_debit_column_without_its_credit_column_is_not_an_amount(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "원장_2024-03.csv", [["일자", "적요", "차변"], ["2024-03-04", "사무용품", "55,000"]])
    with pytest.raises(LedgerFileError) as error:
        read_ledger_files([path], COLUMN_MAP, tmp_path)
    message = str(error.value)
    assert "'debit_amount' (usual header '차변') and 'credit_amount' (usual header '대변')" in message, message


def test_the_direction_reaches_the_features_and_the_default_model_text(tmp_path: Path) -> None:
    _, result = cleaned_month(tmp_path, write_csv(tmp_path / "원장_2024-03.csv", [HEADER, *map(list, LINES)]))
    features = build_features(result.cleaned)
    assert features["dr_cr"].tolist() == [side for _, side, _ in EXPECTED]
    texts = serialize_rows(features, DEFAULT_TEXT_FEATURES)
    assert "| dr:debit | amt:+5.5e4 |" in texts.iloc[0] and "| dr:credit | amt:+3.0e4 |" in texts.iloc[1]
