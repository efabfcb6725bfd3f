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
from acctax_assets.ledger.account_codes import Chart, account_codes, split_accounts
from acctax_assets.ledger.column_map import ColumnMap, ColumnMapping
from acctax_assets.ledger.delimited_text import parse_text
from acctax_assets.ledger.file_formats import disguise, open_sheets
from acctax_assets.ledger.headers import (
    HEADER_SEARCH_ROWS,
    Header,
    describe_rows,
    header_without_date,
    known_headers,
    no_header_problem,
)
from acctax_assets.ledger.line_kinds import (
    STRUCTURE_KINDS,
    TITLE_ROW,
    TRANSACTION,
    LineKinds,
    classify_lines,
    transactions_only,
)
from acctax_assets.ledger.parsing import TEXT
from acctax_assets.ledger.report_context import (
    FILLED,
    block_values,
    company_from_file_name,
    company_line,
    complete_dates,
    report_year,
)
from acctax_assets.ledger.schema import (
    CANONICAL_COLUMNS,
    COMPANY_COLUMN,
    DATE_ORIGIN,
    DEFAULT_COMPANY,
    KOREAN_HEADERS,
    LABEL_COLUMN,
    LABEL_NAME_COLUMN,
    LINE_KIND,
    LINEAGE_COLUMNS,
    PARSE_ERROR,
    SOURCE_LABELLED,
    SOURCE_MTIME,
    SOURCE_ROW,
    describe_required,
    missing_required,
)
from acctax_assets.ledger.sheets import Cells, Sheet, TextBody

_MAP_DATE_FIX = (
    "map your date header and the other headers in $ACCTAX_HOME/column_map.yaml (`<your header>: date` under "
    "`columns:`, or under `sources: {'<file glob>': ...}` for this file only), or re-export the ledger with "
    f"its header row ({', '.join(KOREAN_HEADERS[c] for c in ('date', 'party_name', 'supply_amount'))} …)"
)
_NOT_A_LEDGER_FIX = (
    "this is not a ledger export: remove it from the landing folder, or re-export the 전표/매입매출장 list instead "
    "(a ledger printed with other headers needs them mapped in $ACCTAX_HOME/column_map.yaml, `<your header>: date` "
    "under `columns:`)"
)
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
    # The 더존 voucher export's columns (KOREAN_HEADERS) the file lacks; 차변/대변/잔액 are another form, not a gap.
    columns_missing: list[str] = field(default_factory=list)
    # Where company_name came from: "column" (the file), "company line" (above its header), "config" (`sources: …
    # company:`), "file name" or "default"; for all but the first, `company` is the name booked to every row.
    company_origin: str = "column"
    company: str | None = None
    # Rows that carry an account code (in the code column, or in the account-name column); 0 when unlabelled.
    labelled_rows: int = 0
    # What was read but skipped as holding no ledger, each also among `warnings`: this file's sheets without a
    # ledger header, and on the first ledger of a `read_ledger_files` call, the call's files without one.
    skipped: list[str] = field(default_factory=list)
    # What the reader read onto lines from elsewhere in the report (a year, a filled date, a block's account),
    # for the log: information, not a problem to fix.
    notes: list[str] = field(default_factory=list)

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
    def dates_completed(self) -> dict[str, int]:
        """How many dates were not printed in full on their line, by origin (see schema.DATE_ORIGIN)."""
        counts = pc.value_counts(self.table[DATE_ORIGIN]).to_pylist() if self.rows else []
        return {entry["values"]: entry["counts"] for entry in counts if entry["values"]}

    @property
    def malformed_lines(self) -> int:
        return self._flagged(PARSE_ERROR)

    @property
    def structure_lines(self) -> dict[str, int]:
        """How many lines of each structure kind (balances, subtotals, repeated headers …) the file printed."""
        kinds = pc.value_counts(self.table[LINE_KIND]).to_pylist() if self.rows else []
        counts = {entry["values"]: entry["counts"] for entry in kinds}
        return {kind: counts[kind] for kind in STRUCTURE_KINDS if counts.get(kind)}

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
    skipped: list[str] = field(default_factory=list)


class _NoLedger(LedgerFileError):
    """A file read whole in which no sheet has a ledger header: a cover page, a 일계표 or a summary printed beside
    the month's ledger. `read_ledger_files` skips it with `note` when another file of the call yields a ledger."""

    def __init__(self, path: Path, label: str, problem: str, fix: str) -> None:
        super().__init__(path, problem, fix)
        self.label = label
        self.note = f"{label}: not a ledger, file skipped (the other files are read): {problem}. Fix: {fix}"


def _tables_of(path: Path, column_map: ColumnMap, landing: Path) -> list[_Table]:
    """The ledger tables of one file (a workbook may hold several sheets); what the file is decides how it is
    read. A sheet without a ledger header is skipped with a note when another sheet has one; when none has
    one, `_NoLedger` lists the top rows of each sheet and the fix: map the date header when a row names known
    columns but no date (a ledger with another date header), else take the file out (not a ledger)."""
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
        mappable = any(header_without_date(sheet, known) for sheet in filled)
        raise _NoLedger(
            path,
            relative,
            (f"{disguised}; " if disguised else "") + no_header_problem(filled, known),
            _MAP_DATE_FIX if mappable else _NOT_A_LEDGER_FIX,
        )
    notes = [f"{relative}: {disguised}; read as {kind}"] if disguised else []
    tables, skipped = [], []
    for sheet in filled:
        label = f"{relative}#{sheet.name}" if len(filled) > 1 and sheet.name else relative
        if sheet.header is None:
            skipped.append(
                f"{label}: no ledger header in its first {HEADER_SEARCH_ROWS} rows; sheet skipped "
                f"({describe_rows(sheet, shown=3)})"
            )
            continue
        tables.append(_Table(path, label, kind, encoding, sheet, sheet.header, sheet.below(sheet.header), []))
    return [replace(tables[0], notes=notes + skipped, skipped=skipped), *tables[1:]]


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


def _line_kinds(table: _Table, columns: list[pa.Array], cells: Cells, column_map: ColumnMap) -> LineKinds:
    """Each line's kind (see line_kinds); a delimited body in which no marker can occur skips the search. A
    repeated header is recognised by the header's rows as printed (both rows of a two-row header), not by its
    flattened names."""
    count = len(cells.rows)
    if isinstance(table.rows, TextBody):
        printed = [cell.strip() for row in table.header.rows for cell in row if cell.strip()]
        # A repeated header holds all the header's cells: looking for its first two is enough (and cheap).
        repeated = len(printed) >= 2 and all(cell in table.rows.text for cell in printed[:2])
        if not repeated and not column_map.line_markers.may_occur_in(table.rows.text):
            return transactions_only(count)
    return classify_lines(columns, table.header.rows, column_map.line_markers)


def _labels(
    label: str, canonical: list[str], columns: list[pa.Array], mapping: ColumnMapping
) -> tuple[bool, int, list[str]]:
    """Whether the table is labelled (its rows must carry an account code), how many rows carry one, and a warning
    when it has account names but no codes.

    A table with an account-code column is labelled; so is one whose account-name column carries a code in most of
    its cells (`81100 복리후생비` under 계정과목: some programs print no code column), from which cleaning takes the
    codes. An unlabelled table's rows are to be predicted and never train the model, so a booked file read as
    unlabelled is named with both columns."""
    cells = {
        column: columns[canonical.index(column)].to_pandas(types_mapper={pa.string(): TEXT}.get)
        for column in (LABEL_COLUMN, LABEL_NAME_COLUMN)
        if column in canonical
    }
    if LABEL_COLUMN in cells:
        codes = account_codes(cells[LABEL_COLUMN], cells.get(LABEL_NAME_COLUMN), Chart()).code
        return True, int(codes.notna().sum()), []
    if LABEL_NAME_COLUMN not in cells:
        return False, 0, []
    names = split_accounts(cells[LABEL_NAME_COLUMN])
    coded = int(names.code.notna().sum())
    named = int((names.code.notna() | names.name.notna()).sum())
    if coded * 2 > named:
        return True, coded, []
    header = next(raw for raw, column in mapping.rename.items() if column == LABEL_NAME_COLUMN)
    found = f"only {coded} of its {named} names carry a code" if coded else "its names carry no code"
    warning = (
        f"{label}: has an account-name column {header!r} (acct_name) but no account-code column (usual header "
        f"{KOREAN_HEADERS[LABEL_COLUMN]!r}, acct_code), and {found}: its rows are read as unlabelled (to be "
        "predicted) and do not train the model. Fix: if the file is booked, map its code header to acct_code "
        "(`<header>: acct_code` under `columns:` in $ACCTAX_HOME/column_map.yaml) or re-export it with the code column"
    )
    return False, 0, [warning]


# The columns a clerk and the model read a line by: one of them empty on every line of a file is worth a warning.
DESCRIPTIVE_COLUMNS: tuple[str, ...] = ("party_name", "desc", "item")


def _empty_descriptive(
    label: str, names: list[str], canonical: list[str], columns: list, kinds: LineKinds
) -> list[str]:
    """A warning per descriptive column the file has but leaves empty on every transaction line: an export
    setting or a wrong mapping, which starves the model of its strongest text without failing anything."""
    transactions = pc.equal(kinds.kind, TRANSACTION)
    if not pc.any(transactions).as_py():
        return []
    warnings = []
    for name, column, values in zip(names, canonical, columns, strict=False):
        if column in DESCRIPTIVE_COLUMNS:
            filled = pc.and_(transactions, pc.not_equal(pc.utf8_trim_whitespace(values), ""))
            if not pc.any(filled).as_py():
                warnings.append(
                    f"{label}: column {name!r} ({column}) is empty on every line, so the model reads nothing from it "
                    "in this file. Fix: include it in the export, or map the header that holds it in "
                    "$ACCTAX_HOME/column_map.yaml"
                )
    return warnings


def _company(file_name: str, preamble: list[list[str]], column_map: ColumnMap) -> tuple[str | None, str]:
    """The company of a file without a company column and where it came from: the company line above its header,
    the column map's `sources:`, the leading part of its file name, in that order; (None, "default") if none."""
    for company, origin in (
        (company_line(preamble), "company line"),
        (column_map.company_for(file_name), "config"),
        (company_from_file_name(file_name), "file name"),
    ):
        if company:
            return company, origin
    return None, "default"


def _completed(
    table: _Table, canonical: list[str], columns: list[pa.Array], kinds: LineKinds
) -> tuple[pa.Array, list[str]]:
    """What the report prints once, read onto its transaction lines (report_context): month-day dates get their
    year, blank dates in a day-by-day print are filled down, and a block's account or counterparty (title line)
    is carried onto its lines. `columns` is updated in place; returns each line's date origin and notes."""
    preamble = table.sheet.top()[: table.header.index]
    notes = []
    position = canonical.index("date")
    dates = complete_dates(table.label, columns[position], kinds, report_year(preamble, table.path.name))
    columns[position] = dates.dates
    filled, from_year = dates.count(FILLED), dates.count("year from")
    if from_year:
        source = next(origin for origin in dates.origin.to_pylist() if origin.startswith("year from"))
        notes.append(f"{table.label}: {from_year} dates printed without a year took it {source.replace('year ', '')}")
    if filled:
        notes.append(f"{table.label}: {filled} blank dates filled from the line above (a day's date printed once)")
    if kinds.count(TITLE_ROW):
        rows = [list(row) for row in zip(*(column.to_pylist() for column in columns), strict=True)]
        for column, values in block_values([[cell or "" for cell in row] for row in rows], kinds).items():
            carried = pa.array([value or "" for value in values], pa.string())
            if column in canonical:
                at = canonical.index(column)
                blank = pc.equal(pc.utf8_trim_whitespace(columns[at]), "")
                columns[at] = pc.if_else(pc.and_(blank, pc.not_equal(carried, "")), carried, columns[at])
            else:
                canonical.append(column)
                columns.append(carried)
            notes.append(f"{table.label}: {column} carried from each block's title line onto its lines")
    return dates.origin, notes


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
    kinds = _line_kinds(table, columns, cells, column_map)
    warnings = (
        table.notes
        + _empty_descriptive(label, names, canonical, columns, kinds)
        + [
            f"{label}: rows {first_row + header.index} and {first_row + index} both look like a header "
            f"({header.known} and {known} known columns); row {first_row + header.index} is used. "
            "Fix: delete the other row if it is not the header"
            for index, known in header.others
        ]
    )
    date_origin, notes = _completed(table, canonical, columns, kinds)
    company_origin, company = "column", None
    if COMPANY_COLUMN not in canonical:
        company, company_origin = _company(table.path.name, table.sheet.top()[: header.index], column_map)
        if company is None:
            company = DEFAULT_COMPANY
            warnings.append(
                f"{label}: no company column (usual header {KOREAN_HEADERS[COMPANY_COLUMN]!r}); its rows are booked to "
                f"{DEFAULT_COMPANY!r}. Fix: add `company: <name>` for this file under `sources:` in $ACCTAX_HOME/column_map.yaml"
            )
        canonical.append(COMPANY_COLUMN)
        columns.append(pa.repeat(company, count))
    labelled, labelled_rows, unlabelled = _labels(label, canonical, columns, mapping)
    warnings.extend(unlabelled)
    if not count:
        warnings.append(f"{label}: header only, no data rows")
    lineage = [
        pa.repeat(label, count),
        pa.array(cells.rows, type=pa.int64()),
        pa.repeat(labelled, count),
        cells.errors,
        kinds.kind,
        kinds.marker,
        date_origin,
        pa.repeat(pa.scalar(table.path.stat().st_mtime, pa.float64()), count),
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
        columns_missing=[c for c in KOREAN_HEADERS if c not in present],
        company_origin=company_origin,
        company=company,
        labelled_rows=labelled_rows,
        notes=notes,
    )


def read_ledger_files(paths: Iterable[Path], column_map: ColumnMap, landing: Path) -> list[LedgerFile]:
    """Read landing files into one LedgerFile per ledger table (a workbook may hold several sheets).

    The delimited files' rows are parsed together (an office exports one small file per client company).
    A file that was read but holds no ledger (a cover page, a 일계표 or summary beside the month's ledger) is
    skipped, named in the first ledger's `warnings` and `skipped`, as long as another file yields a ledger: one
    such file must not sink a month. When none does, one LedgerFileError names each file, its top rows and its
    fix. A file that cannot be read at all (empty, corrupt, PDF, undecodable) raises its own LedgerFileError
    whatever the other files hold: it may be the month's ledger itself, cut short while being copied, and
    skipping it would lose its lines from a month that looks complete.
    """
    tables: list[_Table] = []
    not_ledgers: list[_NoLedger] = []
    for path in paths:
        try:
            tables.extend(_tables_of(path, column_map, landing))
        except _NoLedger as exc:
            not_ledgers.append(exc)
    if not tables and not_ledgers:
        raise _none_is_a_ledger(not_ledgers)
    texts = [table.rows for table in tables if isinstance(table.rows, TextBody)]
    parsed = iter(parse_text(texts))
    ledgers = []
    for table in tables:
        ledger = _ledger_file(table, next(parsed) if isinstance(table.rows, TextBody) else table.rows, column_map)
        ledgers.append(replace(ledger, skipped=table.skipped) if table.skipped else ledger)
    if not_ledgers:
        notes = [exc.note for exc in not_ledgers]
        first = ledgers[0]
        ledgers[0] = replace(first, warnings=[*first.warnings, *notes], skipped=[*first.skipped, *notes])
    return ledgers


def _none_is_a_ledger(not_ledgers: list[_NoLedger]) -> LedgerFileError:
    """The error for a call none of whose files holds a ledger: a file's own error when it is the only one, else
    one error naming each file with its rows seen and its fix."""
    if len(not_ledgers) == 1:
        return not_ledgers[0]
    return LedgerFileError(
        ", ".join(exc.label for exc in not_ledgers),
        f"none of these {len(not_ledgers)} files holds a ledger: "
        + " || ".join(f"{exc.label}: {exc.problem}. Fix for {exc.label}: {exc.fix}" for exc in not_ledgers),
        "land the month's 전표/매입매출장 export, or map the headers of the file that is the ledger, as said for it",
    )


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
    text_columns = [c for c in combined.columns if c not in (SOURCE_ROW, SOURCE_LABELLED, SOURCE_MTIME)]
    combined[text_columns] = combined[text_columns].fillna("")
    return combined
