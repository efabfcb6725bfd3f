"""Tokenization of the dataset with the default base model's tokenizer: truncated to max_length, stored unpadded."""

from acctax_assets.ml.dataset import build_dataset
from acctax_assets.ml.label_registry import LabelRegistry
from acctax_assets.ml.launch import default_base_model
from acctax_assets.ml.splits import SplitSettings
from acctax_assets.ml.tokenization import load_tokenizer, tokenize_dataset
from acctax_assets_tests.support.ml_frames import rows_for


def test_tokenization_truncates_without_padding() -> None:
    many = rows_for({"a": 20, "b": 20})
    many.loc[0, "text"] = "긴 텍스트 " * 200
    dataset, _, _ = build_dataset(many, LabelRegistry(max_classes=4), SplitSettings(seed=0))
    tokenized, stats = tokenize_dataset(dataset, load_tokenizer(default_base_model()), max_length=32)
    lengths = [len(ids) for split in tokenized for ids in tokenized[split]["input_ids"]]
    assert max(lengths) == 32 and len(set(lengths)) > 1, "rows keep their own length: no padding stored"
    assert stats.max > 32 and 0 < stats.truncation_rate < 0.1
    assert {"input_ids", "attention_mask", "label"} <= set(tokenized["train"].column_names)
