"""Which landing files are ledger files, and which month each belongs to.

A period in the file name wins (`ledger_2024-03.csv`, `전표_202403.xlsx`, `export_20240315.csv`); a file without
one belongs to the month most of its 전표일자 values fall in. `LandingMonths` is the one place that decides it: the
sensor, the CLI and the raw_ledger asset all ask it, so the month a file starts a run for is the month whose run
reads it. Reading a file's dates means parsing the whole file, so what it read is cached per file signature.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from acctax_assets.atomic_writes import write_text
from acctax_assets.errors import AcctaxError, LedgerFileError
from acctax_assets.ledger.column_map import ColumnMap
from acctax_assets.ledger.ingestion import read_ledger_sheets
from acctax_assets.ledger.parsing import TEXT, parse_dates

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet")
# Partial downloads, editor lock files and our own temp files are never ledger files.
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial")
# What reading a file to find its month may raise: the file's own problem, the disk, or content pandas rejects.
READ_ERRORS = (AcctaxError, OSError, ValueError)

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


@dataclass(frozen=True)
class Placement:
    """The month one landing file belongs to, and how that was decided."""

    path: Path
    relative: str
    # `relative|mtime_ns|size`: a month read from content holds until the file changes.
    signature: str
    month: str | None
    by_content: bool
    # Why the file's content could not be read to find its month (then `month` is None).
    error: Exception | None = None


@dataclass
class LandingScan:
    """What the landing folder holds now: the files of each partition month, and files that start no run yet."""

    months: dict[str, list[Path]] = field(default_factory=dict)
    # Signature -> month of the files that carry no period in their name.
    content_months: dict[str, str] = field(default_factory=dict)
    # Signature -> why the file starts no run (unreadable, undated, outside the partitions).
    unmapped: dict[str, str] = field(default_factory=dict)
    # Files modified too recently: still being written.
    settling: list[str] = field(default_factory=list)

    def files(self, month: str, landing: Path) -> list[str]:
        return sorted(path.relative_to(landing).as_posix() for path in self.months[month])


class LandingMonths:
    """Decides which month each file of one landing folder belongs to, by name or else by content.

    Content is read once per file version: months (and read errors of the file's own making) are kept by file
    signature, in `cache_file` when given, so every sensor tick and every month's raw_ledger run of a backfill
    (separate processes) reuse what the first reader parsed; a changed file has a new signature and is read again.
    The cache is also keyed by the column map, which decides where the dates are.
    """

    def __init__(self, landing: Path, column_map: ColumnMap, cache_file: Path | None = None) -> None:
        self.landing = landing
        self.column_map = column_map
        self.cache_file = cache_file
        self._column_map_digest = hashlib.sha256(repr(column_map).encode()).hexdigest()[:16]
        self._known = self._load()
        self._used: dict[str, dict[str, Any]] = {}

    def place(self, path: Path, stat: os.stat_result) -> Placement:
        """The month of one file (`stat` is the file's, taken by the caller that listed it)."""
        relative = path.relative_to(self.landing).as_posix()
        signature = f"{relative}|{stat.st_mtime_ns}|{stat.st_size}"
        month = month_from_name(path.name)
        if month is not None:
            return Placement(path, relative, signature, month, by_content=False)
        entry = self._known.get(signature)
        if entry is None:
            try:
                entry = {"month": month_from_content(path, self.column_map, self.landing)}
            except LedgerFileError as exc:
                self._used[signature] = {"error": [exc.path, exc.problem, exc.fix]}
                return Placement(path, relative, signature, None, by_content=True, error=exc)
            except READ_ERRORS as exc:
                # Not the file's content (a disk hiccup, a file moved away): not cached, the next reader tries again.
                return Placement(path, relative, signature, None, by_content=True, error=exc)
        self._used[signature] = entry
        if "error" in entry:
            return Placement(path, relative, signature, None, by_content=True, error=LedgerFileError(*entry["error"]))
        return Placement(path, relative, signature, entry["month"], by_content=True)

    def scan(self, partition_keys: Collection[str], settled_before: float = math.inf) -> LandingScan:
        """Every ledger file of the folder in its partition month; files modified after `settled_before` (an
        epoch time) are still being written and wait, the others that start no run are listed with the reason."""
        scan = LandingScan()
        for path in list_landing_files(self.landing):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # moved or deleted since the listing; the next scan sees the folder as it is then
            if stat.st_mtime > settled_before:
                scan.settling.append(path.relative_to(self.landing).as_posix())
                continue
            placed = self.place(path, stat)
            if placed.error is not None:
                reason = f"{placed.relative}: cannot be read to find its month ({placed.error})"
            elif placed.month is None:
                reason = f"{placed.relative}: no period in the name and no parseable 전표일자"
            elif placed.month not in partition_keys:
                reason = f"{placed.relative}: month {placed.month[:7]} is not a partition (before the first month or not finished yet)"
            else:
                if placed.by_content:
                    scan.content_months[placed.signature] = placed.month
                scan.months.setdefault(placed.month, []).append(path)
                continue
            scan.unmapped[placed.signature] = reason
        self.save()
        return scan

    def files_for_month(self, month: str, files: Iterable[Path] | None = None) -> tuple[list[Path], list[str]]:
        """The files of one partition (of `files`, default the whole folder), and why files whose month cannot be
        determined were left out."""
        selected, unmapped = [], []
        for path in list_landing_files(self.landing) if files is None else files:
            try:
                placed = self.place(path, path.stat())
            except OSError as exc:
                unmapped.append(str(exc))
                continue
            if placed.error is not None:
                unmapped.append(str(placed.error))
            elif placed.month == month:
                selected.append(path)
        self.save()
        return selected, unmapped

    def save(self) -> None:
        """Keep what this folder's readers parsed for the next reader: the entries of the files looked up now (a
        file that left or changed drops out). A write that fails only costs the next reader a re-read."""
        if self.cache_file is None or self._used == self._known:
            return
        payload = {"column_map": self._column_map_digest, "files": dict(sorted(self._used.items()))}
        try:
            write_text(self.cache_file, json.dumps(payload, ensure_ascii=False, indent=1))
        except OSError as exc:
            log.warning(
                "Landing months not cached in %s (%s): the next run reads undated files again", self.cache_file, exc
            )
            return
        self._known = dict(self._used)

    def _load(self) -> dict[str, dict[str, Any]]:
        """The cache as the last reader left it; missing, unreadable or made under another column map: empty."""
        if self.cache_file is None:
            return {}
        try:
            payload = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(payload, dict) or payload.get("column_map") != self._column_map_digest:
            return {}
        files = payload.get("files")
        return {key: entry for key, entry in files.items() if _is_entry(entry)} if isinstance(files, dict) else {}


def _is_entry(entry: object) -> bool:
    """A cached month (`{"month": "YYYY-MM-01" or null}`) or read error (`{"error": [path, problem, fix]}`)."""
    if not isinstance(entry, dict) or len(entry) != 1:
        return False
    if "month" in entry:
        return entry["month"] is None or isinstance(entry["month"], str)
    error = entry.get("error")
    return isinstance(error, list) and len(error) == 3 and all(isinstance(part, str) for part in error)


def month_of_file(path: Path, column_map: ColumnMap, landing: Path) -> str | None:
    """The partition key a file belongs to (see module docstring); raises what reading its content raised."""
    placed = LandingMonths(landing, column_map).place(path, path.stat())
    if placed.error is not None:
        raise placed.error
    return placed.month


def files_for_month(
    files: Iterable[Path], month: str, column_map: ColumnMap, landing: Path
) -> tuple[list[Path], list[str]]:
    """The files of one partition among `files`, and why files whose month cannot be determined were left out."""
    return LandingMonths(landing, column_map).files_for_month(month, files)
