"""Prediction batching (equal token lengths, worker threads) against a one-row-at-a-time reference on tiny
stored adapters: the speed-up must never change a probability."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoTokenizer

from acctax_assets.ml.adapter import TRAINED_CLASSES_FILE, AdapterRef
from acctax_assets.ml.adapter.masking import mask_untrained
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.serving.inference import Predictor, token_batches
from acctax_assets.ml.training.miniature import build_miniature, demo_texts
from acctax_assets_tests.support.ml_frames import LABEL_SLOTS
from acctax_assets_tests.support.training_runs import tiny_bert

MAX_LENGTH = 40
TRAINED = [0, 1, 2]


def stored_adapter(base: Path, target_modules: list[str], folder: Path) -> AdapterRef:
    """A LoRA adapter with random (non-zero) deltas over `base`, stored as training publishes one."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=LABEL_SLOTS.max_classes, ignore_mismatched_sizes=True, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    lora = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, target_modules=target_modules))
    torch.manual_seed(1)
    for name, parameter in lora.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.5)
    lora.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    LABEL_SLOTS.save(folder / LABEL_SLOTS_FILE)
    TextSpec(text_features=("party_name", "item"), max_length=MAX_LENGTH).save(folder)
    (folder / TRAINED_CLASSES_FILE).write_text(json.dumps({"class_ids": TRAINED, "codes": [], "counts": []}))
    return AdapterRef(folder)


@pytest.fixture(scope="module", params=["bert", "qwen3"])
def adapter(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AdapterRef:
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "bert":
        return stored_adapter(tiny_bert(root / "base", LABEL_SLOTS.max_classes), ["query", "value"], root / "adapter")
    base = build_miniature("qwen3", root / "base", demo_texts(rows=300), vocab_size=800)
    return stored_adapter(base, ["q_proj", "v_proj"], root / "adapter")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Rows of many token lengths, a repeated one, and one longer than MAX_LENGTH tokens (truncated)."""
    rows = demo_texts(rows=37, seed=3)
    return [*rows, rows[0], " | ".join(rows[:4]), "커피"]


def one_at_a_time(predictor: Predictor, rows: list[str]) -> np.ndarray:
    """The reference: each text alone through the transformers tokenizer call, no batching, no padding."""
    out = []
    with torch.inference_mode():
        for text in rows:
            inputs = predictor.tokenizer(text, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
            logits = predictor.model(**inputs).logits.float()
            out.append(torch.softmax(mask_untrained(logits, predictor.untrained), dim=-1).numpy()[0])
    return np.stack(out)


@pytest.mark.parametrize("batch_size, workers", [(1, 1), (4, 2), (64, 3)])
def test_batched_probabilities_equal_one_row_at_a_time(
    adapter: AdapterRef, texts: list[str], batch_size: int, workers: int
) -> None:
    predictor = Predictor(adapter, device="cpu", batch_size=batch_size, quantize=False, workers=workers)
    rows = texts
    assert max(len(e.ids) for e in predictor.encoder.encode_batch(rows)) == MAX_LENGTH, "one row is truncated"
    threads = torch.get_num_threads()
    batched = predictor.probabilities(rows)
    assert torch.get_num_threads() == threads, "the worker threads' setting is undone"
    np.testing.assert_allclose(batched, one_at_a_time(predictor, rows), rtol=0, atol=1e-5)
    assert batched[:, 3:].max() == 0.0, "untrained slots get no probability"
    top = predictor.predict(rows)
    assert np.array_equal(top.ids[:, 0], batched.argmax(axis=1))


def test_token_batches_hold_each_row_once_in_batches_of_one_length() -> None:
    lengths = np.array([5, 3, 5, 7, 3, 5, 5, 3, 9])
    batches = token_batches(lengths, batch_size=2)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert all(len(batch) <= 2 and len(set(lengths[batch])) == 1 for batch in batches)
    assert [lengths[batch[0]] for batch in batches] == [3, 3, 5, 5, 7, 9]
    assert token_batches(np.array([], dtype=np.int64), batch_size=4) == []
