"""Monthly feature tables -> a Hugging Face DatasetDict (train/valid/test) with stable label ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from acctax_assets.ledger.schema import SOURCE_FILE, SOURCE_ROW
from acctax_assets.ml.label_registry import LabelRegistry
from acctax_assets.ml.serialization import concat_model_text, model_text
from acctax_assets.ml.splits import SplitReport, SplitSettings, split_frame

DATASET_COLUMNS: tuple[str, ...] = ("text", "label", "code", "month", SOURCE_FILE, SOURCE_ROW)


def labelled_rows(features_by_month: Mapping[str, pd.DataFrame], feature_list: Sequence[str]) -> pd.DataFrame:
    """Labelled rows of every month with their serialized text (what the `model_text` partitions hold, together)."""
    return concat_model_text(
        model_text(frame, month, feature_list) for month, frame in sorted(features_by_month.items())
    )


def hf_features(registry: LabelRegistry) -> Features:
    """The schema: `label` is a ClassLabel over every registry slot (spare slots included)."""
    return Features(
        {
            "text": Value("string"),
            "label": ClassLabel(names=[registry.id2label[i] for i in range(registry.max_classes)]),
            "code": Value("string"),
            "month": Value("string"),
            SOURCE_FILE: Value("string"),
            SOURCE_ROW: Value("int64"),
        }
    )


def build_dataset(
    rows: pd.DataFrame, registry: LabelRegistry, settings: SplitSettings
) -> tuple[DatasetDict, LabelRegistry, SplitReport]:
    """Register new codes (append-only), split, and convert to a DatasetDict with class ids."""
    names = rows.drop_duplicates("code").set_index("code")["name"].to_dict() if len(rows) else {}
    registry = registry.with_codes(rows["code"].unique(), names)
    parts, report = split_frame(rows, settings)
    features = hf_features(registry)
    splits = {}
    for name, part in parts.items():
        table = part.assign(label=registry.ids(part["code"]))[list(DATASET_COLUMNS)]
        splits[name] = Dataset.from_pandas(table, features=features, preserve_index=False)
    return DatasetDict(splits), registry, report
