"""Monthly model text -> a Hugging Face DatasetDict (train/valid/test) with stable label ids.

Built from Arrow tables end to end: the month partitions are read as pyarrow Tables, split on Arrow columns
(`splits.split_rows`) and each split becomes a `Dataset` over its own Arrow table, so millions of rows never
pass through pandas object columns or Python strings (at an office's size that is most of the time and memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pyarrow as pa
from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Value
from datasets.fingerprint import generate_random_fingerprint

from acctax_assets.ledger.schema import SOURCE_FILE, SOURCE_ROW
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import concat_model_text, model_text
from acctax_assets.ml.data.splits import SplitReport, SplitSettings, select_rows, split_rows

DATASET_COLUMNS: tuple[str, ...] = ("text", "label", "code", "month", SOURCE_FILE, SOURCE_ROW)
# Rows per Arrow record batch when a dataset is saved. `save_to_disk` writes 1,000-row batches and pays a fixed
# Python cost per batch (it rebuilds the features, a ClassLabel naming every label slot, several times a batch):
# 3,400 batches at an office's size. Its own cap (~100 MB a batch) still bounds wide rows.
SAVE_BATCH_ROWS = 100_000


def labelled_rows(features_by_month: Mapping[str, pd.DataFrame], feature_list: Sequence[str]) -> pd.DataFrame:
    """Labelled rows of every month with their serialized text (what the `model_text` partitions hold, together)."""
    return concat_model_text(
        model_text(frame, month, feature_list) for month, frame in sorted(features_by_month.items())
    )


def hf_features(label_slots: LabelSlots) -> Features:
    """The schema: `label` is a ClassLabel over every label slot (spare slots included)."""
    return Features(
        {
            "text": Value("string"),
            "label": ClassLabel(names=[label_slots.id2label[i] for i in range(label_slots.max_classes)]),
            "code": Value("string"),
            "month": Value("string"),
            SOURCE_FILE: Value("string"),
            SOURCE_ROW: Value("int64"),
        }
    )


def _first_names(rows: pa.Table, first_rows: np.ndarray, codes: list[str]) -> dict[str, str]:
    """The account name on each code's first row (the name a new code is registered with)."""
    return dict(zip(codes, rows.column("name").take(first_rows).to_pylist(), strict=True))


def build_dataset(
    rows: pa.Table | pd.DataFrame, label_slots: LabelSlots, settings: SplitSettings
) -> tuple[DatasetDict, LabelSlots, SplitReport]:
    """Register new codes (append-only), split, and convert to a DatasetDict with class ids. `rows` has the
    model text columns (`serialization.MODEL_TEXT_COLUMNS`); a DataFrame is converted to Arrow first.

    Each split gets a random fingerprint: `Dataset` would otherwise compute one by pickling its whole table (a
    second copy of the train split, +2.5 GB at an office's size). The fingerprint only names `datasets` cache
    files, and these in-memory splits are only saved (a loaded dataset keeps the fingerprint saved with it)."""
    if isinstance(rows, pd.DataFrame):
        rows = pa.Table.from_pandas(rows, preserve_index=False)
    positions, classes, report = split_rows(rows["code"], rows["month"], rows["text"], settings)
    _, first_rows = np.unique(classes.ids, return_index=True)
    label_slots = label_slots.with_codes(classes.codes, _first_names(rows, first_rows, classes.codes))
    label_of_class = np.asarray(label_slots.ids(classes.codes), dtype=np.int64)
    features = hf_features(label_slots)
    splits = {}
    stored = rows.select([column for column in DATASET_COLUMNS if column != "label"])
    for name, taken in positions.items():
        part = select_rows(stored, taken)
        columns = {
            column: pa.array(label_of_class[classes.ids[taken]]) if column == "label" else part[column]
            for column in DATASET_COLUMNS
        }
        table = pa.table(columns).cast(features.arrow_schema)
        splits[name] = Dataset(table, info=DatasetInfo(features=features), fingerprint=generate_random_fingerprint())
    return DatasetDict(splits), label_slots, report


def save_dataset(dataset: DatasetDict, folder: Path) -> None:
    """`save_to_disk` in batches of SAVE_BATCH_ROWS rows (the same files `load_from_disk` reads; only the Arrow
    record batches are larger). `datasets` reads the batch size from its config at each call, so it is set for
    this call and put back."""
    default = datasets.config.DEFAULT_MAX_BATCH_SIZE
    datasets.config.DEFAULT_MAX_BATCH_SIZE = SAVE_BATCH_ROWS
    try:
        dataset.save_to_disk(str(folder))
    finally:
        datasets.config.DEFAULT_MAX_BATCH_SIZE = default
