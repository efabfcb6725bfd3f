"""Finding the header row of a sheet, and saying why none was found.

Exports put a title, the period and blank rows above the header, so the header is the row among the first
ones that names the most known columns (the column map's headers for that file), one of them the date. When
no sheet has one, the error lists the rows seen, so the clerk recognises their own header and can map it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from acctax_assets.ledger.column_map import ColumnMap, normalize_header

# The header is looked for in this many rows at the top of a sheet; it must name the date column and at
# least one more known column.
HEADER_SEARCH_ROWS = 30
MIN_KNOWN_HEADERS = 2


@dataclass(frozen=True)
class KnownHeaders:
    """The headers the column map knows for one file, and its date headers (a header row names one)."""

    aliases: dict[str, str]
    # A row in which none of these occurs, even inside a cell, is not scored: most top rows are data.
    dates: tuple[str, ...]


def known_headers(column_map: ColumnMap, file_name: str) -> KnownHeaders:
    """The headers to look for in one file: a `sources:` entry of the column map may add headers for it."""
    aliases = column_map.for_file(file_name)
    return KnownHeaders(aliases, tuple(header for header, column in aliases.items() if column == "date"))


def _header_known(row: list[str], known: KnownHeaders) -> tuple[int, bool]:
    """How many distinct known columns a row names, and whether one of them is the date."""
    cells = {normalize_header(cell) for cell in row} if "\ufeff" in "".join(row) else set(map(str.strip, row))
    targets = {known.aliases[header] for header in known.aliases.keys() & cells}
    return len(targets), "date" in targets


@dataclass(frozen=True)
class Header:
    """The header row of a sheet (index among its rows, its cells), how many known columns it names, and the
    other header-like rows (index, known columns)."""

    index: int
    cells: list[str]
    known: int
    others: list[tuple[int, int]]


def find_header(rows: Iterable[tuple[int, list[str]]], known: KnownHeaders) -> Header | None:
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
    return Header(index, cells, count, others=[(i, c) for i, _, c in header_like if i != index])


class SheetTop(Protocol):
    """The top of a sheet as the messages here show it; `sheets.Sheet` is one (a Protocol, so that
    module imports this one and not the other way round)."""

    @property
    def name(self) -> str | None: ...

    @property
    def first_row(self) -> int: ...

    @property
    def top(self) -> Callable[[], list[list[str]]]: ...


def describe_rows(sheet: SheetTop, shown: int = 8, cells: int = 6) -> str:
    """`row 1: ['매입매출장']; row 2: (blank); …` — what the top of a sheet holds, for error messages."""
    described = []
    for number, row in enumerate(sheet.top()[:shown], start=sheet.first_row):
        filled = [cell.strip() for cell in row if cell.strip()]
        more = ", …" if len(filled) > cells else ""
        described.append(
            f"row {number}: " + (f"[{', '.join(repr(c) for c in filled[:cells])}{more}]" if filled else "(blank)")
        )
    return "; ".join(described) if described else "(no rows)"


def no_header_problem(sheets: list[SheetTop], known: KnownHeaders) -> str:
    """Why no sheet has a header, with the candidate rows seen, so the clerk recognises their own header."""
    parts = []
    for sheet in sheets:
        scored = [(index, *_header_known(row, known)) for index, row in enumerate(sheet.top())]
        closest = max(scored, key=lambda s: s[1], default=None)
        hint = ""
        if closest and closest[1] >= MIN_KNOWN_HEADERS and not closest[2]:
            hint = f" (row {sheet.first_row + closest[0]} names {closest[1]} known columns but no date column)"
        prefix = f"sheet {sheet.name!r}: " if sheet.name else ""
        parts.append(f"{prefix}{describe_rows(sheet)}{hint}")
    return (
        f"no header row in the first {HEADER_SEARCH_ROWS} rows: a header names the date column "
        f"({', '.join(known.dates)}) and at least {MIN_KNOWN_HEADERS - 1} more known column. "
        "Rows seen: " + " | ".join(parts)
    )
