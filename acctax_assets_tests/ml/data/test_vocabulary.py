"""Vocabulary extension: mining the train split's words, the extended tokenizer, and new embedding rows that train
with the adapter and come back on reload, for an encoder (MiniLM) and a tiny locally built decoder (Llama)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.data.vocabulary import (
    added_token_ids,
    count_words,
    extend_tokenizer,
    field_markers,
    mine_words,
    subtoken_ids,
)

TRAIN_TEXTS = [
    "co:(주)한결정밀 | party:삼진시스템즈(주) | doc:credit_card | amt:+2.3e5 | memo:총무팀 도메인 연장 | item:도메인 연장 1년",
    "co:(주)한결정밀 | party:SK에너지 시화주유소 | doc:debit_card | amt:+2.2e5 | memo:영업차량 유류대 | item:경유 60L",
    "co:(주)대원산업 | party:삼진시스템즈(주) | doc:credit_card | amt:+2.3e5 | memo:총무팀 도메인 연장 | item:도메인 연장 및 유지",
]


def minilm_tokenizer():
    from acctax_assets.ml.data.base_model import default_base_model
    from acctax_assets.ml.data.tokenization import load_tokenizer

    return load_tokenizer(default_base_model())


def test_words_come_from_field_values_only_and_keep_amounts_whole() -> None:
    counts = count_words(TRAIN_TEXTS)
    assert counts["한결정밀"] == 2 and counts["도메인"] == 4 and counts["+2.3e5"] == 2 and counts["credit_card"] == 2
    assert "co" not in counts and "party" not in counts, "keys are markers, not words"
    assert field_markers(TRAIN_TEXTS[0]) == ["co:", "| party:", "| doc:", "| amt:", "| memo:", "| item:"]


def test_mining_respects_min_count_cap_and_skips_known_tokens() -> None:
    tokenizer = minilm_tokenizer()
    counts = Counter({"도메인": 9, "연장": 9, "card": 9, "한결정밀": 5, "드문말": 1})
    words, single = mine_words(counts, tokenizer, min_count=2, max_words=10)
    assert words == ["도메인", "연장", "한결정밀"], (
        "most frequent first, ties alphabetical, rare and known words left out"
    )
    assert single == 1
    assert mine_words(counts, tokenizer, min_count=2, max_words=2)[0] == ["도메인", "연장"]
    assert mine_words(counts, tokenizer, min_count=6, max_words=10)[0] == ["도메인", "연장"]
    assert mine_words(Counter({"및": 5}), tokenizer, 1, 10)[0] == ["및"], (
        "a word MiniLM only knows as [UNK] is not 'known'"
    )
    with pytest.raises(ValueError, match="min_count"):
        mine_words(counts, tokenizer, min_count=0, max_words=10)


def test_extended_tokenizer_cuts_tokens_and_survives_save(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = minilm_tokenizer()
    before = [len(ids) for ids in tokenizer(TRAIN_TEXTS)["input_ids"]]
    report = extend_tokenizer(tokenizer, TRAIN_TEXTS, min_count=2, max_words=100)
    assert "| party:" in report.markers and "한결정밀" in report.added
    after = [len(ids) for ids in tokenizer(TRAIN_TEXTS)["input_ids"]]
    assert after[0] < before[0] / 3 and sum(after) < sum(before) / 2, (before, after)
    assert after[1] < before[1], "words seen once stay in pieces, the markers still shorten the row"
    word_id = tokenizer.convert_tokens_to_ids("한결정밀")
    assert word_id in tokenizer("co:(주)한결정밀 | memo:x")["input_ids"]
    assert word_id not in tokenizer("co:한결정밀공업")["input_ids"], (
        "a whole-word token never matches inside a longer word"
    )
    tokenizer.save_pretrained(str(tmp_path))
    reloaded = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    assert reloaded(TRAIN_TEXTS)["input_ids"] == tokenizer(TRAIN_TEXTS)["input_ids"]
    assert extend_tokenizer(minilm_tokenizer(), TRAIN_TEXTS, 2, 0).added == (), "max_words=0 keeps the base tokenizer"


def tiny_decoder(folder: Path):
    """A 2-layer Llama classifier and a character-level tokenizer built here (no download), saved to `folder`."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    characters = sorted(set("".join(TRAIN_TEXTS)) - {" "})
    vocab = {"<pad>": 0, "<unk>": 1, "</s>": 2, **{c: i + 3 for i, c in enumerate(characters)}}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", eos_token="</s>"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        num_labels=4,
    )
    LlamaForSequenceClassification(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def test_new_rows_start_from_their_pieces_train_and_reload_on_a_decoder(tmp_path: Path) -> None:
    import torch

    from acctax_assets.ml.adapter import AdapterRef
    from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE
    from acctax_assets.ml.data.tokenization import load_tokenizer
    from acctax_assets.ml.training.config import TrainingConfig
    from acctax_assets.ml.training.model import build_model

    base_dir = tmp_path / "base"
    tiny_decoder(base_dir)
    base = load_tokenizer(str(base_dir))
    extended = load_tokenizer(str(base_dir))
    extend_tokenizer(extended, TRAIN_TEXTS, min_count=2, max_words=50)
    added = added_token_ids(extended, base)
    assert added and "<pad>" not in added
    label_slots = LabelSlots(max_classes=4).with_codes(["81100", "82200"])
    config = TrainingConfig(
        base_model=str(base_dir),
        dataset_dir=str(tmp_path),
        registry_path=str(tmp_path / LABEL_SLOTS_FILE),
        output_dir=str(tmp_path / "out"),
        lora={"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
    )
    untrained = torch.tensor([False, False, True, True])
    model = build_model(config, label_slots, extended, base, untrained, bf16=False)

    embeddings = model.get_input_embeddings()
    assert embeddings.weight.shape[0] == len(extended), "embed_tokens grew to the extended tokenizer"
    word, index = next(iter(added.items()))
    with torch.no_grad():
        start = embeddings(torch.tensor([[index]]))[0, 0]
        pieces = embeddings(torch.tensor([subtoken_ids(word, base)]))[0].mean(dim=0)
    assert torch.allclose(start, pieces, atol=1e-6), "a new row starts as the mean of its base pieces"

    batch = extended(TRAIN_TEXTS, return_tensors="pt", padding=True)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(**batch).logits, torch.tensor([0, 1, 0]))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        trained_row = embeddings(torch.tensor([[index]]))[0, 0].clone()
        expected = model(**batch).logits
    assert not torch.allclose(trained_row, start), "the new rows are trained with the adapter"

    adapter_dir = tmp_path / "adapter"
    model.save_pretrained(str(adapter_dir), save_embedding_layers=False)
    extended.save_pretrained(str(adapter_dir))
    label_slots.save(adapter_dir / LABEL_SLOTS_FILE)
    TextSpec(("party_name",), max_length=64).save(adapter_dir)
    reloaded = AdapterRef(adapter_dir).load_model()
    with torch.no_grad():
        assert torch.allclose(reloaded(**batch).logits, expected, atol=1e-5), "reload rebuilds the same model"
        merged = reloaded.merge_and_unload()
        assert torch.allclose(merged(**batch).logits, expected, atol=1e-5)


def test_spare_decoder_rows_are_reused_not_cut(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from acctax_assets.ml.data.tokenization import load_tokenizer
    from acctax_assets.ml.training.model import extend_embeddings

    base_dir = tmp_path / "base"
    tiny_decoder(base_dir)
    base = load_tokenizer(str(base_dir))
    extended = load_tokenizer(str(base_dir))
    extend_tokenizer(extended, TRAIN_TEXTS, min_count=2, max_words=3)
    model = AutoModelForSequenceClassification.from_pretrained(str(base_dir))
    model.resize_token_embeddings(len(extended) + 16)  # like Qwen: more rows than tokenizer entries
    rows = model.get_input_embeddings().num_embeddings
    new_ids = extend_embeddings(model, extended, base)
    assert model.get_input_embeddings().num_embeddings == rows
    assert new_ids == sorted(added_token_ids(extended, base).values())
    weight = model.get_input_embeddings().weight
    word = extended.convert_ids_to_tokens(new_ids[0])
    assert torch.allclose(weight[new_ids[0]], weight[subtoken_ids(word, base)].mean(dim=0))
