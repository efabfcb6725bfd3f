"""Finding the header row of a sheet, and saying why none was found.

Exports put a title, the period and blank rows above the header, so the header is the row among the first
ones that names the most known columns (the column map's headers for that file), one of them the date. When
no sheet has one, the error lists the rows seen, so the clerk recognises their own header and can map it.

Reports as accounting programs print them (더존, KcLep, 세무사랑, 이카운트) often have a header over two rows: a
group (`매입`, `금액`) merged over its leaves (`공급가액|부가세|합계`, `차변|대변`), the other columns merged
vertically over both rows. A merged cell reads as its name in its first cell and empty cells after it (XLSX, XLS,
HTML spans, and CSV exports that print a group once), so two rows are read as one header of flattened names
(`_two_row_header`), decided from the cells alone, without configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from acctax_assets.ledger.column_map import ColumnMap, normalize_header

# The header is looked for in this many rows at the top of a sheet; it must name the date column and at
# least one more known column.
HEADER_SEARCH_ROWS = 30
MIN_KNOWN_HEADERS = 2
# A cell holding only digits, separators and `원` is a value, not a header's leaf: a data row under a one-row
# header is never read as the header's second row.
_VALUE_CELL = re.compile(r"[\d\s,.:/()\-원]+")
# A date as a ledger's date cells hold it (2024-03-05, 2024.3.5, 20240305, 2024년 3월 5일), time allowed after it.
_DATE_CELL = re.compile(
    r"\s*(19|20)\d\d([-./]\s?\d{1,2}[-./]\s?\d{1,2}|(0[1-9]|1[0-2])\d\d|년\s*\d{1,2}월\s*\d{1,2}일)(\s|$)"
)


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
    """The header of a sheet: the index of its last row among the sheet's rows, one name per column (a two-row
    header flattened, see `_two_row_header`), how many known columns it names, the other header-like rows
    (index, known columns), and its rows as printed (one or two), so a header a report repeats on every page can
    be recognised in the body by its printed cells."""

    index: int
    cells: list[str]
    known: int
    others: list[tuple[int, int]]
    rows: list[list[str]]


def _cell(row: list[str], position: int) -> str:
    """A header cell as the column map matches it (trimmed, no BOM); a short row reads empty past its end."""
    return row[position].replace("\ufeff", "").strip() if position < len(row) else ""


def _flatten(upper: list[str], lower: list[str]) -> tuple[list[str], list[tuple[str, str] | None], list[str]]:
    """Two header rows as one name per column: a group cell and the empty cells after it (a merged cell as read)
    over leaves give `group.leaf`; a cell over an empty one (merged vertically) or over its own name keeps its
    name. Returns the names, the (group, leaf) of each grouped column, and the upper row's names over an empty
    cell (merged vertically)."""
    names: list[str] = []
    grouped: list[tuple[str, str] | None] = []
    vertical: list[str] = []
    group = ""
    for position in range(max(len(upper), len(lower))):
        top, leaf = _cell(upper, position), _cell(lower, position)
        if top and leaf and top != leaf:
            group = top
        elif top:
            group = ""
            if not leaf:
                vertical.append(top)
        elif not leaf:
            group = ""
        grouped.append((group, leaf) if group and leaf else None)
        names.append(f"{group}.{leaf}" if group and leaf else top or leaf)
    return names, grouped, vertical


def _resolve(names: list[str], grouped: list[tuple[str, str] | None], known: KnownHeaders) -> list[str]:
    """A grouped column's name: `group.leaf` when the column map knows it (`매입.공급가액`, the name 더존's flat
    export uses); else the leaf alone when the map knows it and no other column of the header is already that
    column (`금액.차변` -> `차변`, `매입.합계` -> `합계`; of `매입.공급가액` and `매출.공급가액` only the first can be
    `supply_amount`); else `group.leaf`, kept as an unknown column like any unknown header."""
    taken = {known.aliases[name] for name in names if name in known.aliases}
    resolved = []
    for name, group_leaf in zip(names, grouped, strict=True):
        if group_leaf and name not in known.aliases and group_leaf[1] in known.aliases:
            column = known.aliases[group_leaf[1]]
            if column not in taken:
                taken.add(column)
                name = group_leaf[1]
        resolved.append(name)
    return resolved


def _two_row_header(upper: list[str], lower: list[str], known: KnownHeaders, best_single: int) -> list[str] | None:
    """The flattened names when `upper` over `lower` is a header printed over two rows, else None.

    It is one when the flattened names name the date and at least as many known columns as either row alone, the
    lower row's leaves are not values (a data row under a one-row header), and the upper row is a header's group
    row, not a title or period line above a header: the flattened names are strictly better, or the upper row
    names a known column merged vertically (`전표일자` over an empty cell), or a group's leaf is known by its
    flattened name (`매입.공급가액`).
    """
    names, grouped, vertical = _flatten(upper, lower)
    if not any(grouped) or any(_VALUE_CELL.fullmatch(leaf) for _, leaf in filter(None, grouped)):
        return None
    resolved = _resolve(names, grouped, known)
    count, has_date = _header_known(resolved, known)
    if not has_date or count < max(best_single, MIN_KNOWN_HEADERS):
        return None
    group_row = (
        count > best_single
        or any(name in known.aliases for name in vertical)
        or any(name in known.aliases for name, group_leaf in zip(names, grouped, strict=True) if group_leaf)
    )
    return resolved if group_row else None


def find_header(rows: Iterable[tuple[int, list[str]]], known: KnownHeaders) -> Header | None:
    """The first row naming the most known columns, among rows that name the date and MIN_KNOWN_HEADERS; a row
    and the row below it are read as one header when they are a header printed over two rows (`_two_row_header`).
    `rows` may skip rows that cannot be part of a header (the delimited reader splits only the lines near a date
    header); two rows are paired only when both are given."""
    given = dict(rows)
    dated = {index for index, row in given.items() if any(date in "".join(row) for date in known.dates)}
    single = {}
    for index in sorted(dated):
        count, has_date = _header_known(given[index], known)
        if has_date and count >= MIN_KNOWN_HEADERS:
            single[index] = count
    # Ranked by known columns, then the first row; a two-row header before either of its rows alone.
    candidates = [(count, -index, 1, index, [given[index]], given[index]) for index, count in single.items()]
    for index in sorted(dated | {index - 1 for index in dated}):
        if index in given and index + 1 in given:
            best_single = max(single.get(index, 0), single.get(index + 1, 0))
            names = _two_row_header(given[index], given[index + 1], known, best_single)
            if names is not None:
                count = _header_known(names, known)[0]
                candidates.append((count, -index, 2, index + 1, [given[index], given[index + 1]], names))
    if not candidates:
        return None
    count, _, _, index, printed, cells = max(candidates, key=lambda candidate: candidate[:3])
    first = index - len(printed) + 1
    others = [(i, c) for i, c in single.items() if not first <= i <= index]
    return Header(index, cells, count, others=others, rows=printed)


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


def header_without_date(sheet: SheetTop, known: KnownHeaders) -> tuple[int, int] | None:
    """The row (spreadsheet number) naming the most known columns and how many, when that is a header but for
    its date column: it names MIN_KNOWN_HEADERS known columns, no date, and rows below it hold dates. Such a file
    is a ledger whose date header the column map does not know yet; a 일계표 or a summary (`차변|계정과목|대변`
    over totals, no dates) is not."""
    top = sheet.top()
    scored = [(index, *_header_known(row, known)) for index, row in enumerate(top)]
    closest = max(scored, key=lambda s: s[1], default=None)
    if closest is None or closest[1] < MIN_KNOWN_HEADERS or closest[2]:
        return None
    if not any(_DATE_CELL.match(cell) for row in top[closest[0] + 1 :] for cell in row):
        return None
    return sheet.first_row + closest[0], closest[1]


def no_header_problem(sheets: list[SheetTop], known: KnownHeaders) -> str:
    """Why no sheet has a header, with the candidate rows seen, so the clerk recognises their own header."""
    parts = []
    for sheet in sheets:
        closest = header_without_date(sheet, known)
        hint = f" (row {closest[0]} names {closest[1]} known columns but no date column)" if closest else ""
        prefix = f"sheet {sheet.name!r}: " if sheet.name else ""
        parts.append(f"{prefix}{describe_rows(sheet)}{hint}")
    return (
        f"no header row in the first {HEADER_SEARCH_ROWS} rows: a header names the date column "
        f"({', '.join(known.dates)}) and at least {MIN_KNOWN_HEADERS - 1} more known column. "
        "Rows seen: " + " | ".join(parts)
    )
