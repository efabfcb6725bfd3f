"""Tokenize the dataset with the base model's tokenizer: truncation only, padding left to the collator
(ARCHITECTURE.md §3 trap 3), with length statistics so truncation is visible."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from acctax_assets.ml.launch import BaseModelError, check_base_model

# Sub-folder of a tokenized dataset holding the tokenizer its ids came from (the base one, possibly extended
# with the train split's words): trainer, evaluation and prediction all read this one.
TOKENIZER_DIR = "tokenizer"


def load_tokenizer(base_model: str) -> PreTrainedTokenizerBase:
    """The base model's tokenizer, offline, shared by the tokenized dataset and the trainer so both pad alike.

    Decoder-only checkpoints (Llama, Qwen) ship without a pad token; they pad with EOS.
    """
    check_base_model(base_model)
    tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise BaseModelError(
                f"tokenizer of {base_model} has neither a pad nor an eos token, so batches cannot be padded. "
                "Fix: set pad_token (or eos_token) in its tokenizer_config.json to one of its special tokens"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_dataset_tokenizer(dataset_dir: str | Path, base_model: str) -> PreTrainedTokenizerBase:
    """The tokenizer stored with a tokenized dataset; datasets written before it was stored used the base one."""
    folder = Path(dataset_dir) / TOKENIZER_DIR
    if not folder.is_dir():
        return load_tokenizer(base_model)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if tokenizer.pad_token_id is None:
        raise BaseModelError(
            f"the tokenizer stored in {folder} has no pad token. Fix: re-materialize tokenized_dataset"
        )
    return tokenizer


def save_dataset_tokenizer(tokenizer: PreTrainedTokenizerBase, dataset_dir: Path) -> None:
    """The tokenizer that produced a tokenized dataset's ids, saved inside that dataset's folder, so the ids and
    the tokenizer can never come from different versions (load_dataset_tokenizer reads it back)."""
    tokenizer.save_pretrained(str(Path(dataset_dir) / TOKENIZER_DIR))


def mean_tokens(texts: Sequence[str], tokenizer: PreTrainedTokenizerBase) -> float:
    """Average tokens per text (special tokens included), untruncated: what a row costs."""
    if not texts:
        return 0.0
    return float(np.mean([len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]]))


@dataclass(frozen=True)
class TokenStats:
    p50: float
    p95: float
    max: int
    truncation_rate: float
    rows: int
    mean: float = 0.0


def tokenize_dataset(
    dataset: DatasetDict, tokenizer: PreTrainedTokenizerBase, max_length: int, num_proc: int | None = None
) -> tuple[DatasetDict, TokenStats]:
    """Adds input_ids/attention_mask (truncated, unpadded) and `n_tokens` (length before truncation)."""

    def encode(batch: dict) -> dict:
        full = tokenizer(batch["text"], truncation=False)["input_ids"]
        encoded = tokenizer(batch["text"], truncation=True, max_length=max_length)
        encoded["n_tokens"] = [len(ids) for ids in full]
        return dict(encoded)

    tokenized = dataset.map(
        encode, batched=True, num_proc=num_proc if num_proc and num_proc > 1 else None, desc="tokenize"
    )
    lengths = (
        np.concatenate([np.asarray(tokenized[split]["n_tokens"]) for split in tokenized])
        if len(tokenized)
        else np.array([])
    )
    if lengths.size == 0:
        return tokenized, TokenStats(0.0, 0.0, 0, 0.0, 0)
    stats = TokenStats(
        p50=float(np.percentile(lengths, 50)),
        p95=float(np.percentile(lengths, 95)),
        max=int(lengths.max()),
        truncation_rate=float((lengths > max_length).mean()),
        rows=int(lengths.size),
        mean=float(lengths.mean()),
    )
    return tokenized, stats
