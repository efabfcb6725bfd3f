"""Dataset building: labelled rows only, and a ClassLabel over every slot of the registry."""

import pandas as pd

from acctax_assets.ml.dataset import build_dataset, labelled_rows
from acctax_assets.ml.label_registry import LabelRegistry
from acctax_assets.ml.splits import SplitSettings
from acctax_assets_tests.support.ml_frames import feature_frame, rows_for


def test_build_dataset_uses_classlabel_over_all_slots_and_skips_unlabelled_rows() -> None:
    features = feature_frame()
    unlabelled = feature_frame().assign(acct_code=pd.array([None, None], dtype="string"))
    rows = labelled_rows({"2024-03-01": features, "2024-04-01": unlabelled}, ["item", "party_name"])
    assert len(rows) == 2
    many = rows_for({"81100": 30, "83000": 30, "84800": 1})
    dataset, registry, report = build_dataset(many, LabelRegistry(max_classes=12), SplitSettings())
    label = dataset["train"].features["label"]
    assert label.num_classes == 12 and label.names[:3] == ["81100", "83000", "84800"]
    assert registry.codes == ("81100", "83000", "84800")
    assert set(dataset["test"]["code"]) == {"81100", "83000"}
    assert all(registry.code_of(i) == c for i, c in zip(dataset["train"]["label"], dataset["train"]["code"]))
    assert report.train_only_classes == ["84800"]
