"""Reading a file's bytes into sheets of text cells, whatever the file really is.

What a file is comes from its bytes, not its name: accounting software saves HTML tables as `.xls`, and
offices rename files. CSV/TSV text (UTF-8, UTF-8 with BOM, CP949/EUC-KR, UTF-16 "Unicode text"), XLSX,
legacy XLS, HTML tables and Parquet are read, every cell as the text a clerk sees, so codes keep their
leading zeros and amounts their formatting until cleaning parses them. Delimited text is parsed by Arrow
(hundreds of small files in one call) unless a line is blank or malformed; then the csv module reads that
file and flags each bad line instead of dropping or padding it.
"""

from __future__ import annotations

import bisect
import csv
import datetime
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
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

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.headers import HEADER_SEARCH_ROWS, Header, KnownHeaders, find_header

TRUNCATED_CHARACTER = "file ends inside a character (truncated file?)"
_REEXPORT = "re-export the ledger as CSV (UTF-8 or CP949), XLSX, XLS or Parquet"
_ZIP, _OLE2, _PARQUET, _PDF = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PAR1", b"%PDF"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SPREADSHEET_XML = "urn:schemas-microsoft-com:office:spreadsheet"
# What each suffix is expected to hold; a file whose bytes say otherwise is read for what it is, with a warning.
_EXPECTED_KIND = {".csv": "text", ".tsv": "text", ".txt": "text", ".xlsx": "xlsx", ".xls": "xls", ".parquet": "parquet"}
_KIND_NAMES = {
    "text": "delimited text",
    "xlsx": "an XLSX workbook",
    "xls": "a legacy XLS workbook",
    "html": "an HTML table",
    "parquet": "a Parquet file",
}
_BLANK_LINE = re.compile(r"\n[ \t,]*(?:\r?\n|$)")
_BLANK_FIRST_LINE = re.compile(r"[ \t,]*(?:\r?\n|$)")
# Separates files parsed together; a file holding this control character is parsed alone.
_SENTINEL = "\x1e"
_TOTALS_BEFORE = re.compile(r"[합소월누총]\s*$")
_EXCEL_READ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, KeyError, InvalidFileException, XLRDError, CompDocError)


@dataclass(frozen=True)
class Cells:
    """The rows below a header: cells as text columns, a parse error per row, spreadsheet row numbers; what
    ingestion maps to canonical columns and lineage."""

    columns: list[pa.Array | pa.ChunkedArray]
    errors: pa.Array
    rows: np.ndarray
    # False only when the reader saw the text and no totals marker can be in it (skips the per-column search).
    may_have_totals: bool = True


@dataclass(frozen=True)
class TextBody:
    """Delimited text below its header, parsed later: the small files of a month are parsed in one Arrow call."""

    path: Path
    text: str
    delimiter: str
    width: int
    first_row: int
    truncated: bool


@dataclass(frozen=True)
class Sheet:
    """One table of a file: its header (None when none was found), its top rows for messages, its rows below.
    Every kind of file is read into sheets, so finding the header and mapping columns work the same for all."""

    name: str | None
    header: Header | None
    top: Callable[[], list[list[str]]]
    below: Callable[[Header], Cells | TextBody]
    blank: bool
    # The spreadsheet row number of its first row (HTML tables after the first continue the numbering).
    first_row: int = 1


def _text_array(values: Iterable[str]) -> pa.Array:
    return pa.array(values, type=pa.string())


def no_errors(count: int) -> pa.Array:
    """An empty parse error for each of `count` rows: what a row read without a problem carries as lineage."""
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


def _text_header(text: str, delimiter: str, known: KnownHeaders) -> tuple[Header | None, list[int]]:
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
    header = find_header(
        ((i, next(csv.reader([lines[i]], delimiter=delimiter), [])) for i in sorted(candidates)), known
    )
    if header is not None and not any(line.count('"') % 2 for line in lines[: header.index + 1]):
        return header, ends
    records, ends = _top_records(text, delimiter)
    return find_header(enumerate(records), known), ends


def _text_sheet(path: Path, text: str, truncated: bool, known: KnownHeaders) -> Sheet:
    """Delimited text; the delimiter (comma or tab) is the one under which the best header is found."""
    default = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    other = "," if default == "\t" else "\t"
    delimiters = [default, other] if text.find(other, 0, 65536) >= 0 else [default]
    found = {delimiter: _text_header(text, delimiter, known) for delimiter in delimiters}
    delimiter = max(delimiters, key=lambda d: found[d][0].known if found[d][0] else -1)
    header, ends = found[delimiter]

    def below(chosen: Header) -> TextBody:
        return TextBody(path, text[ends[chosen.index] :], delimiter, len(chosen.cells), chosen.index + 2, truncated)

    return Sheet(
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
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=note_malformed
            ),
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
    return [table.slice(start, stop - start) for start, stop in zip(starts, stops, strict=True)]


def _csv_checked(body: TextBody) -> Cells:
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
    columns = list(zip(*(row for _, row in numbered), strict=True)) or [()] * width
    return Cells(
        [_text_array(column) for column in columns],
        _text_array(errors),
        np.array([number for number, _ in numbered], dtype=np.int64),
    )


def parse_text(bodies: list[TextBody]) -> list[Cells]:
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
        for index, table in zip(members, together, strict=True):
            tables[index] = table
    parsed = []
    for body, table in zip(bodies, tables, strict=True):
        if table is None:
            cells = _csv_checked(body)
        else:
            rows = np.arange(body.first_row, body.first_row + table.num_rows, dtype=np.int64)
            cells = Cells(table.columns, no_errors(table.num_rows), rows, _may_hold_totals(body.text))
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


def _grid_sheet(name: str | None, columns: list[pa.Array], known: KnownHeaders, first_row: int = 1) -> Sheet:
    """A sheet held as text columns (all its rows, top to bottom, the first being spreadsheet row `first_row`);
    blank rows are dropped from the body but keep their place in the numbering."""
    top = [
        list(row) for row in zip(*(column.slice(0, HEADER_SEARCH_ROWS).to_pylist() for column in columns), strict=False)
    ]
    filled = pa.repeat(False, max((len(column) for column in columns), default=0))
    for column in columns:
        filled = pc.or_(filled, pc.not_equal(pc.utf8_trim_whitespace(column), ""))

    def below(header: Header) -> Cells:
        keep = pc.indices_nonzero(filled.slice(header.index + 1))
        return Cells(
            columns=[column.slice(header.index + 1).take(keep) for column in columns],
            errors=no_errors(len(keep)),
            rows=keep.to_numpy() + header.index + 1 + first_row,
        )

    return Sheet(
        name=name,
        header=find_header(enumerate(top), known),
        top=lambda: top,
        below=below,
        blank=not pc.any(filled).as_py(),
        first_row=first_row,
    )


def _excel_sheets(path: Path, data: bytes, kind: str, known: KnownHeaders) -> list[Sheet]:
    """Every sheet of an XLSX (openpyxl) or XLS (xlrd) workbook, blank rows kept so row numbers match Excel."""
    try:
        book = pd.read_excel(
            io.BytesIO(data),
            sheet_name=None,
            header=None,
            dtype=object,
            na_filter=False,
            engine="openpyxl" if kind == "xlsx" else "xlrd",
        )
    except _EXCEL_READ_ERRORS as exc:
        what = (
            "cannot be read as XLSX: a ZIP archive that is not a complete workbook (truncated, still being copied, or damaged?)"
            if kind == "xlsx"
            else "cannot be read as XLS: an OLE2 (legacy Office) file but not a readable workbook (password-protected or damaged?)"
        )
        raise LedgerFileError(
            path,
            f"{what} ({exc})",
            f"copy the file again, or open it in Excel, remove any password and save it as .xlsx, or {_REEXPORT}",
        ) from exc
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


def _html_sheets(path: Path, text: str, known: KnownHeaders) -> list[Sheet]:
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


def _parquet_sheet(path: Path, data: bytes, known: KnownHeaders) -> Sheet:
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


# ---------------------------------------------------------------------------------------------------------
# What a file is.


def open_sheets(path: Path, data: bytes, known: KnownHeaders) -> tuple[str, str, list[Sheet]]:
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
        what = (
            "an Excel 2003 XML spreadsheet" if _SPREADSHEET_XML in text[:8192] else "markup (HTML/XML) without a table"
        )
        raise LedgerFileError(path, f"is {what}, not a table", f"open it in Excel and save it as .xlsx, or {_REEXPORT}")
    return "html", encoding, _html_sheets(path, text, known)


def disguise(path: Path, kind: str) -> str:
    """`named .xls but is an HTML table` when the bytes are not what the suffix says, else "": the file is read
    for what it is, and the clerk is told so."""
    expected = _EXPECTED_KIND.get(path.suffix.lower())
    return f"named {path.suffix} but is {_KIND_NAMES[kind]}" if expected and expected != kind else ""
