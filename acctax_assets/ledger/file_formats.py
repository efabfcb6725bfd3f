"""Reading a file's bytes into sheets of text cells, whatever the file really is.

What a file is comes from its bytes, not its name: accounting software saves HTML tables as `.xls`, and
offices rename files. CSV/TSV text (UTF-8, UTF-8 with BOM, CP949/EUC-KR, UTF-16 "Unicode text"), XLSX,
legacy XLS, HTML tables and Parquet are read, every cell as the text a clerk sees, so codes keep their
leading zeros and amounts their formatting until cleaning parses them. Delimited text is parsed by Arrow
(hundreds of small files in one call) unless a line is blank or malformed; then the csv module reads that
file and flags each bad line instead of dropping or padding it.

This module decides what a file is (`open_sheets`, `disguise`) and hands it to its reader: `delimited_text`
(CSV/TSV/TXT, and `parse_text` for their bodies) or `grid_files` (XLSX, XLS, HTML tables, Parquet); `sheets`
holds the types all of them share.
"""

from __future__ import annotations

import re
from pathlib import Path

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.delimited_text import text_sheet
from acctax_assets.ledger.grid_files import excel_sheets, html_sheets, parquet_sheet
from acctax_assets.ledger.headers import KnownHeaders
from acctax_assets.ledger.sheets import REEXPORT, Sheet

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
    raise LedgerFileError(path, "text is neither UTF-8 nor CP949/EUC-KR", REEXPORT)


def open_sheets(path: Path, data: bytes, known: KnownHeaders) -> tuple[str, str, list[Sheet]]:
    """What the bytes are (kind, encoding) and their sheets; content decides, not the suffix."""
    if not data:
        raise LedgerFileError(path, "the file is empty (0 bytes)", "re-export it or delete it from the landing folder")
    if data.startswith(_PDF):
        raise LedgerFileError(path, "is a PDF document, not a ledger export", REEXPORT)
    if data.startswith(_ZIP):
        return "xlsx", "xlsx", excel_sheets(path, data, "xlsx", known)
    if data.startswith(_OLE2):
        return "xls", "xls", excel_sheets(path, data, "xls", known)
    if data.startswith(_PARQUET):
        return "parquet", "parquet", [parquet_sheet(path, data, known)]
    text, encoding, truncated = _decode(path, data)
    if text.lstrip("\ufeff \t\r\n")[:1] != "<":
        return "text", encoding, [text_sheet(path, text, truncated, known)]
    if not re.search(r"<table", text, re.IGNORECASE):
        what = (
            "an Excel 2003 XML spreadsheet" if _SPREADSHEET_XML in text[:8192] else "markup (HTML/XML) without a table"
        )
        raise LedgerFileError(path, f"is {what}, not a table", f"open it in Excel and save it as .xlsx, or {REEXPORT}")
    return "html", encoding, html_sheets(path, text, known)


def disguise(path: Path, kind: str) -> str:
    """`named .xls but is an HTML table` when the bytes are not what the suffix says, else "": the file is read
    for what it is, and the clerk is told so."""
    expected = _EXPECTED_KIND.get(path.suffix.lower())
    return f"named {path.suffix} but is {_KIND_NAMES[kind]}" if expected and expected != kind else ""
