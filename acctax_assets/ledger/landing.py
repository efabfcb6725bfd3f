"""Which landing files are ledger files, and which month each belongs to.

A period in the file name wins (`ledger_2024-03.csv`, `전표_202403.xlsx`, `export_20240315.csv`); a file without
one belongs to the month most of its 전표일자 values fall in. The sensor and the raw_ledger asset both ask here,
so the month a file starts a run for is the month whose run reads it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.column_map import ColumnMap
from acctax_assets.ledger.ingestion import read_ledger_sheets
from acctax_assets.ledger.parsing import TEXT, parse_dates

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet")
# Partial downloads, editor lock files and our own temp files are never ledger files.
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial")

_PERIOD = re.compile(r"(?<!\d)(20\d{2})[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?(?!\d)")


def is_ledger_file(path: Path) -> bool:
    """Whether a landing entry is a ledger file we read (not hidden, temporary, or of another type)."""
    name = path.name
    return (
        not name.startswith(IGNORED_PREFIXES)
        and not name.lower().endswith(IGNORED_SUFFIXES)
        and path.suffix.lower() in SUPPORTED_SUFFIXES
        and path.is_file()
    )


def list_landing_files(landing: Path) -> list[Path]:
    """All ledger files under the landing folder (sub-folders included, hidden folders skipped), sorted.
    A symlink that resolves outside the landing folder is ignored: a landing file cannot pull in other files.
    Symlinked folders are not entered, so only a file that is itself a symlink needs resolving."""
    if not landing.exists():
        return []
    root = landing.resolve()
    files = []
    for folder, folders, names in os.walk(landing):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if is_ledger_file(path) and (not path.is_symlink() or path.resolve().is_relative_to(root)):
                files.append(path)
    return sorted(files)


def month_from_name(name: str) -> str | None:
    """The partition key (`YYYY-MM-01`) a file name announces, if it names exactly one period."""
    periods = {f"{m.group(1)}-{m.group(2)}-01" for m in _PERIOD.finditer(Path(name).stem)}
    return periods.pop() if len(periods) == 1 else None


def month_from_content(path: Path, column_map: ColumnMap, landing: Path) -> str | None:
    """The month most of a file's 전표일자 values fall in (all its sheets), or None when no date parses."""
    ledgers = read_ledger_sheets(path, column_map, landing)
    text = pa.chunked_array([ledger.table["date"] for ledger in ledgers], type=pa.string())
    dates = parse_dates(pd.Series(text.to_pandas(types_mapper={pa.string(): TEXT}.get))).dropna()
    if dates.empty:
        return None
    return dates.dt.to_period("M").mode().iloc[0].start_time.strftime("%Y-%m-%d")


def month_of_file(path: Path, column_map: ColumnMap, landing: Path) -> str | None:
    """The partition key a file belongs to: by name, else by content (see module docstring)."""
    return month_from_name(path.name) or month_from_content(path, column_map, landing)


def files_for_month(
    files: Iterable[Path], month: str, column_map: ColumnMap, landing: Path
) -> tuple[list[Path], list[str]]:
    """The files of one partition, and why files whose month cannot be determined were left out."""
    selected, unmapped = [], []
    for path in files:
        try:
            if month_of_file(path, column_map, landing) == month:
                selected.append(path)
        except LedgerFileError as exc:
            unmapped.append(str(exc))
    return selected, unmapped
