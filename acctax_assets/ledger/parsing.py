"""Vectorised parsers for the value formats Korean ledger exports use (dates, KRW amounts, codes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Arrow-backed strings: vectorised string kernels, an order of magnitude faster than Python objects.
TEXT = pd.StringDtype("pyarrow")


def blank_to_na(values: pd.Series) -> pd.Series:
    """Strip cells and turn empty strings into missing values, as a nullable string series."""
    text = values.astype(TEXT).str.strip()
    return text.mask(text == "")


def parse_dates(values: pd.Series) -> pd.Series:
    """Parse `20240131`, `2024-01-31`, `2024.01.31`, `2024/01/31` and `2024-01-31 00:00:00` cells.

    Anything else (including impossible dates such as `20241301`) becomes NaT; missing stays NaT.
    """
    text = blank_to_na(values)
    head = text.str.slice(0, 10)
    digits = head.str.replace(r"[-./]", "", regex=True)
    digits = digits.where(digits.str.fullmatch(r"\d{8}", na=False))
    return pd.to_datetime(digits, format="%Y%m%d", errors="coerce")


def parse_amounts(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse KRW amounts such as `1,234,000`, `-5000`, `(5,000)` or `1234000.0` into nullable integers.

    Returns (amounts as Int64, invalid mask). Missing cells are NA and not invalid; unparseable or
    fractional values are NA and invalid (KRW has no minor unit).
    """
    text = blank_to_na(values)
    negative_paren = text.str.fullmatch(r"\(.*\)", na=False)
    cleaned = text.str.replace(r"[,\s₩()]", "", regex=True)
    cleaned = cleaned.where(~negative_paren, "-" + cleaned)
    numbers = pd.to_numeric(cleaned, errors="coerce")
    unusable = numbers.notna() & (~np.isfinite(numbers) | (np.floor(numbers) != numbers))
    numbers = numbers.mask(unusable)
    invalid = text.notna() & numbers.isna()
    return numbers.round().astype("Int64"), invalid


def parse_codes(values: pd.Series) -> pd.Series:
    """Code cells as strings without spreadsheet artefacts: `81100.0` -> `81100`, blanks -> NA."""
    text = blank_to_na(values)
    return text.str.replace(r"\.0+$", "", regex=True)
