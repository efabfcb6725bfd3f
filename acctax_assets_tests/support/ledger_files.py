"""Builders for small Korean ledger files used across the tests."""

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from acctax_assets.ledger.schema import KOREAN_HEADERS, LABEL_COLUMN, LABEL_NAME_COLUMN

BASE_ROW: dict[str, str] = {
    "date": "20240115",
    "voucher_key": "2024-01-00001",
    "journal_key_count": "1",
    "company_name": "(주)한결정밀",
    "party_name": "스타벅스 강남점",
    "desc": "직원 간식",
    "item": "커피",
    "supply_amount": "10,000",
    "vat_amount": "1,000",
    "total_amount": "11,000",
    "vat_type": "57",
    "document_type": "20",
    "acct_code": "81100",
    "acct_name": "복리후생비",
}
# The columns of an uncoded (to-predict) export: no 계정과목코드/계정과목.
UNCODED_COLUMNS: tuple[str, ...] = tuple(c for c in BASE_ROW if c not in (LABEL_COLUMN, LABEL_NAME_COLUMN))


def ledger_rows(count: int, **overrides: str) -> list[dict[str, str]]:
    """`count` valid rows with distinct voucher keys; keyword overrides apply to every row."""
    rows = []
    for index in range(count):
        row = {**BASE_ROW, "voucher_key": f"2024-01-{index + 1:05d}", **overrides}
        rows.append(row)
    return rows


def write_ledger(
    path: Path,
    rows: Sequence[dict[str, str]],
    encoding: str = "utf-8",
    columns: Sequence[str] | None = None,
) -> Path:
    """Write rows (canonical keys) with Korean headers as CSV/TSV/XLSX/Parquet, chosen by the suffix (`.tsv`
    and `.txt` are tab-separated)."""
    columns = list(columns or BASE_ROW)
    frame = pd.DataFrame(
        [{KOREAN_HEADERS.get(c, c): row.get(c, "") for c in columns} for row in rows],
        columns=[KOREAN_HEADERS.get(c, c) for c in columns],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        separator = "\t" if path.suffix in (".tsv", ".txt") else ","
        path.write_bytes(frame.to_csv(index=False, sep=separator).encode(encoding))
    return path
