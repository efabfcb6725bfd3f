"""Demo months as landing files the way clients send them: CSV in rotating encodings, date styles and
thousands separators, some months as xlsx, later months without account codes. Each month's layout is
fixed, so a rerun writes the same bytes."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from acctax_assets.atomic_writes import replace_file
from acctax_assets.demo.generator import generate_month, parse_month
from acctax_assets.ledger.schema import KOREAN_HEADERS, LABEL_COLUMN, LABEL_NAME_COLUMN

logger = logging.getLogger(__name__)

ENCODINGS: tuple[str, ...] = ("utf-8", "utf-8-sig", "cp949")
ENCODING_CHOICES: tuple[str, ...] = ("mixed", *ENCODINGS)
DATE_STYLES: tuple[str, ...] = ("", "-", ".")  # 20240131, 2024-01-31, 2024.01.31
EXCEL_MAX_ROWS = 1_048_575


def _month_ordinal(month: str) -> int:
    year, mon = parse_month(month)
    return year * 12 + mon - 1


def file_layout(month: str, encoding: str = "mixed") -> tuple[str, str, bool]:
    """(encoding, date separator, thousands separators) used for a month's file; fixed per month so a rerun
    writes the same bytes. Any three consecutive months cover every encoding and date style, and over nine
    months every pairing of the two occurs."""
    ordinal = _month_ordinal(month)
    chosen = ENCODINGS[ordinal % 3] if encoding == "mixed" else encoding
    return chosen, DATE_STYLES[(ordinal + ordinal // 3) % 3], ordinal % 2 == 1


def _render(frame: pd.DataFrame, date_separator: str, thousands: bool) -> pd.DataFrame:
    """Apply a file's date and amount formats; damaged values pass through untouched."""
    out = frame.copy()
    date_col = KOREAN_HEADERS["date"]
    dates = out[date_col]
    if date_separator:
        is_date = dates.str.fullmatch(r"\d{8}")
        formatted = dates.str[:4] + date_separator + dates.str[4:6] + date_separator + dates.str[6:8]
        out[date_col] = dates.where(~is_date, formatted)
    if thousands:
        for key in ("supply_amount", "vat_amount", "total_amount"):
            col = KOREAN_HEADERS[key]
            values = out[col]
            is_int = values.str.fullmatch(r"-?\d+")
            grouped = values.str.replace(r"(?<=\d)(?=(?:\d{3})+$)", ",", regex=True)
            out[col] = values.where(~is_int, grouped)
    return out


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str) -> None:
    # CP949 files usually come from Windows tools, so they get Windows line ends too.
    terminator = "\r\n" if encoding == "cp949" else "\n"
    replace_file(path, lambda tmp: frame.to_csv(tmp, index=False, encoding=encoding, lineterminator=terminator))


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    # Every cell is a Python str, so openpyxl stores text cells: codes keep leading zeros, amounts their commas.
    replace_file(path, lambda tmp: frame.to_excel(tmp, index=False, engine="openpyxl"))


def write_demo_ledger(
    out_dir: Path,
    months: list[str],
    rows_per_month: int,
    seed: int,
    encoding: str = "mixed",
    xlsx_months: Collection[str] = (),
    unlabelled_months: Collection[str] = (),
) -> list[Path]:
    """Write one `ledger_YYYY-MM.csv|xlsx` per month and return the paths in month order. Files of
    `unlabelled_months` lack the account-code columns, like a new month before the clerk coded it."""
    if encoding not in ENCODING_CHOICES:
        raise ValueError(f"encoding must be one of {ENCODING_CHOICES}, got {encoding!r}")
    unknown = sorted(set(xlsx_months) - set(months))
    if unknown:
        raise ValueError(f"xlsx months {unknown} are not among the months to write")
    if xlsx_months and rows_per_month > EXCEL_MAX_ROWS:
        raise ValueError(f"an xlsx sheet holds at most {EXCEL_MAX_ROWS} rows, asked for {rows_per_month}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for month in months:
        file_encoding, date_separator, thousands = file_layout(month, encoding)
        frame = _render(generate_month(month, rows_per_month, seed).frame, date_separator, thousands)
        if month in unlabelled_months:
            frame = frame.drop(columns=[KOREAN_HEADERS[LABEL_COLUMN], KOREAN_HEADERS[LABEL_NAME_COLUMN]])
        if month in xlsx_months:
            path = out_dir / f"ledger_{month}.xlsx"
            _write_xlsx(frame, path)
            fmt = "xlsx"
        else:
            path = out_dir / f"ledger_{month}.csv"
            _write_csv(frame, path, file_encoding)
            fmt = file_encoding
        logger.info(
            "wrote %s: %d rows (%s, dates YYYY%sMM%sDD, thousands separators %s)",
            path,
            len(frame),
            fmt,
            date_separator,
            date_separator,
            "on" if thousands else "off",
        )
        written.append(path)
    return written
