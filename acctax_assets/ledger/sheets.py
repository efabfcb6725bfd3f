"""A sheet of text cells: what every kind of ledger file is read into, and the types its readers share.

Apart from `file_formats` so that the delimited-text reader (`delimited_text`) and the grid reader
(`grid_files`) can both build sheets without importing the module that chooses between them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from acctax_assets.ledger.headers import Header

REEXPORT = "re-export the ledger as CSV (UTF-8 or CP949), XLSX, XLS or Parquet"


@dataclass(frozen=True)
class Cells:
    """The rows below a header: cells as text columns, a parse error per row, spreadsheet row numbers; what
    ingestion maps to canonical columns and lineage."""

    columns: list[pa.Array | pa.ChunkedArray]
    errors: pa.Array
    rows: np.ndarray


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


def text_array(values: Iterable[str]) -> pa.Array:
    """Cell texts as an Arrow string column."""
    return pa.array(values, type=pa.string())


def no_errors(count: int) -> pa.Array:
    """An empty parse error for each of `count` rows: what a row read without a problem carries as lineage."""
    return pa.repeat("", count)
