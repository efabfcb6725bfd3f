"""What a printed report says once and means for every line: the year, the company, the block's account.

Reports print some facts only above the table or on a block's first line: dates as `03-05` with the year in the
period line (`기간: 2024.03.01 ~ 2024.03.31`) or title, the date only on the first line of each day, the
company in a `회사명:` line, the account (계정별원장) or counterparty (거래처원장) on the title line of each
block. A clerk reads them onto every line; so does this module, and every line says where its value came from.
Only transaction lines are completed (line_kinds runs first): a 일계 line never passes its date on.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.line_kinds import LINE_MARKERS, TITLE_ROW, TRANSACTION, LineKinds
from acctax_assets.ledger.parsing import parse_dates

# Where a line's date came from (the `date_origin` lineage column); "" means printed in full on the line.
FILLED = "filled from the line above"
YEAR_SOURCES = ("period line", "title", "file name")

_MONTH_DAY = re.compile(r"^\s*(\d{1,2})\s*(?:[-./]|월)\s*(\d{1,2})\s*일?\s*$")
_DATE = re.compile(r"((?:19|20)\d{2})\s*[-./년]\s*(\d{1,2})(?:\s*[-./월]\s*(\d{1,2}))?")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_PERIOD_LABEL = re.compile(r"(?:조회|회계)?기간|~")
_COMPANY_LABEL = re.compile(r"(?:회사명|상호명|상호|법인명|업체명)\s*[\])>]?\s*[:：]?\s*(.*)$")
_COMPANY_END = re.compile(r"\s{2,}|\s*(?:사업자(?:등록)?번호|대표자|기간|조회기간)\s*[:：]")
_BLOCK_LABELS = {"acct_code": ("계정과목", "계정"), "party_name": ("거래처명", "거래처")}
# Leading parts of file names that name the report or the export, not a company.
_GENERIC_NAMES = frozenset(
    {
        *(word for word in LINE_MARKERS[TITLE_ROW]),
        *("ledger", "ledgers", "export", "exports", "voucher", "vouchers", "journal", "report", "data", "file"),
        *("sheet", "month", "monthly", "purchase", "purchases", "sales", "account", "accounts", "gl"),
        *("전표", "원장", "매입", "매출", "매입매출", "계정", "거래처", "월별", "장부", "회계", "자료", "내역"),
    }
)


@dataclass(frozen=True)
class ReportYear:
    """The period a report states (start and end dates) and where it was read."""

    start: datetime.date
    end: datetime.date
    source: str

    def year_for(self, month: int, day: int) -> int | None:
        """The year in which month-day falls inside the period (the start's year when it falls outside)."""
        for year in range(self.start.year, self.end.year + 1):
            try:
                if self.start <= datetime.date(year, month, day) <= self.end:
                    return year
            except ValueError:
                continue
        return self.start.year


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)


def _period(text: str, source: str) -> ReportYear | None:
    """The span of the dates a line names: days as they are, a year-month (`2024년 3월`) as its whole month, a
    bare year as its whole year."""
    starts, ends = [], []
    for year, month, day in _DATE.findall(text):
        try:
            start = datetime.date(int(year), int(month), int(day or 1))
        except ValueError:
            continue
        starts.append(start)
        ends.append(start if day else _month_end(start.year, start.month))
    if not starts:
        years = sorted(int(y) for y in _YEAR.findall(text))
        if not years:
            return None
        starts, ends = [datetime.date(years[0], 1, 1)], [datetime.date(years[-1], 12, 31)]
    return ReportYear(min(starts), max(ends), source)


def report_year(preamble: Sequence[Sequence[str]], file_name: str) -> ReportYear | None:
    """The report's period, from its period line, else its title (the other lines above the header), else the
    period in its file name, in that order (issue 22 §5)."""
    lines = [" ".join(cell.strip() for cell in row if cell and cell.strip()) for row in preamble]
    for line in lines:
        if _PERIOD_LABEL.search(line) and (found := _period(line, "period line")):
            return found
    for line in lines:
        if found := _period(line, "title"):
            return found
    stem = PurePath(file_name).stem
    compact = re.search(r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])(?!\d)", stem)
    return _period(f"{compact.group(1)}.{compact.group(2)}" if compact else stem, "file name")


@dataclass(frozen=True)
class CompletedDates:
    """A date column with month-day dates given their year and blank dates filled down, and per line where the
    date came from ("" when printed in full)."""

    dates: pa.Array
    origin: pa.Array

    def count(self, origin_prefix: str) -> int:
        return int(pc.sum(pc.starts_with(self.origin, origin_prefix)).as_py() or 0)


def complete_dates(
    label: str, dates: pa.Array | pa.ChunkedArray, kinds: LineKinds, year: ReportYear | None
) -> CompletedDates:
    """Month-day dates of transaction lines with the report's year; blank dates of transaction lines filled from
    the transaction line above when the lines read as a day-by-day print (`_printed_once_a_day`; otherwise they
    stay blank and cleaning rejects them as missing_date). Raises when a month-day date has no year anywhere."""
    values = dates.combine_chunks() if isinstance(dates, pa.ChunkedArray) else dates
    trimmed = pc.fill_null(pc.utf8_trim_whitespace(values), "")
    incomplete = pc.or_(pc.equal(trimmed, ""), pc.match_substring_regex(trimmed, _MONTH_DAY.pattern))
    if not pc.any(pc.and_(pc.equal(kinds.kind, TRANSACTION), incomplete)).as_py():
        # Every transaction line prints its date in full (any voucher export): nothing to read onto it.
        return CompletedDates(values, pa.repeat("", len(values)).cast(pa.string()))
    cells = np.array([cell or "" for cell in values.to_pylist()], dtype=object)
    origin = np.full(len(cells), "", dtype=object)
    transaction = np.asarray(pc.equal(kinds.kind, TRANSACTION).to_numpy(zero_copy_only=False), dtype=bool)
    short = {text: _MONTH_DAY.match(text) for text in set(cells[transaction])}
    short = {text: match for text, match in short.items() if match}
    if short:
        if year is None:
            example = next(text for text in cells[transaction] if text in short)
            raise LedgerFileError(
                label,
                f"dates are printed without a year (e.g. {example!r}) and no year is found in the period line, "
                "the title above the header, or the file name",
                "re-export with full dates, or put the period in the file name (e.g. 원장_2024-03.xlsx)",
            )
        for text, match in short.items():
            month, day = int(match.group(1)), int(match.group(2))
            chosen = year.year_for(month, day)
            rows = transaction & (cells == text)
            cells[rows] = f"{chosen:04d}-{month:02d}-{day:02d}"
            origin[rows] = f"year from {year.source}"
    rows = np.flatnonzero(transaction)
    printed = pd.Series(cells[rows], dtype="string").str.strip()
    blank = (printed == "").to_numpy()
    if blank.any() and _printed_once_a_day(printed, blank):
        filled = printed.mask(blank).ffill()
        fill = blank & filled.notna().to_numpy()
        cells[rows[fill]] = filled[fill].to_numpy(dtype=object)
        origin[rows[fill]] = FILLED
    return CompletedDates(pa.array(cells.tolist(), pa.string()), pa.array(origin.tolist(), pa.string()))


def _printed_once_a_day(printed: pd.Series, blank: np.ndarray) -> bool:
    """Whether the transaction lines read as a day-by-day print: every printed date a later day than the one
    before (each day's date on its first line only) and some undated line between two dated ones. A voucher
    export repeats a day's date on each line, so its sporadic blank date stays a missing date; so does an undated
    line after the last dated one when nothing shows the print form (a total without a marker)."""
    dated = np.flatnonzero(~blank)
    if len(dated) < 2 or not blank[dated[0] : dated[-1]].any():
        return False
    parsed = parse_dates(printed[~blank])
    return bool(parsed.notna().all() and (parsed.diff().dropna() > pd.Timedelta(0)).all())


def _label_value(cells: Sequence[str], labels: Sequence[str]) -> str | None:
    """The value of `<label>: value` in one cell, or of a `<label>` cell followed by a value cell."""
    pattern = re.compile(rf"^\s*[\[(<]?\s*(?:{'|'.join(map(re.escape, labels))})\s*[\])>]?\s*[:：]\s*(.*)$")
    filled = [cell.strip() for cell in cells if cell and cell.strip()]
    for position, cell in enumerate(filled):
        match = pattern.match(cell)
        if match:
            value = match.group(1).strip()
            if value:
                return value
            if position + 1 < len(filled):
                return filled[position + 1]
        if cell in labels and position + 1 < len(filled):
            return filled[position + 1]
    return None


def block_values(rows: Sequence[Sequence[str]], kinds: LineKinds) -> dict[str, list[str | None]]:
    """Per column (acct_code, party_name), the value each line inherits from the title line of its block (the
    account of a 계정별원장 block, the counterparty of a 거래처원장 block); None before any block title."""
    kind = kinds.kind.to_pylist()
    found: dict[str, list[str | None]] = {}
    for column, labels in _BLOCK_LABELS.items():
        current: str | None = None
        values: list[str | None] = []
        seen = False
        for row, line_kind in zip(rows, kind, strict=True):
            if line_kind == TITLE_ROW:
                value = _label_value(row, labels)
                if value is not None:
                    current, seen = value, True
            values.append(current if line_kind == TRANSACTION else None)
        if seen:
            found[column] = values
    return found


def company_line(preamble: Sequence[Sequence[str]]) -> str | None:
    """The company a report names above its header (`회사명: (주)한빛상사`, `상호 : …`)."""
    for row in preamble:
        cells = [cell.strip() for cell in row if cell and cell.strip()]
        for position, cell in enumerate(cells):
            match = _COMPANY_LABEL.search(cell)
            if not match or cell[: match.start()].strip("[(< "):
                continue
            value = _COMPANY_END.split(match.group(1).strip(), maxsplit=1)[0].strip()
            if not value and position + 1 < len(cells):
                value = cells[position + 1]
            if value:
                return value
    return None


def company_from_file_name(file_name: str) -> str | None:
    """The leading part of a file name when it names a company (`한빛상사_계정별원장_202403.xlsx`), not the
    report, the export or the period."""
    parts = [part for part in re.split(r"[_\-\s.]+", PurePath(file_name).stem) if part]
    if len(parts) < 2:
        return None
    first = parts[0]
    if len(first) < 2 or not re.search(r"[A-Za-z가-힣]", first) or re.search(r"\d{4}", first):
        return None
    if first.lower() in _GENERIC_NAMES or any(word in first for word in LINE_MARKERS[TITLE_ROW]):
        return None
    return first
