"""Tokenization of the dataset with the default base model's tokenizer: truncated to max_length, stored unpadded."""

from pathlib import Path

import pytest
from datasets import load_from_disk

from acctax_assets.ml.data.base_model import default_base_model
from acctax_assets.ml.data.dataset import build_dataset, save_dataset
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.splits import SplitSettings
from acctax_assets.ml.data.tokenization import load_tokenizer, tokenize_dataset
from acctax_assets.ml.training.miniature import build_miniature, demo_texts
from acctax_assets_tests.support.ml_frames import rows_for


def test_tokenization_truncates_without_padding() -> None:
    many = rows_for({"a": 20, "b": 20})
    many.loc[0, "text"] = "긴 텍스트 " * 200
    dataset, _, _ = build_dataset(many, LabelSlots(max_classes=4), SplitSettings(seed=0))
    tokenized, stats = tokenize_dataset(dataset, load_tokenizer(default_base_model()), max_length=32)
    lengths = [len(ids) for split in tokenized for ids in tokenized[split]["input_ids"]]
    assert max(lengths) == 32 and len(set(lengths)) > 1, "rows keep their own length: no padding stored"
    assert stats.max > 32 and 0 < stats.truncation_rate < 0.1
    assert {"input_ids", "attention_mask", "label"} <= set(tokenized["train"].column_names)


@pytest.mark.parametrize("model", ["minilm", "qwen3", "llama"])
def test_fast_tokenization_equals_the_tokenizers_own_call(model: str, tmp_path: Path) -> None:
    """Rows are encoded by the Rust backend straight into Arrow, long ones again with truncation: every model input
    must be exactly what the tokenizer's own `truncation=True` call gives (special tokens at both ends of a cut
    row, the tokenizer's truncation side), for an encoder and both decoders."""
    many = rows_for({"a": 20, "b": 20})
    many.loc[[0, 7], "text"] = ["긴 텍스트 " * 200, "long text " * 50]
    dataset, _, _ = build_dataset(many, LabelSlots(max_classes=4), SplitSettings(seed=0))
    base = default_base_model() if model == "minilm" else str(build_miniature(model, tmp_path, demo_texts(200), 600))
    tokenizer = load_tokenizer(base)
    tokenized, _ = tokenize_dataset(dataset, tokenizer, max_length=32)
    for split in tokenized:
        texts = list(dataset[split]["text"])
        expected = tokenizer(texts, truncation=True, max_length=32)
        for name in tokenizer.model_input_names:
            assert tokenized[split][name] == expected[name], name
        assert tokenized[split]["n_tokens"] == [len(ids) for ids in tokenizer(texts)["input_ids"]]


def test_tokenizing_a_saved_dataset_writes_nothing_into_its_folder(tmp_path: Path) -> None:
    """The source is a published ledger_dataset version: tokenizing it must not leave `datasets` cache files there."""
    dataset, _, _ = build_dataset(rows_for({"a": 30, "b": 30}), LabelSlots(max_classes=4), SplitSettings(seed=0))
    folder = tmp_path / "ledger_dataset"
    save_dataset(dataset, folder)
    before = sorted(path.relative_to(folder) for path in folder.rglob("*"))
    tokenized, _ = tokenize_dataset(load_from_disk(str(folder)), load_tokenizer(default_base_model()), max_length=32)
    assert sorted(path.relative_to(folder) for path in folder.rglob("*")) == before
    assert tokenized["train"].num_rows == dataset["train"].num_rows
