"""Tokenize the dataset with the base model's tokenizer: truncation only, padding left to the collator
(ARCHITECTURE.md §3 trap 3), with length statistics so truncation is visible."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasets import DatasetDict
from tokenizers import Encoding
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from acctax_assets.ml.data.base_model import BaseModelError, check_base_model
from acctax_assets.ml.data.encodings import ENCODING_FIELDS

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


# Rows the base-tokenizer cost is estimated on: evenly spaced, so every month is represented and reruns agree.
MEAN_TOKENS_SAMPLE = 20_000


def mean_tokens(texts: Sequence[str], tokenizer: PreTrainedTokenizerBase, sample: int = MEAN_TOKENS_SAMPLE) -> float:
    """Average tokens per text (special tokens included), untruncated: what a row costs. Estimated on at most
    `sample` evenly spaced texts: it is a figure for the metadata, and a full pass of the base tokenizer (Hangul
    as jamo) cost as much as tokenizing the whole dataset."""
    if not len(texts):
        return 0.0
    step = max(1, len(texts) // sample)
    chosen = [str(texts[index]) for index in range(0, len(texts), step)]
    return float(np.mean([len(ids) for ids in tokenizer(chosen, truncation=False, verbose=False)["input_ids"]]))


@dataclass(frozen=True)
class TokenStats:
    p50: float
    p95: float
    max: int
    truncation_rate: float
    rows: int
    mean: float = 0.0


def _list_column(encodings: Sequence[Encoding], name: str, offsets: pa.Array, total: int) -> pa.ListArray:
    """One model input of a batch as an Arrow list column built from flat values (no Python list per row)."""
    attribute, arrow_type = ENCODING_FIELDS[name]
    if name == "attention_mask":
        values = np.ones(total, dtype=np.int8)  # unpadded rows attend to every token
    else:
        flat = itertools.chain.from_iterable(getattr(encoding, attribute) for encoding in encodings)
        values = np.fromiter(flat, dtype=arrow_type.to_pandas_dtype(), count=total)
    return pa.ListArray.from_arrays(offsets, pa.array(values, type=arrow_type))


def tokenize_dataset(
    dataset: DatasetDict, tokenizer: PreTrainedTokenizerBase, max_length: int, num_proc: int | None = None
) -> tuple[DatasetDict, TokenStats]:
    """Adds the tokenizer's model inputs (input_ids, attention_mask and, where the model takes them, token_type_ids;
    truncated, unpadded) and `n_tokens` (length before truncation).

    Written against the Rust `tokenizers` encoder directly, batches in and out as Arrow: the `PreTrainedTokenizer`
    call and `datasets`' list conversion spent more time building Python lists than encoding. Each text is encoded
    once, untruncated; only rows longer than `max_length` are encoded again with the backend truncating them the way
    `truncation=True` does (special tokens kept, the tokenizer's truncation side). The result stays in memory
    (`keep_in_memory`): `map` would otherwise write a cache file beside the source, i.e. inside the published
    ledger_dataset version (1.35 GB at an office's size), and the IO manager writes the result once anyway."""
    if not tokenizer.is_fast:
        raise BaseModelError(f"{tokenizer.name_or_path}: a fast (tokenizers) tokenizer is required")
    names = [name for name in tokenizer.model_input_names if name in ENCODING_FIELDS]

    def encode(batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        backend = tokenizer.backend_tokenizer
        backend.no_padding()
        backend.no_truncation()
        encodings = backend.encode_batch(texts)
        lengths = np.fromiter((len(encoding.ids) for encoding in encodings), dtype=np.int64, count=len(encodings))
        long_rows = np.flatnonzero(lengths > max_length)
        if long_rows.size:
            backend.enable_truncation(max_length, direction=tokenizer.truncation_side)
            for row, cut in zip(long_rows, backend.encode_batch([texts[row] for row in long_rows]), strict=True):
                encodings[row] = cut
            backend.no_truncation()
        kept = np.minimum(lengths, max_length) if long_rows.size else lengths
        offsets = pa.array(np.concatenate([[0], np.cumsum(kept)]).astype(np.int32))
        total = int(kept.sum())
        for name in names:
            batch = batch.append_column(name, _list_column(encodings, name, offsets, total))
        return batch.append_column("n_tokens", pa.array(lengths))

    tokenized = DatasetDict(
        {
            split: part.with_format("arrow")
            .map(
                encode,
                batched=True,
                num_proc=num_proc if num_proc and num_proc > 1 else None,
                keep_in_memory=True,
                desc="tokenize",
            )
            .with_format(None)
            for split, part in dataset.items()
        }
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
