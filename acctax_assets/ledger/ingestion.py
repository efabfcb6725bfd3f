"""Reading landing files into one raw table per month.

Which month a file belongs to: a period in the file name wins (`ledger_2024-03.csv`, `전표_202403.xlsx`,
`export_20240315.csv`); a file without one belongs to the month most of its 전표일자 values fall in.
Every raw row keeps its source file and spreadsheet row number (header = row 1), so nothing is lost
between the file and the cleaned table.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv

from acctax_assets.errors import ColumnMapError, LedgerFileError
from acctax_assets.ledger.column_map import ColumnMap, ColumnMapping
from acctax_assets.ledger.parsing import TEXT, parse_dates
from acctax_assets.ledger.schema import (
    CANONICAL_COLUMNS,
    KOREAN_HEADERS,
    LABEL_COLUMN,
    LINEAGE_COLUMNS,
    PARSE_ERROR,
    REQUIRED_COLUMNS,
    SOURCE_FILE,
    SOURCE_LABELLED,
    SOURCE_ROW,
)

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".parquet")
# Partial downloads, editor lock files and our own temp files are never ledger files.
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial")
_PERIOD = re.compile(r"(?<!\d)(20\d{2})[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?(?!\d)")
_FIRST_DATA_ROW = 2
_CSV_FIX = "re-export the ledger as CSV (UTF-8 or CP949), XLSX or Parquet"


def is_ledger_file(path: Path) -> bool:
    """Whether a landing entry is a ledger file we read (not hidden, temporary, or of another type)."""
    name = path.name
    return (
        path.is_file()
        and not name.startswith(IGNORED_PREFIXES)
        and not name.lower().endswith(IGNORED_SUFFIXES)
        and path.suffix.lower() in SUPPORTED_SUFFIXES
    )


def list_landing_files(landing: Path) -> list[Path]:
    """All ledger files under the landing folder (sub-folders included, hidden folders skipped), sorted.
    A symlink that resolves outside the landing folder is ignored: a landing file cannot pull in other files."""
    if not landing.exists():
        return []
    root = landing.resolve()
    files = [
        path
        for path in landing.rglob("*")
        if is_ledger_file(path)
        and not any(part.startswith(".") for part in path.relative_to(landing).parts[:-1])
        and path.resolve().is_relative_to(root)
    ]
    return sorted(files)


def month_from_name(name: str) -> str | None:
    """The partition key (`YYYY-MM-01`) a file name announces, if it names exactly one period."""
    periods = {f"{m.group(1)}-{m.group(2)}-01" for m in _PERIOD.finditer(Path(name).stem)}
    return periods.pop() if len(periods) == 1 else None


TRUNCATED_CHARACTER = "file ends inside a character (truncated file?)"


def _decode(path: Path, data: bytes) -> tuple[str, str, bool]:
    """Decode UTF-8 (with or without BOM) or CP949. A multi-byte character cut at the very end is dropped and
    reported (third value), so the cut line is quarantined instead of cleaned with a shortened value."""
    if not data:
        raise LedgerFileError(path, "the file is empty (0 bytes)", "re-export it or delete it from the landing folder")
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding), encoding, False
        except UnicodeDecodeError as exc:
            if exc.start >= len(data) - 3:
                return data[: exc.start].decode(encoding), encoding, True
    raise LedgerFileError(path, "text is neither UTF-8 nor CP949/EUC-KR", f"{_CSV_FIX}")


def _parse_csv_checked(text: str) -> tuple[list[str], pd.DataFrame, pd.Series, list[int]]:
    """Split CSV text with the csv module, flagging short (truncated) and overlong lines row by row.

    The slow path: used when the fast Arrow reader finds a malformed line or a blank line, so such a line is
    kept and flagged instead of being padded silently, skipped, or aborting the whole file. Blank lines are
    dropped but still counted, so each row keeps the row number a spreadsheet shows for it (4th value).
    """
    numbered = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1) if row]
    while numbered and not any(cell.strip() for cell in numbered[-1][1]):
        numbered.pop()
    if not numbered:
        return [], pd.DataFrame(), pd.Series(dtype=object), []
    header, body = numbered[0][1], [row for _, row in numbered[1:]]
    width = len(header)
    errors = [""] * len(body)
    for index, row in enumerate(body):
        if len(row) < width:
            errors[index] = f"line has {len(row)} of {width} fields (truncated line?)"
            row.extend([""] * (width - len(row)))
        elif len(row) > width:
            errors[index] = f"line has {len(row)} fields, header has {width}; extra: {row[width:]!r}"
            del row[width:]
    frame = pd.DataFrame(body, columns=range(width), dtype=object).astype(TEXT)
    return header, frame, pd.Series(errors, dtype=object), [number for number, _ in numbered[1:]]


def _parse_csv_fast(text: str) -> tuple[list[str], pd.DataFrame, pd.Series, list[int]] | None:
    """Multi-threaded Arrow CSV reader for well-formed files; None when any line is malformed or blank."""
    header = next(csv.reader(io.StringIO(text, newline="")), [])
    body_start = text.find("\n") + 1
    if not header or len(set(header)) != len(header) or re.search(r"\n\r?\n.", text[body_start:], re.DOTALL):
        return None
    malformed: list[object] = []

    def note_malformed(row: object) -> str:
        malformed.append(row)
        return "skip"

    names = [f"c{i}" for i in range(len(header))]
    table = pa_csv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=note_malformed),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if malformed:
        return None
    frame = table.to_pandas(types_mapper={pa.string(): TEXT}.get)
    frame.columns = range(len(header))
    return header, frame, pd.Series([""] * len(frame), dtype=object), _sequential_rows(len(frame))


def _sequential_rows(count: int) -> list[int]:
    return list(range(_FIRST_DATA_ROW, _FIRST_DATA_ROW + count))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as a string, missing as "" (raw keeps what the file said; cleaning decides types)."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        out[column] = values.astype(object).where(values.notna(), "").map(str).astype(TEXT)
    return pd.DataFrame(out, index=frame.index)


@dataclass(frozen=True)
class LedgerFile:
    """One landing file read into canonical columns, with what the reader found out about it."""

    path: Path
    frame: pd.DataFrame
    encoding: str
    mapping: ColumnMapping
    warnings: list[str] = field(default_factory=list)


def _read_cells(path: Path) -> tuple[list[str], pd.DataFrame, pd.Series, list[int], str]:
    """Header, cells as text, a parse error per row ("" when fine), each row's spreadsheet row number, encoding."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text, encoding, truncated = _decode(path, path.read_bytes())
        header, frame, errors, rows = _parse_csv_fast(text) or _parse_csv_checked(text)
        if not header:
            raise LedgerFileError(path, "the file has no header line", "re-export it with its header row")
        if truncated and len(frame):
            errors.iloc[-1] = "; ".join(e for e in (errors.iloc[-1], TRUNCATED_CHARACTER) if e)
        return header, frame, errors, rows, encoding
    try:
        if suffix == ".xlsx":
            table = pd.read_excel(path, dtype=str, engine="openpyxl", keep_default_na=False)
            encoding = "xlsx"
        else:
            table = pd.read_parquet(path)
            encoding = "parquet"
    except (zipfile.BadZipFile, ValueError, OSError, KeyError) as exc:
        raise LedgerFileError(path, f"cannot be read as {suffix[1:].upper()} ({exc})", _CSV_FIX) from exc
    header = [str(column) for column in table.columns]
    table.columns = range(len(header))
    return header, _as_text(table), pd.Series([""] * len(table), dtype=object), _sequential_rows(len(table)), encoding


def read_ledger_file(path: Path, column_map: ColumnMap, landing: Path) -> LedgerFile:
    """Read one file into canonical columns plus lineage; raise LedgerFileError when it is unusable."""
    header, cells, errors, rows, encoding = _read_cells(path)
    try:
        mapping = column_map.map_headers(header, path.name)
    except ColumnMapError as exc:
        raise LedgerFileError(path, str(exc), "edit the column map") from exc
    columns = [mapping.rename[h] for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        usual = ", ".join(f"{c!r} (usual header {KOREAN_HEADERS[c]!r})" for c in missing)
        raise LedgerFileError(
            path,
            f"missing required column(s) {usual}; headers found: {header}",
            "add a line `<your header>: <column>` under `columns:` (or under `sources: {'<file glob>': ...}` "
            "for this file only) in $ACCTAX_HOME/column_map.yaml, or re-export with the standard headers",
        )
    frame = cells.set_axis(columns, axis=1)
    frame[SOURCE_FILE] = path.relative_to(landing).as_posix() if path.is_relative_to(landing) else path.name
    frame[SOURCE_ROW] = np.asarray(rows, dtype=np.int64)
    frame[SOURCE_LABELLED] = LABEL_COLUMN in columns
    frame[PARSE_ERROR] = errors.to_numpy()
    warnings = [] if len(frame) else [f"{path.name}: header only, no data rows"]
    return LedgerFile(path=path, frame=frame, encoding=encoding, mapping=mapping, warnings=warnings)


def month_from_content(path: Path, column_map: ColumnMap, landing: Path) -> str | None:
    """The month most of a file's 전표일자 values fall in, or None when it has no parseable date."""
    dates = parse_dates(read_ledger_file(path, column_map, landing).frame["date"]).dropna()
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


def combine(files: list[LedgerFile]) -> pd.DataFrame:
    """Stack files into one raw table; columns missing from a file are empty for its rows."""
    frames = [f.frame for f in files]
    combined = pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()
    text_columns = [c for c in combined.columns if c not in (SOURCE_ROW, SOURCE_LABELLED)]
    combined[text_columns] = combined[text_columns].fillna("")
    canonical = [c for c in CANONICAL_COLUMNS if c in combined.columns]
    unknown = [c for c in combined.columns if c not in canonical and c not in LINEAGE_COLUMNS]
    return combined[canonical + unknown + list(LINEAGE_COLUMNS)]
