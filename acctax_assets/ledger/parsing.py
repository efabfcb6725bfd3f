"""Vectorised parsers for the value formats Korean ledger exports use (dates, KRW amounts, codes, totals lines).

Each parser tries the common form on the whole column first and the rarer written forms (`231,140원`,
`△5,000`, `2024년 3월 5일`, an Excel serial day) only on the cells the common form left unparsed, so a clean
million-row column pays for one pass.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# Arrow-backed strings: vectorised string kernels, an order of magnitude faster than Python objects.
TEXT = pd.StringDtype("pyarrow")

# A cell that marks a totals line (합계, 소계, 월계, 누계, 총계) however it is decorated: `합 계`, `[월계]`,
# `** 합계 **`, `<소계>`. Written for both Python `re` and Arrow's RE2, which the reader uses.
TOTALS_MARKER = r"^[\s\[\](){}<>*#=:.\-]*[합소월누총]\s*계[\s\[\](){}<>*#=:.\-]*$"

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


def parse_amounts(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse KRW amounts into nullable integers.

    Accepted: `1,234,000`, `-5000`, `1234000.0`, `(5,000)` and `△5,000`/`▲5,000`/`5,000-` (negative),
    currency marks before or after the number (`231,140원`, `KRW 5,000`, `₩5,000`, `￦5,000`) and
    full-width digits and commas (`１２３，０００`). Returns (amounts as Int64, invalid mask): missing cells
    are NA and not invalid; unparseable or fractional values are NA and invalid (KRW has no minor unit).
    """
    text = blank_to_na(values)
    numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").astype("float64")
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
    return text.str.replace(r"\.0+$", "", regex=True)
