"""Metadata as a person reads it in the Dagster UI, decided once here and used wherever an asset or check
produces metadata.

Dagster shows a value as its type says: a float with every digit Python has, a dict or list as raw JSON (`{}`
for an empty one), and a markdown value inline only while it is shorter than 1,000 characters (dagster-webserver
1.13, `MetadataEntry.tsx`: longer ones sit behind "[Show Markdown]" in a modal). A table-typed value
(`MetadataValue.table`) is always drawn inline, so comparisons and mappings are tables; a plot is a markdown image
whose address is short (see `inline_image`), never a data URI of tens of kilobytes.

Rules: scores to 4 significant digits (`MetadataValue.float`, plottable across materializations); shares of
counted rows as text "11.5 % (23 of 200)"; counts as ints; mappings as tables; nothing empty shown as `{}`/`[]`
(it says "none"); a missing figure says what it means ("no rows", "not measured"), never `nan`.
"""

import math
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dagster import (
    DagsterInstance,
    FloatMetadataValue,
    MetadataValue,
    TableColumn,
    TableMetadataValue,
    TableRecord,
    TableSchema,
)
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from acctax_assets.ml.evaluation.reports import inline_png

SIGNIFICANT_DIGITS = 4
NONE = "none"
NOT_MEASURED = "not measured"
MISSING = "n/a"
# dagster-webserver draws a markdown value inline below this length, in a modal above it.
INLINE_MARKDOWN_LIMIT = 1000
# Texts in a preview are cut to this many characters: a table of short cells fits the metadata column without
# breaking Korean words one syllable per line.
PREVIEW_TEXT_CHARS = 14
# Where figures are copied inside the compute-log folder, which dagster-webserver serves under /logs/<key>/<ext>.
FIGURES_LOG_NAMESPACE = "acctax_figures"

Cell = str | int | float | bool | None

# Whose version a version field is (one word used to mean both): the ledger_dataset that served_classifier's
# candidates were trained on and compared over, and the tokenized_dataset an adapter was trained on.
LEDGER_DATASET_VERSION = "ledger_dataset_version"
TOKENIZED_DATASET_VERSION = "tokenized_dataset_version"


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (0.9107605 -> 0.9108, 437.759 -> 437.8); NaN stays NaN."""
    return float(f"{float(value):.{digits}g}") if math.isfinite(value) else float(value)


def score(value: float | None) -> MetadataValue:
    """A score or figure: a rounded float (plottable), or "not measured" when there is none."""
    if value is None or not math.isfinite(float(value)):
        return MetadataValue.text(NOT_MEASURED)
    return MetadataValue.float(significant(float(value)))


def percent(share: float, decimals: int = 1) -> str:
    """A share as the office reads it: 0.1154 -> "11.5 %"; "n/a" when there is none."""
    return f"{100 * share:.{decimals}f} %" if math.isfinite(share) else MISSING


def share_of(part: int, whole: int) -> str:
    """A share of counted rows with its counts: "11.5 % (23 of 200)"; "n/a (0 of 0)" for no rows."""
    return f"{percent(part / whole)} ({part:,} of {whole:,})" if whole else f"{MISSING} ({part:,} of 0)"


def listing(items: Iterable[Any]) -> str:
    """Items on one line ("a, b, c"), or "none"."""
    shown = [str(item) for item in items]
    return ", ".join(shown) if shown else NONE


def _cell(value: Any, missing: str = MISSING) -> Cell:
    """One table cell: scalars as they are (floats rounded), nested values on one line, NaN as `missing`."""
    if value is None:
        return missing
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return significant(float(value)) if math.isfinite(value) else missing
    if isinstance(value, Mapping):
        return listing(f"{key} {_cell(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return listing(value)
    if value is pd.NA or value is pd.NaT:
        return missing
    return str(value)


def _column_type(values: Sequence[Cell]) -> str:
    present = {type(v) for v in values if v is not None}
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float")):
        if present == {kind}:
            return name
    return "float" if present == {int, float} else "string"


def records_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], missing: str = MISSING) -> MetadataValue:
    """Rows as a table-typed value (drawn inline by the UI), or "none" when there are no rows."""
    if not rows:
        return MetadataValue.text(NONE)
    cells = [{column: _cell(row.get(column), missing) for column in columns} for row in rows]
    schema = TableSchema(columns=[TableColumn(name=c, type=_column_type([row[c] for row in cells])) for c in columns])
    return MetadataValue.table(records=[TableRecord(row) for row in cells], schema=schema)


def mapping_table(mapping: Mapping[Any, Any], key: str = "name", value: str = "value") -> MetadataValue:
    """A mapping as a two-column table (`key`, `value`), or "none" when it is empty."""
    return records_table([{key: str(k), value: v} for k, v in mapping.items()], [key, value])


def frame_table(frame: pd.DataFrame, percent_columns: Iterable[str] = (), missing: str = MISSING) -> MetadataValue:
    """A DataFrame as a table-typed value: floats to 4 significant digits, `percent_columns` (shares) as
    "11.5 %", missing cells as `missing`."""
    shown = frame.copy()
    for column in percent_columns:
        if column in shown:
            shown[column] = [percent(v) if pd.notna(v) else missing for v in shown[column]]
    return records_table(shown.to_dict("records"), [str(c) for c in shown.columns], missing)


def markdown_frame(frame: pd.DataFrame, percent_columns: Iterable[str] = (), missing: str = MISSING) -> str:
    """A DataFrame as a markdown table (reports written to files and MLflow): same rounding and words as
    `frame_table`, so no `nan` is printed."""
    if frame.empty:
        return NONE
    shown = frame.astype(object).copy()
    for column in percent_columns:
        if column in shown:
            shown[column] = [percent(v) if pd.notna(v) else missing for v in frame[column]]
    for column in shown.columns:
        shown[column] = [_cell(v, missing) for v in shown[column]]
    return shown.to_markdown(index=False)


def short_text(value: Any, limit: int = PREVIEW_TEXT_CHARS) -> str:
    """A text cell cut to `limit` characters ("…" marks the cut); empty for a missing value."""
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview_cell(column: str, value: Any) -> Cell:
    """One cell of a data preview: amounts with thousands separators, confidences with 3 decimals, other
    numbers rounded, texts short, missing values empty."""
    if value is None or (not isinstance(value, (str, list, tuple, np.ndarray)) and pd.isna(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        if column.endswith("amount"):
            return f"{int(value):,}"
        if "confidence" in column:
            return f"{float(value):.3f}"
        return int(value) if isinstance(value, (int, np.integer)) else significant(float(value))
    return short_text(value)


def preview_table(frame: pd.DataFrame) -> MetadataValue:
    """The first rows of a table as a table-typed value of short, formatted cells (`preview_cell`)."""
    columns = [str(c) for c in frame.columns]
    rows = [
        {column: preview_cell(column, value) for column, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
    return records_table(rows, columns, missing="")


def as_mapping(value: Any) -> dict[Any, Any]:
    """A mapping written by `mapping_table` read back (first column -> second); {} for "none"."""
    value = getattr(value, "value", value) if not isinstance(value, TableMetadataValue) else value
    if isinstance(value, TableMetadataValue):
        names = [column.name for column in value.schema.columns]
        return {record.data[names[0]]: record.data[names[1]] for record in value.records}
    return {} if value in (NONE, None) else dict(value)


def as_list(value: Any) -> list[Any]:
    """A list written by `readable` read back; [] for "none"."""
    value = getattr(value, "value", value)
    return [] if value in (NONE, None) else list(value)


def table_text(value: Any) -> str:
    """Any metadata value as plain text (a table as markdown), for logs and the command line."""
    if isinstance(value, TableMetadataValue):
        return pd.DataFrame([record.data for record in value.records]).to_markdown(index=False)
    return str(getattr(value, "value", value))


def readable_value(value: Any) -> Any:
    """One metadata value by the rules of this module; values already typed (`MetadataValue`) are kept, but for
    floats (e.g. reported through Pipes), which are rounded like any other."""
    if isinstance(value, FloatMetadataValue):
        return score(value.value)
    if isinstance(value, MetadataValue):
        return value
    if value is None:
        return NONE
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return MetadataValue.int(int(value))
    if isinstance(value, (float, np.floating)):
        return score(float(value))
    if isinstance(value, Mapping):
        return mapping_table(value)
    if isinstance(value, (list, tuple)):
        return list(value) if value else NONE
    if isinstance(value, str):
        return value or NONE
    return value


def readable(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Every value of an asset's or check's metadata made readable (`readable_value`), keys unchanged."""
    return {key: readable_value(value) for key, value in metadata.items()}


def inline_image(instance: DagsterInstance, image: Path, title: str, *key: str) -> MetadataValue:
    """A figure the asset page shows inline: the PNG is copied into the instance's compute-log folder, which
    dagster-webserver serves at `/logs/<key…>/png`, so the markdown is one short image link (drawn inline, unlike a
    data URI that is always over the inline limit). With a compute-log manager that is not a local folder, the
    image is embedded as a data URI (shown behind "[Show Markdown]")."""
    manager = instance.compute_log_manager
    if not isinstance(manager, LocalComputeLogManager):
        return MetadataValue.md(inline_png(image, title))
    log_key = [FIGURES_LOG_NAMESPACE, *key]
    target = Path(manager.get_captured_local_path(log_key, "png"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, target)
    return MetadataValue.md(f"![{title}](/logs/{'/'.join(log_key)}/png)")
