"""Feature rows -> model text (ARCHITECTURE.md §3 trap 9): `col:value` pairs in the configured order, dates as
YYYY-MM-DD, missing as NULL, amounts as sign/mantissa/exponent, free text last. The label and its name are
refused: they must never reach the model's input."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from acctax_assets.errors import FeatureConfigError
from acctax_assets.ledger.features import LABEL_COLUMNS
from acctax_assets.ledger.parsing import TEXT
from acctax_assets.ledger.schema import (
    AMOUNT_COLUMNS,
    LABEL_COLUMN,
    LABEL_NAME_COLUMN,
    LABEL_SOURCE,
    SOURCE_FILE,
    SOURCE_ROW,
)

SEPARATOR = " | "
MISSING = "NULL"
FREE_TEXT_COLUMNS: tuple[str, ...] = ("desc", "item")
# Short keys: every key token is paid for on every row, and Hangul already costs several tokens a syllable.
KEY_ALIASES: dict[str, str] = {
    "company_name": "co",
    "company_business_type": "co_type",
    "company_business_item": "co_item",
    "taxpayer_type": "taxpayer",
    "party_name": "party",
    "business_type": "party_type",
    "business_item": "party_item",
    "document_type": "doc",
    "vat_type": "vat",
    "dr_cr": "dr",
    "supply_amount": "supply",
    "vat_amount": "vat_amt",
    "total_amount": "amt",
    "desc": "memo",
}
# What the dataset serializes by default: the strongest signals in few tokens (tokenized_dataset adds the train
# split's frequent words as whole tokens; MiniLM alone splits Hangul into jamo), so CPU training stays affordable.
# The client company is in: in an office it decides how the same vendor is booked (one client books a café as
# 복리후생비, another as 접대비). The synthetic demo does not model that, so there it measured neither better nor
# worse (benchmarks/README.md, Tokenization) — real ledgers, not the demo, decide. Add counterparty business
# type/item, calendar features etc. through the ledger_dataset config. The side (dr_cr) is in: a 계정별원장/분개장 has
# no VAT type or evidence, and whether the amount is on 차변 or 대변 is what tells an expense from the payable or the
# cash that settles it.
DEFAULT_TEXT_FEATURES: tuple[str, ...] = (
    "company_name",
    "company_business_type",
    "party_name",
    "document_type",
    "vat_type",
    "dr_cr",
    "total_amount",
    "desc",
    "item",
)


def format_amounts(values: pd.Series) -> pd.Series:
    """KRW integers as `+1.1e4` / `-5.0e3` / `0`: a short, tokenizer-friendly magnitude and shape."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    magnitude = numbers.abs().to_numpy()
    exponent = np.floor(np.log10(np.where(magnitude > 0, magnitude, 1.0))).astype("int64")
    mantissa = np.round(magnitude / np.power(10.0, exponent), 1)
    carry = mantissa >= 10.0
    mantissa = np.where(carry, mantissa / 10.0, mantissa)
    exponent = exponent + carry
    negative = numbers.to_numpy() < 0
    # A month of amounts has a few hundred (sign, mantissa, exponent) shapes: each is formatted once.
    shapes = np.zeros(len(numbers), dtype="int64")
    for part in (negative, mantissa, exponent):
        codes, distinct = pd.factorize(part, use_na_sentinel=False)
        shapes, _ = pd.factorize(shapes * len(distinct) + codes)
    firsts = np.unique(shapes, return_index=True)[1]
    shown = np.array([f"{'-' if negative[i] else '+'}{mantissa[i]:.1f}e{exponent[i]}" for i in firsts], dtype=object)
    text = pd.Series(shown[shapes], index=values.index, dtype=object)
    text = text.where(magnitude > 0, "0").where(numbers.notna(), MISSING)
    return text.astype(TEXT)


def _as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").astype(TEXT).fillna(MISSING)
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "yes", False: "no"}).astype(TEXT).fillna(MISSING)
    text = values.astype(TEXT).str.strip()
    return text.mask(text == "").fillna(MISSING).str.replace(SEPARATOR.strip(), "/", regex=False)


def text_order(features: Sequence[str]) -> list[str]:
    """The configured order with the free-text columns moved to the end (the strongest signal last)."""
    return [f for f in features if f not in FREE_TEXT_COLUMNS] + [f for f in FREE_TEXT_COLUMNS if f in features]


def serialize_rows(frame: pd.DataFrame, features: Sequence[str]) -> pd.Series:
    """One text per row from `features` (validated: present, not the label)."""
    leaked = [f for f in features if f in LABEL_COLUMNS]
    if leaked:
        raise FeatureConfigError(
            f"features {leaked} are the label or its name; they must not be serialized into model text"
        )
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise FeatureConfigError(
            f"features {missing} are not columns of ledger_features; re-materialize it or fix the feature list"
        )
    # Keys and values joined in one Arrow call: adding a million-row column per piece cost a copy per piece.
    pieces: list[pa.Scalar | pa.Array] = []
    for position, column in enumerate(text_order(features)):
        values = format_amounts(frame[column]) if column in AMOUNT_COLUMNS else _as_text(frame[column])
        key = f"{SEPARATOR if position else ''}{KEY_ALIASES.get(column, column)}:"
        pieces += [pa.scalar(key, pa.large_string()), pa.array(values.array).cast(pa.large_string())]
    if not pieces:
        return pd.Series("", index=frame.index, dtype=TEXT)
    joined = pc.binary_join_element_wise(*pieces, pa.scalar("", pa.large_string()))
    return pd.Series(TEXT.__from_arrow__(joined), index=frame.index)


# The columns of one month's model text (the `model_text` asset) and of the dataset built from them.
MODEL_TEXT_COLUMNS: tuple[str, ...] = ("text", "code", "name", "month", SOURCE_FILE, SOURCE_ROW)


def model_text(
    features: pd.DataFrame, month: str, text_features: Sequence[str], unreviewed: str = "keep"
) -> pd.DataFrame:
    """The month's labelled rows as model text with their code, account name and source identity; unlabelled
    (to-predict) rows are left out: they are never trained on; so are auto-accepted proposals nobody reviewed
    (`label_source` unreviewed) when `unreviewed` is `drop`."""
    train = features[LABEL_COLUMN].notna()
    if unreviewed == "drop" and LABEL_SOURCE in features.columns:
        train &= features[LABEL_SOURCE].ne("unreviewed").fillna(True)
    labelled = features.loc[train]
    return pd.DataFrame(
        {
            "text": serialize_rows(labelled, text_features).astype(str),
            "code": labelled[LABEL_COLUMN].astype(str),
            "name": labelled[LABEL_NAME_COLUMN].astype("string").fillna("").astype(str),
            "month": month,
            SOURCE_FILE: labelled[SOURCE_FILE].astype(str),
            SOURCE_ROW: labelled[SOURCE_ROW].astype("int64"),
        },
        columns=list(MODEL_TEXT_COLUMNS),
    ).reset_index(drop=True)


def concat_model_text(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Months of model text as one frame; months without labelled rows add nothing (and no dtype drift)."""
    filled = [frame for frame in frames if len(frame)]
    return pd.concat(filled, ignore_index=True) if filled else pd.DataFrame(columns=list(MODEL_TEXT_COLUMNS))


# The model text columns as Arrow reads them back from the `model_text` Parquet files.
MODEL_TEXT_SCHEMA = pa.schema(
    [(column, pa.int64() if column == SOURCE_ROW else pa.string()) for column in MODEL_TEXT_COLUMNS]
)


def concat_model_tables(tables: Iterable[pa.Table]) -> pa.Table:
    """Months of model text as one Arrow table that shares the months' buffers (no copy); months without labelled
    rows add nothing (their Parquet files type empty text columns as null)."""
    filled = [table.select(list(MODEL_TEXT_COLUMNS)).cast(MODEL_TEXT_SCHEMA) for table in tables if table.num_rows]
    return pa.concat_tables(filled) if filled else MODEL_TEXT_SCHEMA.empty_table()


TEXT_SPEC_FILE = "text_spec.json"


class MissingTextSpecError(FeatureConfigError):
    """A dataset or adapter folder was written before text specs were stored with it."""


@dataclass(frozen=True)
class TextSpec:
    """How rows became model text, stored with every dataset and adapter: prediction must serialize new rows
    with the same features in the same order and truncate at the same length as training did."""

    text_features: tuple[str, ...]
    max_length: int | None = None
    ledger_dataset_version: str | None = None

    def save(self, folder: Path) -> None:
        (folder / TEXT_SPEC_FILE).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TextSpec:
        path = folder / TEXT_SPEC_FILE
        if not path.is_file():
            raise MissingTextSpecError(
                f"{path} is missing, so the text the model was trained on is unknown. "
                "Fix: re-materialize ledger_dataset, tokenized_dataset and account_classifier"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(data["text_features"]), data.get("max_length"), data.get("ledger_dataset_version"))


def text_fields(text: str) -> dict[str, str]:
    """A model text read back into its `key: value` pairs, missing values left out: the baseline and the precedent
    lookup read fields (who the client and counterparty are), and `co_type:NULL` carries nothing for them."""
    fields = {}
    for pair in text.split(SEPARATOR):
        key, _, value = pair.partition(":")
        value = value.strip()
        if value and value != MISSING:
            fields[key] = value
    return fields
