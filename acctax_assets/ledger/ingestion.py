"""Reading landing files into one raw table per month.

Which month a file belongs to: a period in the file name wins (`ledger_2024-03.csv`, `전표_202403.xlsx`,
`export_20240315.csv`); a file without one belongs to the month most of its 전표일자 values fall in.

What a file is comes from its bytes, not its name: accounting software saves HTML tables as `.xls`, and
offices rename files. CSV/TSV text (UTF-8, UTF-8 with BOM, CP949/EUC-KR, UTF-16 "Unicode text"), XLSX,
legacy XLS, HTML tables and Parquet are read; the header is the row among the first ones that names the
most known columns, so title, period and blank rows above it are skipped. Every raw row keeps its source
(`<file>#<sheet>` for a sheet of a multi-sheet workbook) and the row number a spreadsheet shows for it.

Files are kept as Arrow tables until `combine` converts the month once: one office exports a file per
client company, and converting hundreds of small tables to pandas one by one cost more than reading them.
"""

from __future__ import annotations

import bisect
import csv
import datetime
import io
import itertools
import os
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import lxml.etree
import lxml.html
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.utils.exceptions import InvalidFileException
from pyarrow import csv as pa_csv
from xlrd import XLRDError
from xlrd.compdoc import CompDocError

from acctax_assets.errors import ColumnMapError, LedgerFileError
from acctax_assets.ledger.column_map import ColumnMap, ColumnMapping, normalize_header
from acctax_assets.ledger.parsing import TEXT, TOTALS_MARKER, parse_dates
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

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet")
# Partial downloads, editor lock files and our own temp files are never ledger files.
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial")
# The header is looked for in this many rows at the top of a sheet; it must name the date column and at
# least one more known column.
HEADER_SEARCH_ROWS = 30
MIN_KNOWN_HEADERS = 2
TRUNCATED_CHARACTER = "file ends inside a character (truncated file?)"

_PERIOD = re.compile(r"(?<!\d)(20\d{2})[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?(?!\d)")
_REEXPORT = "re-export the ledger as CSV (UTF-8 or CP949), XLSX, XLS or Parquet"
_MAP_FIX = (
    "add a line `<your header>: <column>` under `columns:` (or under `sources: {'<file glob>': ...}` for this file "
    "only) in $ACCTAX_HOME/column_map.yaml, or re-export with the standard headers"
)
_ZIP, _OLE2, _PARQUET, _PDF = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PAR1", b"%PDF"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SPREADSHEET_XML = "urn:schemas-microsoft-com:office:spreadsheet"
# What each suffix is expected to hold; a file whose bytes say otherwise is read for what it is, with a warning.
_EXPECTED_KIND = {".csv": "text", ".tsv": "text", ".txt": "text", ".xlsx": "xlsx", ".xls": "xls", ".parquet": "parquet"}
_KIND_NAMES = {"text": "delimited text", "xlsx": "an XLSX workbook", "xls": "a legacy XLS workbook",
               "html": "an HTML table", "parquet": "a Parquet file"}
_BLANK_LINE = re.compile(r"\n[ \t,]*(?:\r?\n|$)")
_BLANK_FIRST_LINE = re.compile(r"[ \t,]*(?:\r?\n|$)")
# Separates files parsed together; a file holding this control character is parsed alone.
_SENTINEL = "\x1e"
_TOTALS_BEFORE = re.compile(r"[합소월누총]\s*$")
_EXCEL_READ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, KeyError, InvalidFileException, XLRDError, CompDocError)


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
class _Cells:
    """The rows below a header: cells as text columns, a parse error per row, spreadsheet row numbers."""

    columns: list[pa.Array | pa.ChunkedArray]
    errors: pa.Array
    rows: np.ndarray
    # False only when the reader saw the text and no totals marker can be in it (skips the per-column search).
    may_have_totals: bool = True


@dataclass(frozen=True)
class _TextBody:
    """Delimited text below its header, parsed later: the small files of a month are parsed in one Arrow call."""

    path: Path
    text: str
    delimiter: str
    width: int
    first_row: int
    truncated: bool


@dataclass(frozen=True)
class _Header:
    """The header row of a sheet (index among its rows, its cells), how many known columns it names, and the
    other header-like rows (index, known columns)."""

    index: int
    cells: list[str]
    known: int
    others: list[tuple[int, int]]


@dataclass(frozen=True)
class _Sheet:
    """One table of a file: its header (None when none was found), its top rows for messages, its rows below."""

    name: str | None
    header: _Header | None
    top: Callable[[], list[list[str]]]
    below: Callable[[_Header], _Cells | _TextBody]
    blank: bool
    # The spreadsheet row number of its first row (HTML tables after the first continue the numbering).
    first_row: int = 1


def _text_array(values: Iterable[str]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _no_errors(count: int) -> pa.Array:
    return pa.repeat("", count)


def _decode(path: Path, data: bytes) -> tuple[str, str, bool]:
    """Decode UTF-16 (with BOM), UTF-8 (with or without BOM) or CP949. A multi-byte character cut at the very
    end is dropped and reported (third value), so the cut line is quarantined instead of cleaned shortened."""
    encodings = ("utf-16",) if data.startswith(_UTF16_BOMS) else ("utf-8-sig", "cp949")
    for encoding in encodings:
        try:
            return data.decode(encoding), encoding, False
        except UnicodeDecodeError as exc:
            if exc.start >= len(data) - 3:
                return data[: exc.start].decode(encoding), encoding, True
    raise LedgerFileError(path, "text is neither UTF-8 nor CP949/EUC-KR", _REEXPORT)


@dataclass(frozen=True)
class _KnownHeaders:
    """The headers the column map knows for one file, and its date headers (a header row names one)."""

    aliases: dict[str, str]
    # A row in which none of these occurs, even inside a cell, is not scored: most top rows are data.
    dates: tuple[str, ...]


def _known_headers(column_map: ColumnMap, file_name: str) -> _KnownHeaders:
    aliases = column_map.for_file(file_name)
    return _KnownHeaders(aliases, tuple(header for header, column in aliases.items() if column == "date"))


def _header_known(row: list[str], known: _KnownHeaders) -> tuple[int, bool]:
    """How many distinct known columns a row names, and whether one of them is the date."""
    cells = {normalize_header(cell) for cell in row} if "\ufeff" in "".join(row) else set(map(str.strip, row))
    targets = {known.aliases[header] for header in known.aliases.keys() & cells}
    return len(targets), "date" in targets


def _find_header(rows: Iterable[tuple[int, list[str]]], known: _KnownHeaders) -> _Header | None:
    """The first row naming the most known columns, among rows that name the date and MIN_KNOWN_HEADERS."""
    header_like = []
    for index, row in rows:
        joined = "".join(row)
        if any(date in joined for date in known.dates):
            count, has_date = _header_known(row, known)
            if has_date and count >= MIN_KNOWN_HEADERS:
                header_like.append((index, row, count))
    if not header_like:
        return None
    index, cells, count = max(header_like, key=lambda candidate: candidate[2])
    return _Header(index, cells, count, others=[(i, c) for i, _, c in header_like if i != index])


def _describe_rows(sheet: _Sheet, shown: int = 8, cells: int = 6) -> str:
    """`row 1: ['매입매출장']; row 2: (blank); …` — what the top of a sheet holds, for error messages."""
    described = []
    for number, row in enumerate(sheet.top()[:shown], start=sheet.first_row):
        filled = [cell.strip() for cell in row if cell.strip()]
        more = ", …" if len(filled) > cells else ""
        described.append(f"row {number}: " + (f"[{', '.join(repr(c) for c in filled[:cells])}{more}]" if filled else "(blank)"))
    return "; ".join(described) if described else "(no rows)"


def _no_header_problem(sheets: list[_Sheet], known: _KnownHeaders) -> str:
    """Why no sheet has a header, with the candidate rows seen, so the clerk recognises their own header."""
    parts = []
    for sheet in sheets:
        scored = [(index, *_header_known(row, known)) for index, row in enumerate(sheet.top())]
        closest = max(scored, key=lambda s: s[1], default=None)
        hint = ""
        if closest and closest[1] >= MIN_KNOWN_HEADERS and not closest[2]:
            hint = f" (row {sheet.first_row + closest[0]} names {closest[1]} known columns but no date column)"
        prefix = f"sheet {sheet.name!r}: " if sheet.name else ""
        parts.append(f"{prefix}{_describe_rows(sheet)}{hint}")
    return (
        f"no header row in the first {HEADER_SEARCH_ROWS} rows: a header names the date column "
        f"({', '.join(known.dates)}) and at least {MIN_KNOWN_HEADERS - 1} more known column. "
        "Rows seen: " + " | ".join(parts)
    )


# ---------------------------------------------------------------------------------------------------------
# Delimited text (CSV, TSV, tab-separated TXT).


def _top_lines(text: str) -> tuple[list[str], list[int]]:
    """The first HEADER_SEARCH_ROWS lines (with their line ends) and the text offset where each ends."""
    end = 0
    for _ in range(HEADER_SEARCH_ROWS):
        found = text.find("\n", end)
        if found < 0:
            end = len(text)
            break
        end = found + 1
    *complete, last = text[:end].split("\n")
    lines = [line + "\n" for line in complete] + ([last] if last else [])
    return lines, list(itertools.accumulate(map(len, lines)))


def _top_records(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The first records and the text offset where each ends; a quoted cell may span lines."""
    lines, line_ends = _top_lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    records, ends = [], []
    try:
        for record in reader:
            records.append(record)
            ends.append(line_ends[reader.line_num - 1])
    except csv.Error:
        pass  # a quoted cell cut at the end of the sample; the records before it are what we look at
    return records, ends


def _text_header(text: str, delimiter: str, known: _KnownHeaders) -> tuple[_Header | None, list[int]]:
    """The header among the first rows and where each row ends. Only lines in which a date header occurs are
    split (the others cannot be the header), unless no header is found that way or a quoted cell spans lines
    above it: then the first records are parsed properly."""
    lines, ends = _top_lines(text)
    top_end = ends[-1] if ends else 0
    candidates = set()
    for date in known.dates:
        position = text.find(date, 0, top_end)
        while position >= 0:
            candidates.add(bisect.bisect_right(ends, position))
            position = text.find(date, position + 1, top_end)
    header = _find_header(((i, next(csv.reader([lines[i]], delimiter=delimiter), [])) for i in sorted(candidates)), known)
    if header is not None and not any(line.count('"') % 2 for line in lines[: header.index + 1]):
        return header, ends
    records, ends = _top_records(text, delimiter)
    return _find_header(enumerate(records), known), ends


def _text_sheet(path: Path, text: str, truncated: bool, known: _KnownHeaders) -> _Sheet:
    """Delimited text; the delimiter (comma or tab) is the one under which the best header is found."""
    default = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    other = "," if default == "\t" else "\t"
    delimiters = [default, other] if text.find(other, 0, 65536) >= 0 else [default]
    found = {delimiter: _text_header(text, delimiter, known) for delimiter in delimiters}
    delimiter = max(delimiters, key=lambda d: found[d][0].known if found[d][0] else -1)
    header, ends = found[delimiter]

    def below(chosen: _Header) -> _TextBody:
        return _TextBody(path, text[ends[chosen.index]:], delimiter, len(chosen.cells), chosen.index + 2, truncated)

    return _Sheet(
        name=None,
        header=header,
        top=lambda: _top_records(text, delimiter)[0],
        below=below,
        blank=re.search(r"\S", text) is None,
    )


def _may_hold_totals(text: str) -> bool:
    """Whether a totals marker (합계, 소 계 …) can occur in the text: a cheap look at each `계` in it, so files
    without one skip the per-column search for totals lines."""
    position = text.find("계")
    while position >= 0:
        if _TOTALS_BEFORE.search(text, max(0, position - 8), position):
            return True
        position = text.find("계", position + 1)
    return False


def _regular(text: str) -> bool:
    """Whether the fast reader may take the text: no blank (or delimiters-only) line and no sentinel character."""
    end = len(text)
    while end and text[end - 1] in "\r\n":
        end -= 1
    return (
        end > 0
        and _SENTINEL not in text
        and not _BLANK_FIRST_LINE.match(text, 0, end)
        and not _BLANK_LINE.search(text, 0, end)
    )


def _arrow_tables(texts: list[str], delimiter: str, width: int) -> list[pa.Table] | None:
    """Parse texts of one layout in one multi-threaded Arrow call, split back per text at sentinel lines.

    None when any line is malformed, or a text ends inside a quoted cell (a sentinel went missing): those
    texts are then read one by one, and the malformed ones by the checked reader.
    """
    names = [f"c{i}" for i in range(width)]
    sentinel = _SENTINEL + delimiter * (width - 1) + "\n"
    joined = sentinel.join(text if text.endswith("\n") else text + "\n" for text in texts)
    malformed: list[object] = []

    def note_malformed(row: object) -> str:
        malformed.append(row)
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(joined.encode("utf-8")),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=note_malformed),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None  # e.g. a quoted cell larger than Arrow's block: the checked reader takes it
    if malformed:
        return None
    # combine_chunks: Arrow crashes on indices_nonzero over a chunked array without chunks (an empty table).
    sentinels = pc.indices_nonzero(pc.equal(table.column(0).combine_chunks(), _SENTINEL)).to_numpy()
    if len(sentinels) != len(texts) - 1:
        return None
    starts = np.concatenate([[0], sentinels + 1])
    stops = np.concatenate([sentinels, [table.num_rows]])
    return [table.slice(start, stop - start) for start, stop in zip(starts, stops)]


def _csv_checked(body: _TextBody) -> _Cells:
    """Split text with the csv module, flagging short (truncated) and overlong lines row by row.

    The slow path: used when the fast Arrow reader finds a malformed or blank line, so such a line is kept and
    flagged instead of being padded silently, skipped, or aborting the whole file. Blank lines are dropped but
    still counted, so each row keeps the row number a spreadsheet shows for it.
    """
    width = body.width
    try:
        numbered = [
            (number, row)
            for number, row in enumerate(
                csv.reader(io.StringIO(body.text, newline=""), delimiter=body.delimiter), start=body.first_row
            )
            if any(cell.strip() for cell in row)
        ]
    except csv.Error as exc:
        raise LedgerFileError(body.path, f"cannot be split into fields ({exc})", _REEXPORT) from exc
    errors = [""] * len(numbered)
    for index, (_, row) in enumerate(numbered):
        if len(row) < width:
            errors[index] = f"line has {len(row)} of {width} fields (truncated line?)"
            row.extend([""] * (width - len(row)))
        elif len(row) > width:
            errors[index] = f"line has {len(row)} fields, header has {width}; extra: {row[width:]!r}"
            del row[width:]
    columns = list(zip(*(row for _, row in numbered))) or [()] * width
    return _Cells([_text_array(column) for column in columns], _text_array(errors),
                  np.array([number for number, _ in numbered], dtype=np.int64))


def _parse_text(bodies: list[_TextBody]) -> list[_Cells]:
    """Parse delimited bodies: regular ones of the same layout together (one Arrow call for hundreds of small
    files), the others (blank or malformed lines) by the checked reader. A file cut inside a multi-byte
    character has its last row flagged."""
    tables: list[pa.Table | None] = [None] * len(bodies)
    layouts: dict[tuple[str, int], list[int]] = {}
    for index, body in enumerate(bodies):
        if _regular(body.text):
            layouts.setdefault((body.delimiter, body.width), []).append(index)
    for (delimiter, width), members in layouts.items():
        texts = [bodies[index].text for index in members]
        together = _arrow_tables(texts, delimiter, width)
        if together is None:
            alone = [_arrow_tables([text], delimiter, width) if len(texts) > 1 else None for text in texts]
            together = [table[0] if table else None for table in alone]
        for index, table in zip(members, together):
            tables[index] = table
    parsed = []
    for body, table in zip(bodies, tables):
        if table is None:
            cells = _csv_checked(body)
        else:
            rows = np.arange(body.first_row, body.first_row + table.num_rows, dtype=np.int64)
            cells = _Cells(table.columns, _no_errors(table.num_rows), rows, _may_hold_totals(body.text))
        if body.truncated and len(cells.rows):
            last = cells.errors[-1].as_py()
            flagged = _text_array(["; ".join(e for e in (last, TRUNCATED_CHARACTER) if e)])
            cells = replace(cells, errors=pa.concat_arrays([cells.errors[:-1], flagged]))
        parsed.append(cells)
    return parsed


# ---------------------------------------------------------------------------------------------------------
# Grids: workbooks, HTML tables, Parquet.


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a clerk sees: dates as YYYY-MM-DD, whole numbers without `.0`."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, datetime.date | np.datetime64):
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _grid_sheet(name: str | None, columns: list[pa.Array], known: _KnownHeaders, first_row: int = 1) -> _Sheet:
    """A sheet held as text columns (all its rows, top to bottom, the first being spreadsheet row `first_row`);
    blank rows are dropped from the body but keep their place in the numbering."""
    top = [list(row) for row in zip(*(column.slice(0, HEADER_SEARCH_ROWS).to_pylist() for column in columns))]
    filled = pa.repeat(False, max((len(column) for column in columns), default=0))
    for column in columns:
        filled = pc.or_(filled, pc.not_equal(pc.utf8_trim_whitespace(column), ""))

    def below(header: _Header) -> _Cells:
        keep = pc.indices_nonzero(filled.slice(header.index + 1))
        return _Cells(
            columns=[column.slice(header.index + 1).take(keep) for column in columns],
            errors=_no_errors(len(keep)),
            rows=keep.to_numpy() + header.index + 1 + first_row,
        )

    return _Sheet(
        name=name,
        header=_find_header(enumerate(top), known),
        top=lambda: top,
        below=below,
        blank=not pc.any(filled).as_py(),
        first_row=first_row,
    )


def _excel_sheets(path: Path, data: bytes, kind: str, known: _KnownHeaders) -> list[_Sheet]:
    """Every sheet of an XLSX (openpyxl) or XLS (xlrd) workbook, blank rows kept so row numbers match Excel."""
    try:
        book = pd.read_excel(io.BytesIO(data), sheet_name=None, header=None, dtype=object, na_filter=False,
                             engine="openpyxl" if kind == "xlsx" else "xlrd")
    except _EXCEL_READ_ERRORS as exc:
        what = "a ZIP archive but not an XLSX workbook" if kind == "xlsx" else "an OLE2 (legacy Office) file but not a readable XLS workbook (password-protected?)"
        raise LedgerFileError(path, f"is {what} ({exc})", f"open it in Excel, remove any password and save it as .xlsx, or {_REEXPORT}") from exc
    return [
        _grid_sheet(str(name), [_text_array(frame[column].map(_cell_text)) for column in frame.columns], known)
        for name, frame in book.items()
    ]


def _html_row(row: lxml.html.HtmlElement) -> list[str]:
    """A table row's cell texts; a cell spanning columns leaves the spanned cells empty, as Excel shows it."""
    cells: list[str] = []
    for cell in row.xpath("./td|./th"):
        cells.append(" ".join(cell.text_content().split()))
        span = cell.get("colspan", "1")
        cells.extend([""] * (int(span) - 1 if span.isdigit() and int(span) > 1 else 0))
    return cells


def _html_sheets(path: Path, text: str, known: _KnownHeaders) -> list[_Sheet]:
    """Every innermost <table>, stacked as Excel shows an HTML file (row numbers continue across tables).

    Walked with lxml rather than pandas.read_html, which infers numbers per column (a code `0012` becomes 12).
    """
    try:
        document = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (lxml.etree.ParserError, ValueError) as exc:
        raise LedgerFileError(path, f"looks like HTML but cannot be parsed ({exc})", _REEXPORT) from exc
    tables = [table for table in document.iter("table") if not table.xpath(".//table")]
    sheets, offset = [], 0
    for number, table in enumerate(tables, start=1):
        rows = [_html_row(row) for row in table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")]
        width = max((len(row) for row in rows), default=0)
        columns = [_text_array(row[i] if i < len(row) else "" for row in rows) for i in range(width)]
        sheets.append(_grid_sheet(f"table {number}" if len(tables) > 1 else None, columns, known, offset + 1))
        offset += len(rows)
    return sheets


def _parquet_sheet(path: Path, data: bytes, known: _KnownHeaders) -> _Sheet:
    """A Parquet file as a grid whose first row is its column names."""
    try:
        table = pd.read_parquet(io.BytesIO(data))
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise LedgerFileError(path, f"cannot be read as Parquet ({exc})", _REEXPORT) from exc
    columns = []
    for name in table.columns:
        values = table[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        text = values.astype(object).where(values.notna(), "").map(str)
        columns.append(pa.concat_arrays([_text_array([str(name)]), _text_array(text)]))
    return _grid_sheet(None, columns, known)


def _open(path: Path, data: bytes, known: _KnownHeaders) -> tuple[str, str, list[_Sheet]]:
    """What the bytes are (kind, encoding) and their sheets; content decides, not the suffix."""
    if not data:
        raise LedgerFileError(path, "the file is empty (0 bytes)", "re-export it or delete it from the landing folder")
    if data.startswith(_PDF):
        raise LedgerFileError(path, "is a PDF document, not a ledger export", _REEXPORT)
    if data.startswith(_ZIP):
        return "xlsx", "xlsx", _excel_sheets(path, data, "xlsx", known)
    if data.startswith(_OLE2):
        return "xls", "xls", _excel_sheets(path, data, "xls", known)
    if data.startswith(_PARQUET):
        return "parquet", "parquet", [_parquet_sheet(path, data, known)]
    text, encoding, truncated = _decode(path, data)
    if text.lstrip("\ufeff \t\r\n")[:1] != "<":
        return "text", encoding, [_text_sheet(path, text, truncated, known)]
    if not re.search(r"<table", text, re.IGNORECASE):
        what = "an Excel 2003 XML spreadsheet" if _SPREADSHEET_XML in text[:8192] else "markup (HTML/XML) without a table"
        raise LedgerFileError(path, f"is {what}, not a table", f"open it in Excel and save it as .xlsx, or {_REEXPORT}")
    return "html", encoding, _html_sheets(path, text, known)


# ---------------------------------------------------------------------------------------------------------
# One sheet -> one LedgerFile.


@dataclass(frozen=True)
class _Table:
    """A ledger table found in a file, before its rows are parsed."""

    path: Path
    label: str
    kind: str
    encoding: str
    sheet: _Sheet
    header: _Header
    rows: _Cells | _TextBody
    notes: list[str]


def _tables_of(path: Path, column_map: ColumnMap, landing: Path) -> list[_Table]:
    """The ledger tables of one file (a workbook may hold several sheets); what the file is decides how it is
    read. A sheet without a ledger header is skipped with a note when another sheet has one; when none has
    one, the LedgerFileError lists the top rows of each sheet."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LedgerFileError(path, f"cannot be read ({exc})", "check the file's permissions or copy it again") from exc
    known = _known_headers(column_map, path.name)
    kind, encoding, sheets = _open(path, data, known)
    try:
        relative = path.relative_to(landing).as_posix()
    except ValueError:
        relative = path.name
    expected = _EXPECTED_KIND.get(path.suffix.lower())
    disguise = f"named {path.suffix} but is {_KIND_NAMES[kind]}" if expected and expected != kind else ""
    filled = [sheet for sheet in sheets if not sheet.blank]
    if not filled:
        raise LedgerFileError(path, "holds no cells (every sheet is empty)", "re-export it or delete it from the landing folder")
    if not any(sheet.header for sheet in filled):
        raise LedgerFileError(
            path,
            (f"{disguise}; " if disguise else "") + _no_header_problem(filled, known),
            "map your date header and the other headers in $ACCTAX_HOME/column_map.yaml (`<your header>: date` under "
            "`columns:`, or under `sources: {'<file glob>': ...}` for this file only), or re-export the ledger with "
            f"its header row ({', '.join(KOREAN_HEADERS[c] for c in ('date', 'party_name', 'supply_amount'))} …)",
        )
    notes = [f"{relative}: {disguise}; read as {kind}"] if disguise else []
    tables = []
    for sheet in filled:
        label = f"{relative}#{sheet.name}" if len(filled) > 1 and sheet.name else relative
        if sheet.header is None:
            notes.append(f"{label}: no ledger header in its first {HEADER_SEARCH_ROWS} rows; sheet skipped "
                         f"({_describe_rows(sheet, shown=3)})")
            continue
        tables.append(_Table(path, label, kind, encoding, sheet, sheet.header, sheet.below(sheet.header), []))
    return [replace(tables[0], notes=notes), *tables[1:]]


def _named_columns(header: list[str], cells: _Cells) -> tuple[list[str], list[pa.Array]]:
    """Drop columns with neither a header nor a value (trailing formatting); name headerless data `column_<n>`."""
    header = header + [""] * (len(cells.columns) - len(header))
    if all(name.strip() for name in header):
        return header, list(cells.columns)
    names, columns = [], []
    for position, (name, column) in enumerate(zip(header, cells.columns), start=1):
        if not name.strip():
            if len(column) == 0 or pc.all(pc.equal(pc.utf8_trim_whitespace(column), "")).as_py():
                continue
            name = f"column_{position}"
        names.append(name)
        columns.append(column)
    return names, columns


def _summary_cells(columns: list[pa.Array], date_position: int, count: int) -> pa.Array:
    """Per row: the totals marker its first non-empty cell (in file order) or its date cell holds, else ""."""
    first = _no_errors(count)
    for column in columns:
        first = pc.if_else(pc.equal(first, ""), pc.utf8_trim_whitespace(column), first)
    found = pc.if_else(pc.match_substring_regex(first, TOTALS_MARKER), first, "")
    date = pc.utf8_trim_whitespace(columns[date_position])
    return pc.if_else(pc.and_(pc.equal(found, ""), pc.match_substring_regex(date, TOTALS_MARKER)), date, found)


def _ledger_file(table: _Table, cells: _Cells, column_map: ColumnMap) -> LedgerFile:
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
    summary = _summary_cells(columns, canonical.index("date"), count) if cells.may_have_totals and count else _no_errors(count)
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
    texts = [table.rows for table in tables if isinstance(table.rows, _TextBody)]
    parsed = iter(_parse_text(texts))
    return [
        _ledger_file(table, next(parsed) if isinstance(table.rows, _TextBody) else table.rows, column_map)
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
