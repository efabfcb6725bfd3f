"""Tokenization throughput: `tokenize_dataset` (what `tokenized_dataset` runs) against the raw `tokenizers` batch
encoder of the same tokenizer on the same texts, measured in the same run.

The texts are demo months run through the real ingestion, cleaning, features and `model_text` serialization; the
tokenizer is the default base model's, extended with the train texts' frequent words exactly as the asset does.
The raw reference (`tokenizer.backend_tokenizer.encode_batch`) is the ceiling: it encodes in Rust with no truncation,
no Python lists and no Arrow writes. Also prints the estimate of tokens per row before the added words, which the
asset computes on a sample.

    .venv/bin/python benchmarks/tokenization.py --months 3 --rows-per-month 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from datasets import Dataset, DatasetDict, disable_progress_bars
from demo_ledger import demo_month_features

from acctax_assets.ml.data.base_model import default_base_model
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, concat_model_text, model_text
from acctax_assets.ml.data.tokenization import load_tokenizer, mean_tokens, tokenize_dataset
from acctax_assets.ml.data.vocabulary import extend_tokenizer

MAX_LENGTH = 160  # tokenized_dataset's default
VOCAB_MIN_COUNT, VOCAB_MAX_WORDS = 3, 4000  # its vocabulary defaults


def demo_texts(folder: Path, months: int, rows: int) -> list[str]:
    """Model text of `months` demo months, as the model_text asset writes it."""
    names = [f"2024-{month:02d}" for month in range(1, months + 1)]
    features = demo_month_features(folder, names, rows)
    return concat_model_text(model_text(frame, month, DEFAULT_TEXT_FEATURES) for month, frame in features.items())[
        "text"
    ].tolist()


def timed(action: Callable[[], object], repeat: int) -> float:
    """Best wall time of `repeat` runs (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--rows-per-month", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    disable_progress_bars()

    with tempfile.TemporaryDirectory() as scratch:
        texts = demo_texts(Path(scratch), args.months, args.rows_per_month)
    tokenizer = load_tokenizer(default_base_model())
    started = time.perf_counter()
    before = mean_tokens(texts, tokenizer)
    estimate_seconds = time.perf_counter() - started
    extend_tokenizer(tokenizer, texts, VOCAB_MIN_COUNT, VOCAB_MAX_WORDS)
    dataset = DatasetDict({"train": Dataset.from_dict({"text": texts})})

    raw = timed(lambda: tokenizer.backend_tokenizer.encode_batch(texts), args.repeat)
    ours = timed(lambda: tokenize_dataset(dataset, tokenizer, MAX_LENGTH), args.repeat)
    rows = len(texts)
    print(
        f"{rows:,} demo rows (model_text of {args.months} months), best of {args.repeat}, 2 cores, max_length {MAX_LENGTH}"
    )
    print(f"{'path':<46} {'seconds':>8} {'rows/s':>10} {'vs raw':>7}")
    print(f"{'raw tokenizers encode_batch (reference)':<46} {raw:8.2f} {rows / raw:10,.0f} {1.0:6.2f}x")
    print(f"{'tokenize_dataset (tokenized_dataset asset)':<46} {ours:8.2f} {rows / ours:10,.0f} {raw / ours:6.2f}x")
    print(f"tokens per row before added words: {before:.1f}, estimated in {estimate_seconds:.2f} s")


if __name__ == "__main__":
    main()
