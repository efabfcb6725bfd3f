"""Vectorised parsers for the value formats Korean ledger exports use (dates, KRW amounts, codes).

Each parser tries the common form on the whole column first and the rarer written forms (`231,140원`,
`△5,000`, `2024년 3월 5일`, an Excel serial day) only on the cells the common form left unparsed, so a clean
million-row column pays for one pass. Columns that repeat a few values (dates, codes) are parsed once per
distinct value (`Distinct`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Arrow-backed strings: vectorised string kernels instead of a Python object per cell (benchmarks/README.md,
# data_path.py).
TEXT = pd.StringDtype("pyarrow")
_ARROW_STRINGS = {pa.string(): TEXT, pa.large_string(): TEXT}.get


# Excel serial days (days since 1899-12-30) accepted as dates: 1990-01-01 .. 2100-12-31.
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_SERIAL_RANGE = (32874, 73415)
# `2024.3.5`, `2024-3-5`, `2024. 3. 5.`, `2024년 3월 5일`, `2024/03/05 00:00:00`.
_WRITTEN_DATE = (
    r"(?P<y>\d{4})\s*[-./년]\s*(?P<m>\d{1,2})\s*[-./월]\s*(?P<d>\d{1,2})\s*[.일]?"
    r"(?:[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
# One amount as accountants write it: sign or `△`/`▲` before, `원`/`KRW`/`₩` before or after, a trailing
# minus, or the whole value in parentheses.
_WRITTEN_AMOUNT = (
    r"(?P<open>\()?\s*(?P<lead>[-+△▲])?\s*(?:krw|₩)?\s*(?P<inner>[-+△▲])?\s*"
    r"(?P<number>\d[\d,]*(?:\.\d+)?)\s*(?:원|krw)?\s*(?P<trail>-)?\s*(?P<close>\))?"
)
_NEGATIVE_SIGNS = ("-", "△", "▲")
# Digits an amount in the common form (`-1234000`) may have: below 2**53, so reading it as an integer gives
# the value the float64 of the other forms holds exactly.
_PLAIN_DIGITS = 15


@dataclass(frozen=True)
class Distinct:
    """A column as its distinct values (missing included) and, per row, the position of its value among them.

    A month repeats a few dozen dates, codes and counterparties over a million rows: a parser that treats each
    cell on its own runs on the distinct values, and `spread` hands its results back to the rows, which costs
    one factorisation instead of a full pass per parser.
    """

    column: pd.Series
    values: pd.Series
    positions: np.ndarray

    @classmethod
    def of(cls, column: pd.Series) -> Distinct:
        positions, values = column.array.factorize(use_na_sentinel=False)
        return cls(column, pd.Series(values), positions)

    def spread(self, parsed: pd.Series) -> pd.Series:
        """Per row of the column, the element of `parsed` (a parser's result on `values`) for its value."""
        return pd.Series(parsed.array.take(self.positions), index=self.column.index, name=self.column.name)


def per_value(parse: Callable[[pd.Series], pd.Series], values: pd.Series) -> pd.Series:
    """`parse(values)`, computed once per distinct value of the column."""
    distinct = Distinct.of(values)
    return distinct.spread(parse(distinct.values))


def read_parquet_frame(source: str | Path | BinaryIO) -> pd.DataFrame:
    """A Parquet file as a DataFrame whose text columns are TEXT, the dtype the ledger code computes in.

    `pd.read_parquet` rebuilds a Python str per cell, which costs several times the memory and the time of this read
    on a large month (benchmarks/README.md, data_path.py)."""
    return pq.read_table(source).to_pandas(types_mapper=_ARROW_STRINGS)


def blank_to_na(values: pd.Series) -> pd.Series:
    """Strip cells and turn empty strings into missing values, as a nullable string series."""
    text = values.astype(TEXT).str.strip()
    return text.mask(text == "")


def _written_dates(text: pd.Series) -> pd.Series:
    """Dates in the rarer written forms (see `parse_dates`), for the cells the compact form left unparsed."""
    text = text.str.normalize("NFKC")
    parts = text.str.extract(f"^{_WRITTEN_DATE}$")
    compact = parts["y"] + parts["m"].str.zfill(2) + parts["d"].str.zfill(2)
    dates = pd.to_datetime(compact, format="%Y%m%d", errors="coerce")
    serial = pd.to_numeric(text.where(text.str.fullmatch(r"\d{5}(?:\.\d+)?", na=False)), errors="coerce")
    serial = serial.where(serial.between(*_SERIAL_RANGE))
    from_serial = _EXCEL_EPOCH + pd.to_timedelta(np.floor(serial.astype("float64")), unit="D")
    return dates.fillna(from_serial.astype(dates.dtype))


def parse_dates(values: pd.Series) -> pd.Series:
    """Parse ledger dates into datetimes (missing and unparseable cells are NaT).

    Accepted: `20240131`, `2024-01-31`, `2024.01.31`, `2024/01/31` (optionally followed by a time), the
    same with one-digit month/day (`2024.3.5`, `2024-3-5`, Korean `2024. 3. 5.`), Korean units
    (`2024년 3월 5일`, `2024년03월05일`), full-width digits, and Excel serial days (`45352` = 2024-03-01,
    accepted between 1990 and 2100, as CSV exports of date cells write them). Impossible dates such as
    `20241301` stay NaT.
    """
    return per_value(_parse_dates, values)


def _parse_dates(values: pd.Series) -> pd.Series:
    """`parse_dates` on every cell."""
    text = blank_to_na(values)
    digits = text.str.slice(0, 10).str.replace(r"[-./]", "", regex=True)
    digits = digits.where(digits.str.fullmatch(r"\d{8}", na=False))
    dates = pd.to_datetime(digits, format="%Y%m%d", errors="coerce")
    rest = dates.isna() & text.notna()
    if rest.any():
        dates[rest] = _written_dates(text[rest])
    return dates


def _written_amounts(text: pd.Series) -> pd.Series:
    """Amounts in the rarer written forms (see `parse_amounts`) as floats; NaN when not an amount."""
    text = text.str.normalize("NFKC")
    parts = text.str.extract(f"^{_WRITTEN_AMOUNT}$", flags=re.IGNORECASE)
    signs = parts[["lead", "inner", "trail", "open"]].notna().sum(axis=1)
    # One way of writing the sign at most (`--500`, `(-500)` are typos, not amounts); parentheses in pairs.
    written = (signs <= 1) & (parts["open"].isna() == parts["close"].isna())
    numbers = pd.to_numeric(parts["number"].str.replace(",", "").where(written), errors="coerce").astype("float64")
    negative = (
        parts["lead"].isin(_NEGATIVE_SIGNS)
        | parts["inner"].isin(_NEGATIVE_SIGNS)
        | parts["trail"].notna()
        | parts["open"].notna()
    )
    return numbers.where(~negative.to_numpy(dtype=bool), -numbers)


def _plain_integers(text: pd.Series) -> pd.Series:
    """Cells that are an optional minus and up to _PLAIN_DIGITS ASCII digits, as float64; NaN elsewhere.

    The common form read by one Arrow cast: pd.to_numeric, which the other cells go through, costs as much as
    the rest of cleaning on a million rows."""
    cells = pa.array(text.array)
    negative = pc.fill_null(pc.starts_with(cells, "-"), False)
    digits = pc.if_else(negative, pc.utf8_slice_codeunits(cells, 1), cells)
    plain = pc.fill_null(
        pc.and_(pc.ascii_is_decimal(digits), pc.less_equal(pc.binary_length(digits), _PLAIN_DIGITS)), False
    )
    magnitude = pc.cast(pc.if_else(plain, digits, "0"), pa.int64()).to_numpy().astype("float64")
    numbers = np.where(negative.to_numpy(zero_copy_only=False), -magnitude, magnitude)
    return pd.Series(np.where(plain.to_numpy(zero_copy_only=False), numbers, np.nan), index=text.index)


def parse_amounts(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse KRW amounts into nullable integers.

    Accepted: `1,234,000`, `-5000`, `1234000.0`, `(5,000)` and `△5,000`/`▲5,000`/`5,000-` (negative),
    currency marks before or after the number (`231,140원`, `KRW 5,000`, `₩5,000`, `￦5,000`) and
    full-width digits and commas (`１２３，０００`). Returns (amounts as Int64, invalid mask): missing cells
    are NA and not invalid; unparseable or fractional values are NA and invalid (KRW has no minor unit).
    """
    text = blank_to_na(values)
    plain = text.str.replace(",", "", regex=False)
    numbers = _plain_integers(plain)
    rest = numbers.isna() & text.notna()
    if rest.any():
        numbers[rest] = pd.to_numeric(plain[rest], errors="coerce").astype("float64")
        rest = numbers.isna() & text.notna()
    if rest.any():
        numbers[rest] = _written_amounts(text[rest])
    unusable = ~np.isfinite(numbers) | (np.floor(numbers) != numbers)
    numbers = numbers.mask(unusable)
    invalid = text.notna() & numbers.isna()
    return numbers.round().astype("Int64"), invalid


def parse_codes(values: pd.Series) -> pd.Series:
    """Code cells as strings without spreadsheet artefacts: `81100.0` -> `81100`, blanks -> NA."""
    text = blank_to_na(values)
    if not pc.any(pc.match_substring(pa.array(text.array), ".")).as_py():
        return text
    return text.str.replace(r"\.0+$", "", regex=True)
