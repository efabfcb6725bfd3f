"""ML data preparation: label registry, serialization, splits, dataset building and tokenization."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acctax_assets.errors import AcctaxError, FeatureConfigError
from acctax_assets.ledger.features import DEFAULT_FEATURES
from acctax_assets.ml.dataset import build_dataset, labelled_rows
from acctax_assets.ml.label_registry import LabelOverflowError, LabelRegistry, UnknownLabelError
from acctax_assets.ml.serialization import DEFAULT_TEXT_FEATURES, format_amounts, serialize_rows
from acctax_assets.ml.splits import SplitError, SplitSettings, split_frame
from acctax_assets.ml.launch import default_base_model
from acctax_assets.ml.tokenization import load_tokenizer, tokenize_dataset


def test_registry_ids_are_stable_when_a_new_month_adds_codes(tmp_path: Path) -> None:
    path = tmp_path / "label_registry.json"
    first = LabelRegistry(max_classes=10).with_codes(["81200", "81100", "83000"], {"81100": "복리후생비"})
    first.save(path)
    before = {code: first.id_of(code) for code in first.codes}
    second = LabelRegistry.load(path, max_classes=10).with_codes(["14600", "81100", "00100"])
    assert {code: second.id_of(code) for code in first.codes} == before
    assert second.codes[3:] == ("00100", "14600")
    assert second.names["81100"] == "복리후생비"
    assert second.id2label[9] == "__spare_9" and len(second.id2label) == 10


def test_registry_overflow_and_unknown_codes_are_errors() -> None:
    registry = LabelRegistry(max_classes=3).with_codes(["1", "2"])
    with pytest.raises(LabelOverflowError, match="max_classes=3"):
        registry.with_codes(["3", "4"])
    with pytest.raises(UnknownLabelError, match="99999"):
        registry.ids(["1", "99999"])
    with pytest.raises(UnknownLabelError, match="spare"):
        registry.code_of(2)


def test_registry_refuses_a_changed_head_size(tmp_path: Path) -> None:
    path = tmp_path / "label_registry.json"
    LabelRegistry(max_classes=10).with_codes(["1"]).save(path)
    with pytest.raises(AcctaxError, match="max_classes=10"):
        LabelRegistry.load(path, max_classes=20)


def test_format_amounts() -> None:
    formatted = format_amounts(pd.Series([11000, -5000, 0, 999_999, 7, None], dtype="Int64"))
    assert formatted.tolist() == ["+1.1e4", "-5.0e3", "0", "+1.0e6", "+7.0e0", "NULL"]


def feature_frame(rows: int = 2) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-03-05"] * rows),
            "party_name": pd.array(["스타벅스 | 강남점", None][:rows], dtype="string"),
            "item": pd.array(["커피", "녹차"][:rows], dtype="string"),
            "desc": pd.array(["직원 간식", ""][:rows], dtype="string"),
            "total_amount": [11000, -2200][:rows],
            "is_month_end": [False, True][:rows],
            "acct_code": pd.array(["81100", "81100"][:rows], dtype="string"),
            "acct_name": pd.array(["복리후생비", "복리후생비"][:rows], dtype="string"),
            "source_file": ["ledger_2024-03.csv"] * rows,
            "source_row": list(range(2, rows + 2)),
        }
    )


def test_serialization_order_nulls_dates_and_free_text_last() -> None:
    texts = serialize_rows(feature_frame(), ["item", "date", "party_name", "total_amount", "desc", "is_month_end"])
    assert texts.iloc[0] == "date:2024-03-05 | party:스타벅스 / 강남점 | amt:+1.1e4 | is_month_end:no | memo:직원 간식 | item:커피"
    assert texts.iloc[1] == "date:2024-03-05 | party:NULL | amt:-2.2e3 | is_month_end:yes | memo:NULL | item:녹차"


@pytest.mark.parametrize("leak", ["acct_code", "acct_name"])
def test_serialization_never_includes_the_label(leak: str) -> None:
    with pytest.raises(FeatureConfigError, match="label"):
        serialize_rows(feature_frame(), ["item", leak])
    text = serialize_rows(feature_frame(), ["item", "party_name"]).str.cat()
    assert "81100" not in text and "복리후생비" not in text


def test_serialization_missing_feature_is_an_error() -> None:
    with pytest.raises(FeatureConfigError, match="transaction_type"):
        serialize_rows(feature_frame(), ["item", "transaction_type"])


def rows_for(counts: dict[str, int], months: int = 1) -> pd.DataFrame:
    codes = [code for code, count in counts.items() for _ in range(count)]
    return pd.DataFrame(
        {
            "text": [f"row {i} of {code}" for i, code in enumerate(codes)],
            "code": codes,
            "name": ["n"] * len(codes),
            "month": [f"2024-{(i % months) + 1:02d}-01" for i in range(len(codes))],
            "source_file": ["f.csv"] * len(codes),
            "source_row": range(len(codes)),
        }
    )


def test_stratified_split_keeps_every_class_in_every_split_and_reports_rare_ones() -> None:
    frame = rows_for({"81100": 500, "83000": 100, "14600": 30, "84800": 2, "20800": 1})
    parts, report = split_frame(frame, SplitSettings(valid_size=0.1, test_size=0.2, seed=1))
    for code, count in {"81100": 500, "83000": 100, "14600": 30}.items():
        test_share = (parts["test"]["code"] == code).sum() / count
        assert abs(test_share - 0.2) < 0.02
        assert (parts["valid"]["code"] == code).sum() >= 1
    assert report.train_only_classes == ["20800", "84800"]
    assert set(parts["test"]["code"]) == {"81100", "83000", "14600"}
    assert sum(report.sizes.values()) == len(frame)


def test_split_is_deterministic_for_a_seed() -> None:
    frame = rows_for({"a": 50, "b": 50})
    first, _ = split_frame(frame, SplitSettings(seed=3))
    again, _ = split_frame(frame, SplitSettings(seed=3))
    other, _ = split_frame(frame, SplitSettings(seed=4))
    assert first["test"]["text"].tolist() == again["test"]["text"].tolist()
    assert first["test"]["text"].tolist() != other["test"]["text"].tolist()


def test_identical_text_never_in_train_and_test() -> None:
    frame = rows_for({"a": 60, "b": 60})
    frame.loc[:, "text"] = np.where(np.arange(len(frame)) % 2 == 0, "same text", frame["text"])
    parts, report = split_frame(frame, SplitSettings())
    assert not set(parts["test"]["text"]) & set(parts["train"]["text"])
    assert report.leakage_removed["test"] > 0


def test_temporal_split_uses_the_latest_month_as_test() -> None:
    frame = rows_for({"a": 90, "b": 90}, months=3)
    parts, report = split_frame(frame, SplitSettings(strategy="temporal"))
    assert set(parts["test"]["month"]) == {"2024-03-01"}
    assert "2024-03-01" not in set(parts["train"]["month"]) | set(parts["valid"]["month"])
    assert report.sizes["valid"] > 0


def test_temporal_split_reports_codes_unseen_in_train() -> None:
    frame = pd.concat([rows_for({"a": 40, "b": 40}), rows_for({"c": 10}).assign(month="2024-02-01", text=lambda f: "new " + f["text"])])
    _, report = split_frame(frame, SplitSettings(strategy="temporal"))
    assert report.unseen_in_train["test"] == ["c"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (rows_for({}), "no labelled rows"),
        (rows_for({"81100": 20}), "only one account code"),
    ],
)
def test_unsplittable_data_is_a_clear_error(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(SplitError, match=message):
        split_frame(frame, SplitSettings())


def test_temporal_split_needs_more_months() -> None:
    with pytest.raises(SplitError, match="temporal split needs more than 1"):
        split_frame(rows_for({"a": 10, "b": 10}), SplitSettings(strategy="temporal"))


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


def test_tokenization_truncates_without_padding() -> None:
    many = rows_for({"a": 20, "b": 20})
    many.loc[0, "text"] = "긴 텍스트 " * 200
    dataset, _, _ = build_dataset(many, LabelRegistry(max_classes=4), SplitSettings(seed=0))
    tokenized, stats = tokenize_dataset(dataset, load_tokenizer(default_base_model()), max_length=32)
    lengths = [len(ids) for split in tokenized for ids in tokenized[split]["input_ids"]]
    assert max(lengths) == 32 and len(set(lengths)) > 1, "rows keep their own length: no padding stored"
    assert stats.max > 32 and 0 < stats.truncation_rate < 0.1
    assert {"input_ids", "attention_mask", "label"} <= set(tokenized["train"].column_names)


def test_default_text_features_are_in_the_default_feature_table() -> None:
    assert set(DEFAULT_TEXT_FEATURES) <= set(DEFAULT_FEATURES)


def test_launchpad_config_maps_onto_the_validated_training_config(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from acctax_assets.defs.account_classifier import ClassifierConfig, flat_params, training_config
    from acctax_assets.defs.artifact_io_managers import SavedDataset
    from acctax_assets.ml.training_config import TrainingConfig

    dataset = SavedDataset(tmp_path / "tokenized")
    config = training_config(ClassifierConfig(lora_r=4, lora_layers=[4, 5]), "/models/base", dataset)
    assert config.lora.r == 4 and config.lora.layers_to_transform == [4, 5]
    assert config.max_steps == TrainingConfig.model_fields["max_steps"].default
    assert config.registry_path.endswith("tokenized/label_registry.json")
    assert flat_params({"lora": {"r": 4}, "seed": 1}) == {"lora.r": "4", "seed": "1"}
    with pytest.raises(ValidationError, match="zero_stage"):
        training_config(ClassifierConfig(zero_stage=4), "/models/base", dataset)
    other = training_config(ClassifierConfig(seed=1), "/models/base", dataset)
    assert config.fingerprint("v1") != other.fingerprint("v1") and config.fingerprint("v1") != config.fingerprint("v2")
    moved = training_config(ClassifierConfig(lora_r=4, lora_layers=[4, 5]), "/models/base", SavedDataset(tmp_path / "elsewhere"))
    assert moved.fingerprint("v1") == config.fingerprint("v1"), "same content elsewhere resumes the same checkpoints"
