"""Delimited text (CSV, TSV, tab-separated TXT) as a sheet, and its rows parsed into text cells.

Apart from the grid formats (`grid_files`) because text is parsed in two steps: the header is found per file
here (`text_sheet`), the bodies of a month's files are parsed later in one Arrow call (`parse_text`), with the
csv module as the checked reader for files with blank or malformed lines.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.headers import HEADER_SEARCH_ROWS, Header, KnownHeaders, find_header
from acctax_assets.ledger.sheets import REEXPORT, Cells, Sheet, TextBody, no_errors, text_array

TRUNCATED_CHARACTER = "file ends inside a character (truncated file?)"
_BLANK_LINE = re.compile(r"\n[ \t,]*(?:\r?\n|$)")
_BLANK_FIRST_LINE = re.compile(r"[ \t,]*(?:\r?\n|$)")
# Separates files parsed together; a file holding this control character is parsed alone.
_SENTINEL = "\x1e"


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
    """The header among the first rows and where each row ends. Only lines in which a date header occurs and
    their neighbours (the other row of a header printed over two rows) are split (the others cannot be the
    header), unless no header is found that way or a quoted cell spans lines above it: then the first records
    are parsed properly."""
    lines, ends = _top_lines(text)
    top_end = ends[-1] if ends else 0
    candidates = set()
    for date in known.dates:
        position = text.find(date, 0, top_end)
        while position >= 0:
            candidates.add(bisect.bisect_right(ends, position))
            position = text.find(date, position + 1, top_end)
    near = {i + step for i in candidates for step in (-1, 0, 1)} & set(range(len(lines)))
    header = find_header(((i, next(csv.reader([lines[i]], delimiter=delimiter), [])) for i in sorted(near)), known)
    if header is not None and not any(line.count('"') % 2 for line in lines[: header.index + 1]):
        return header, ends
    records, ends = _top_records(text, delimiter)
    return find_header(enumerate(records), known), ends


def text_sheet(path: Path, text: str, truncated: bool, known: KnownHeaders) -> Sheet:
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
    # int64, not Arrow's uint64: numpy promotes uint64 beside a Python int to float64, which slice refuses.
    sentinels = pc.indices_nonzero(pc.equal(table.column(0).combine_chunks(), _SENTINEL)).to_numpy().astype(np.int64)
    if len(sentinels) != len(texts) - 1:
        return None
    starts = np.concatenate([[0], sentinels + 1])
    stops = np.concatenate([sentinels, [table.num_rows]])
    return [table.slice(int(start), int(stop - start)) for start, stop in zip(starts, stops, strict=True)]


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
        raise LedgerFileError(body.path, f"cannot be split into fields ({exc})", REEXPORT) from exc
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
        [text_array(column) for column in columns],
        text_array(errors),
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
            cells = Cells(table.columns, no_errors(table.num_rows), rows)
        if body.truncated and len(cells.rows):
            last = cells.errors[-1].as_py()
            flagged = text_array(["; ".join(e for e in (last, TRUNCATED_CHARACTER) if e)])
            cells = replace(cells, errors=pa.concat_arrays([cells.errors[:-1], flagged]))
        parsed.append(cells)
    return parsed
