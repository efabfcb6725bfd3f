"""Dataset building: labelled rows only, and a ClassLabel over every slot of the registry."""

import pandas as pd
from datasets import Dataset

from acctax_assets.ml.data.dataset import DATASET_COLUMNS, build_dataset, hf_features, labelled_rows
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.splits import SplitSettings, split_frame
from acctax_assets_tests.support.ml_frames import feature_frame, rows_for


def test_build_dataset_uses_classlabel_over_all_slots_and_skips_unlabelled_rows() -> None:
    features = feature_frame()
    unlabelled = feature_frame().assign(acct_code=pd.array([None, None], dtype="string"))
    rows = labelled_rows({"2024-03-01": features, "2024-04-01": unlabelled}, ["item", "party_name"])
    assert len(rows) == 2
    many = rows_for({"81100": 30, "83000": 30, "84800": 1})
    dataset, label_slots, report = build_dataset(many, LabelSlots(max_classes=12), SplitSettings())
    label = dataset["train"].features["label"]
    assert label.num_classes == 12 and label.names[:3] == ["81100", "83000", "84800"]
    assert label_slots.codes == ("81100", "83000", "84800")
    assert set(dataset["test"]["code"]) == {"81100", "83000"}
    assert all(label_slots.code_of(i) == c for i, c in zip(dataset["train"]["label"], dataset["train"]["code"]))
    assert report.train_only_classes == ["84800"]


def test_arrow_build_equals_the_pandas_build_of_the_same_splits() -> None:
    """The Arrow-native build stores exactly what `Dataset.from_pandas` stored for the same rows and splits: same
    schema (ClassLabel over all slots), rows, order, labels and registry names."""
    rows = rows_for({"81100": 80, "83000": 35, "14600": 9, "84800": 1}, months=3).sample(frac=1.0, random_state=5)
    rows = rows.assign(name=rows["code"].map({"81100": "복리후생비", "83000": "소모품비"}).fillna(""))
    previous = LabelSlots(max_classes=10, codes=("83000",), names={"83000": "소모품비"})
    dataset, label_slots, _ = build_dataset(rows, previous, SplitSettings(seed=9))
    assert label_slots.codes == ("83000", "14600", "81100", "84800")
    assert label_slots.names == {"83000": "소모품비", "81100": "복리후생비"}
    parts, _ = split_frame(rows, SplitSettings(seed=9))
    for name, part in parts.items():
        table = part.assign(label=label_slots.ids(part["code"]))[list(DATASET_COLUMNS)]
        expected = Dataset.from_pandas(table, features=hf_features(label_slots), preserve_index=False)
        assert dataset[name].features == expected.features
        assert dataset[name].data.table.equals(expected.data.table), name
