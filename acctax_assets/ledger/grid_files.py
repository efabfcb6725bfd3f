"""Grids as sheets: XLSX and legacy XLS workbooks, HTML tables (often saved as `.xls`) and Parquet.

Apart from delimited text (`delimited_text`) because a grid arrives already split into cells: each is read
whole into text columns, every cell as the text a clerk sees (dates as YYYY-MM-DD, codes with their leading
zeros), and its rows below the header are taken at once.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path

import lxml.etree
import lxml.html
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.utils.exceptions import InvalidFileException
from xlrd import XLRDError
from xlrd.compdoc import CompDocError

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.headers import HEADER_SEARCH_ROWS, Header, KnownHeaders, find_header
from acctax_assets.ledger.sheets import REEXPORT, Cells, Sheet, no_errors, text_array

_EXCEL_READ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, KeyError, InvalidFileException, XLRDError, CompDocError)


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


def excel_sheets(path: Path, data: bytes, kind: str, known: KnownHeaders) -> list[Sheet]:
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
            f"copy the file again, or open it in Excel, remove any password and save it as .xlsx, or {REEXPORT}",
        ) from exc
    return [
        _grid_sheet(str(name), [text_array(frame[column].map(_cell_text)) for column in frame.columns], known)
        for name, frame in book.items()
    ]


def _span(cell: lxml.html.HtmlElement, attribute: str) -> int:
    span = cell.get(attribute, "1").strip()
    return int(span) if span.isdigit() and int(span) > 1 else 1


def _html_rows(rows: list[lxml.html.HtmlElement]) -> list[list[str]]:
    """A table's cell texts, row by row, as Excel shows them: a cell spanning columns (`colspan`) or rows
    (`rowspan`, a date over a day's lines, a header merged over both rows of a two-row header) holds its text in
    its first cell and leaves the others empty, so every cell stays under its column."""
    covered: dict[int, int] = {}  # column -> how many rows, from the current one, a cell above still spans
    texts = []
    for row in rows:
        cells: list[str] = []
        for cell in row.xpath("./td|./th"):
            while covered.get(len(cells), 0):
                cells.append("")
            columns, down = _span(cell, "colspan"), _span(cell, "rowspan")
            for column in range(len(cells), len(cells) + columns):
                covered[column] = down
            cells.append(" ".join(cell.text_content().split()))
            cells.extend([""] * (columns - 1))
        covered = {column: rest - 1 for column, rest in covered.items() if rest > 1}
        texts.append(cells)
    return texts


def html_sheets(path: Path, text: str, known: KnownHeaders) -> list[Sheet]:
    """Every innermost <table>, stacked as Excel shows an HTML file (row numbers continue across tables).

    Walked with lxml rather than pandas.read_html, which infers numbers per column (a code `0012` becomes 12).
    """
    try:
        document = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (lxml.etree.ParserError, ValueError) as exc:
        raise LedgerFileError(path, f"looks like HTML but cannot be parsed ({exc})", REEXPORT) from exc
    tables = [table for table in document.iter("table") if not table.xpath(".//table")]
    sheets, offset = [], 0
    for number, table in enumerate(tables, start=1):
        rows = _html_rows(table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr"))
        width = max((len(row) for row in rows), default=0)
        columns = [text_array(row[i] if i < len(row) else "" for row in rows) for i in range(width)]
        sheets.append(_grid_sheet(f"table {number}" if len(tables) > 1 else None, columns, known, offset + 1))
        offset += len(rows)
    return sheets


def parquet_sheet(path: Path, data: bytes, known: KnownHeaders) -> Sheet:
    """A Parquet file as a grid whose first row is its column names."""
    try:
        table = pd.read_parquet(io.BytesIO(data))
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise LedgerFileError(path, f"cannot be read as Parquet ({exc})", REEXPORT) from exc
    columns = []
    for name in table.columns:
        values = table[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        text = values.astype(object).where(values.notna(), "").map(str)
        columns.append(pa.concat_arrays([text_array([str(name)]), text_array(text)]))
    return _grid_sheet(None, columns, known)
