"""Turning the sheets of landing files into canonical raw tables, one per month.

- `landing.py`: which files are ledger files and which month each belongs to.
- `file_formats.py`: a file's bytes as sheets of text cells (encodings, real file kinds), read by
  `delimited_text.py` (delimiters; bodies parsed in one Arrow call) or `grid_files.py` (XLSX/XLS/HTML/Parquet);
  `sheets.py` holds the sheet and cell types they share.
- `headers.py`: which row of a sheet is its header, and the message when none is.

Here each sheet's header is mapped to canonical columns (column_map), the company is filled, totals lines are
marked, and every raw row keeps its source (`<file>#<sheet>` for a sheet of a multi-sheet workbook) and the
row number a spreadsheet shows for it.

Files are kept as Arrow tables until `combine` converts the month once: one office exports a file per
client company, and converting hundreds of small tables to pandas one by one cost more than reading them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from acctax_assets.errors import ColumnMapError, LedgerFileError
from acctax_assets.ledger.column_map import ColumnMap, ColumnMapping
from acctax_assets.ledger.delimited_text import parse_text
from acctax_assets.ledger.file_formats import disguise, open_sheets
from acctax_assets.ledger.headers import HEADER_SEARCH_ROWS, Header, describe_rows, known_headers, no_header_problem
from acctax_assets.ledger.parsing import TEXT, TOTALS_MARKER
from acctax_assets.ledger.schema import (
    CANONICAL_COLUMNS,
    COMPANY_COLUMN,
    DEFAULT_COMPANY,
    KOREAN_HEADERS,
    LABEL_COLUMN,
    LINEAGE_COLUMNS,
    PARSE_ERROR,
    SOURCE_LABELLED,
    SOURCE_ROW,
    SUMMARY_CELL,
    describe_required,
    missing_required,
)
from acctax_assets.ledger.sheets import Cells, Sheet, TextBody, no_errors

_MAP_FIX = (
    "add a line `<your header>: <column>` under `columns:` (or under `sources: {'<file glob>': ...}` for this file "
    "only) in $ACCTAX_HOME/column_map.yaml, or re-export with the standard headers"
)


@dataclass(frozen=True, eq=False)
class LedgerFile:
    """One ledger table (a file, or one sheet of a workbook) in canonical columns plus lineage, with what
    the reader found out about it."""

    path: Path
    table: pa.Table
    encoding: str
    mapping: ColumnMapping
    warnings: list[str] = field(default_factory=list)
    source_file: str = ""
    kind: str = "text"
    sheet: str | None = None
    preamble_rows: int = 0
    columns_missing: list[str] = field(default_factory=list)
    # Where company_name came from: "column" (the file), "config" (`sources: … company:`) or "default"; for the
    # last two, `company` is the name booked to every row.
    company_origin: str = "column"
    company: str | None = None

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The table as pandas (text as Arrow-backed strings); `combine` converts many files at once instead."""
        return self.table.to_pandas(types_mapper={pa.string(): TEXT}.get)

    @property
    def rows(self) -> int:
        return self.table.num_rows

    @property
    def company_source(self) -> str:
        """`column`, or the company booked to every row and where it came from: `주식회사 한빛 (config)`."""
        return self.company_origin if self.company is None else f"{self.company} ({self.company_origin})"

    @property
    def malformed_lines(self) -> int:
        return self._flagged(PARSE_ERROR)

    @property
    def summary_rows(self) -> int:
        return self._flagged(SUMMARY_CELL)

    def _flagged(self, lineage_column: str) -> int:
        return self.rows - pc.sum(pc.equal(self.table[lineage_column], "")).as_py() if self.rows else 0


@dataclass(frozen=True)
class _Table:
    """A ledger table found in a file, before its rows are parsed."""

    path: Path
    label: str
    kind: str
    encoding: str
    sheet: Sheet
    header: Header
    rows: Cells | TextBody
    notes: list[str]


def _tables_of(path: Path, column_map: ColumnMap, landing: Path) -> list[_Table]:
    """The ledger tables of one file (a workbook may hold several sheets); what the file is decides how it is
    read. A sheet without a ledger header is skipped with a note when another sheet has one; when none has
    one, the LedgerFileError lists the top rows of each sheet."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LedgerFileError(path, f"cannot be read ({exc})", "check the file's permissions or copy it again") from exc
    known = known_headers(column_map, path.name)
    kind, encoding, sheets = open_sheets(path, data, known)
    try:
        relative = path.relative_to(landing).as_posix()
    except ValueError:
        relative = path.name
    disguised = disguise(path, kind)
    filled = [sheet for sheet in sheets if not sheet.blank]
    if not filled:
        raise LedgerFileError(
            path, "holds no cells (every sheet is empty)", "re-export it or delete it from the landing folder"
        )
    if not any(sheet.header for sheet in filled):
        raise LedgerFileError(
            path,
            (f"{disguised}; " if disguised else "") + no_header_problem(filled, known),
            "map your date header and the other headers in $ACCTAX_HOME/column_map.yaml (`<your header>: date` under "
            "`columns:`, or under `sources: {'<file glob>': ...}` for this file only), or re-export the ledger with "
            f"its header row ({', '.join(KOREAN_HEADERS[c] for c in ('date', 'party_name', 'supply_amount'))} …)",
        )
    notes = [f"{relative}: {disguised}; read as {kind}"] if disguised else []
    tables = []
    for sheet in filled:
        label = f"{relative}#{sheet.name}" if len(filled) > 1 and sheet.name else relative
        if sheet.header is None:
            notes.append(
                f"{label}: no ledger header in its first {HEADER_SEARCH_ROWS} rows; sheet skipped "
                f"({describe_rows(sheet, shown=3)})"
            )
            continue
        tables.append(_Table(path, label, kind, encoding, sheet, sheet.header, sheet.below(sheet.header), []))
    return [replace(tables[0], notes=notes), *tables[1:]]


def _named_columns(header: list[str], cells: Cells) -> tuple[list[str], list[pa.Array]]:
    """Drop columns with neither a header nor a value (trailing formatting); name headerless data `column_<n>`."""
    header = header + [""] * (len(cells.columns) - len(header))
    if all(name.strip() for name in header):
        return header, list(cells.columns)
    names, columns = [], []
    for position, (name, column) in enumerate(zip(header, cells.columns, strict=False), start=1):
        if not name.strip():
            if len(column) == 0 or pc.all(pc.equal(pc.utf8_trim_whitespace(column), "")).as_py():
                continue
            name = f"column_{position}"
        names.append(name)
        columns.append(column)
    return names, columns


def _summary_cells(columns: list[pa.Array], date_position: int, count: int) -> pa.Array:
    """Per row: the totals marker its first non-empty cell (in file order) or its date cell holds, else ""."""
    first = no_errors(count)
    for column in columns:
        first = pc.if_else(pc.equal(first, ""), pc.utf8_trim_whitespace(column), first)
    found = pc.if_else(pc.match_substring_regex(first, TOTALS_MARKER), first, "")
    date = pc.utf8_trim_whitespace(columns[date_position])
    return pc.if_else(pc.and_(pc.equal(found, ""), pc.match_substring_regex(date, TOTALS_MARKER)), date, found)


def _ledger_file(table: _Table, cells: Cells, column_map: ColumnMap) -> LedgerFile:
    """Map one table's header, check what must be there, fill the company, and add lineage."""
    label, header, first_row = table.label, table.header, table.sheet.first_row
    names, columns = _named_columns(header.cells, cells)
    try:
        mapping = column_map.map_headers(names, table.path.name)
    except ColumnMapError as exc:
        raise LedgerFileError(label, str(exc), "edit the column map") from exc
    canonical = [mapping.rename[name] for name in names]
    missing = missing_required(canonical)
    if missing:
        required = "; ".join(describe_required(group) for group in missing)
        raise LedgerFileError(label, f"missing required column(s) {required}; headers found: {names}", _MAP_FIX)
    count = len(cells.rows)
    summary = (
        _summary_cells(columns, canonical.index("date"), count) if cells.may_have_totals and count else no_errors(count)
    )
    warnings = table.notes + [
        f"{label}: rows {first_row + header.index} and {first_row + index} both look like a header "
        f"({header.known} and {known} known columns); row {first_row + header.index} is used. "
        "Fix: delete the other row if it is not the header"
        for index, known in header.others
    ]
    company_origin, company = "column", None
    if COMPANY_COLUMN not in canonical:
        company = column_map.company_for(table.path.name)
        company_origin = "config" if company else "default"
        if company is None:
            company = DEFAULT_COMPANY
            warnings.append(
                f"{label}: no company column (usual header {KOREAN_HEADERS[COMPANY_COLUMN]!r}); its rows are booked to "
                f"{DEFAULT_COMPANY!r}. Fix: add `company: <name>` for this file under `sources:` in $ACCTAX_HOME/column_map.yaml"
            )
        canonical.append(COMPANY_COLUMN)
        columns.append(pa.repeat(company, count))
    if not count:
        warnings.append(f"{label}: header only, no data rows")
    lineage = [
        pa.repeat(label, count),
        pa.array(cells.rows, type=pa.int64()),
        pa.repeat(LABEL_COLUMN in canonical, count),
        cells.errors,
        summary,
    ]
    present = set(canonical)
    return LedgerFile(
        path=table.path,
        table=pa.Table.from_arrays([*columns, *lineage], names=[*canonical, *LINEAGE_COLUMNS]),
        encoding=table.encoding,
        mapping=mapping,
        warnings=warnings,
        source_file=label,
        kind=table.kind,
        sheet=table.sheet.name,
        preamble_rows=first_row - 1 + header.index,
        columns_missing=[c for c in CANONICAL_COLUMNS if c not in present],
        company_origin=company_origin,
        company=company,
    )


def read_ledger_files(paths: Iterable[Path], column_map: ColumnMap, landing: Path) -> list[LedgerFile]:
    """Read landing files into one LedgerFile per ledger table (a workbook may hold several sheets).

    The delimited files' rows are parsed together (an office exports one small file per client company);
    raises LedgerFileError naming the first unusable file.
    """
    tables = [table for path in paths for table in _tables_of(path, column_map, landing)]
    texts = [table.rows for table in tables if isinstance(table.rows, TextBody)]
    parsed = iter(parse_text(texts))
    return [
        _ledger_file(table, next(parsed) if isinstance(table.rows, TextBody) else table.rows, column_map)
        for table in tables
    ]


def read_ledger_sheets(path: Path, column_map: ColumnMap, landing: Path) -> list[LedgerFile]:
    """One file's ledger tables, one LedgerFile per sheet that has a ledger header (see `read_ledger_files`)."""
    return read_ledger_files([path], column_map, landing)


def read_ledger_file(path: Path, column_map: ColumnMap, landing: Path) -> LedgerFile:
    """Read a file that holds one ledger table (CSV, TSV, a one-ledger workbook, Parquet).

    A workbook with several ledger sheets raises LedgerFileError: read it with `read_ledger_sheets`.
    """
    ledgers = read_ledger_sheets(path, column_map, landing)
    if len(ledgers) > 1:
        raise LedgerFileError(
            path,
            f"holds {len(ledgers)} ledger sheets ({', '.join(ledger.sheet or '' for ledger in ledgers)})",
            "read it with read_ledger_sheets, which returns one LedgerFile per sheet",
        )
    return ledgers[0]


def combine(files: list[LedgerFile]) -> pd.DataFrame:
    """Stack ledger tables into one raw table (converted to pandas once); a column a file lacks is empty
    for its rows. Columns: canonical, then unknown ones in order of appearance, then lineage."""
    tables = [f.table for f in files]
    same_columns = all(table.schema.equals(tables[0].schema) for table in tables)
    table = pa.concat_tables(tables, promote_options="none" if same_columns else "default").combine_chunks()
    canonical = [c for c in CANONICAL_COLUMNS if c in table.column_names]
    unknown = [c for c in table.column_names if c not in canonical and c not in LINEAGE_COLUMNS]
    combined = table.select(canonical + unknown + list(LINEAGE_COLUMNS)).to_pandas(types_mapper={pa.string(): TEXT}.get)
    text_columns = [c for c in combined.columns if c not in (SOURCE_ROW, SOURCE_LABELLED)]
    combined[text_columns] = combined[text_columns].fillna("")
    return combined
