"""Miniature decoder checkpoints (Qwen3, Llama) built on this machine, never downloaded.

Production trains Qwen3-class decoders; tests and a GPU check need the same architectures small enough for
seconds on a CPU. A miniature is a randomly initialised `<Arch>ForSequenceClassification` (2 layers, small
hidden size) with a byte-level BPE tokenizer trained with `tokenizers` on serialized demo rows, saved exactly
like a local checkpoint (config.json, model.safetensors, tokenizer files), so `model_settings.base_model` can
point at it and nothing else changes. Like their real counterparts, the Qwen3 miniature has a pad token
(`<|endoftext|>`) and the Llama one has none (only `<s>`/`</s>`).

    python -m acctax_assets.ml.training.miniature --out /tmp/miniatures            # both architectures
    python -m acctax_assets.ml.training.miniature --out /tmp/m --arch llama --rows 2000
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    LlamaConfig,
    LlamaForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen3Config,
    Qwen3ForSequenceClassification,
)

log = logging.getLogger(__name__)
DEFAULT_VOCAB_SIZE = 4000
DEFAULT_TEXT_ROWS = 3000


@dataclass(frozen=True)
class Architecture:
    """What differs between the miniatures: model classes and the special tokens their real tokenizers carry."""

    config_class: type[PretrainedConfig]
    model_class: type[PreTrainedModel]
    bos: str | None
    eos: str
    pad: str | None


ARCHITECTURES: dict[str, Architecture] = {
    "qwen3": Architecture(Qwen3Config, Qwen3ForSequenceClassification, bos=None, eos="<|im_end|>", pad="<|endoftext|>"),
    "llama": Architecture(LlamaConfig, LlamaForSequenceClassification, bos="<s>", eos="</s>", pad=None),
}


def demo_texts(rows: int = DEFAULT_TEXT_ROWS, seed: int = 7) -> list[str]:
    """Serialized rows of a demo month, produced by the same path training uses (read → clean → features →
    serialize), so the tokenizer learns the field markers and Korean words the model will see."""
    from acctax_assets.demo import write_demo_ledger
    from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
    from acctax_assets.ledger.column_map import load_column_map
    from acctax_assets.ledger.features import build_features
    from acctax_assets.ledger.ingestion import combine, read_ledger_files
    from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, serialize_rows

    with tempfile.TemporaryDirectory() as folder:
        landing = Path(folder)
        paths = write_demo_ledger(landing, ["2024-03"], rows, seed, encoding="utf-8")
        raw = combine(read_ledger_files(paths, load_column_map(), landing))
    cleaned = clean_ledger(raw, "2024-03-01", CleaningRules()).cleaned
    return serialize_rows(build_features(cleaned), DEFAULT_TEXT_FEATURES).astype(str).tolist()


def train_tokenizer(
    texts: Sequence[str], architecture: Architecture, vocab_size: int = DEFAULT_VOCAB_SIZE
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (the family Qwen and Llama 3 use) trained on `texts`; no special token is added
    to encoded text, as with the real decoder tokenizers used for classification."""
    specials = [token for token in (architecture.pad, architecture.bos, architecture.eos) if token]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=architecture.bos, eos_token=architecture.eos, pad_token=architecture.pad
    )


def build_miniature(
    arch: str,
    out_dir: Path,
    texts: Sequence[str],
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    hidden_size: int = 64,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Write a random `arch` sequence classifier with its tokenizer to `out_dir`; returns `out_dir`."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    architecture = ARCHITECTURES[arch]
    tokenizer = train_tokenizer(texts, architecture, vocab_size)
    heads = 4
    config = architecture.config_class(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads // 2,
        head_dim=hidden_size // heads,
        max_position_embeddings=1024,
        num_labels=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = architecture.model_class(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    log.info(
        "wrote a %s miniature (%d parameters, vocabulary %d) to %s",
        arch,
        model.num_parameters(),
        len(tokenizer),
        out_dir,
    )
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder; one sub-folder per architecture")
    parser.add_argument("--arch", choices=[*ARCHITECTURES, "all"], default="all")
    parser.add_argument("--rows", type=int, default=DEFAULT_TEXT_ROWS, help="demo rows the tokenizer is trained on")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE)
    parser.add_argument("--hidden-size", type=int, default=64)
    args = parser.parse_args(argv)
    texts = demo_texts(args.rows)
    for arch in ARCHITECTURES if args.arch == "all" else [args.arch]:
        build_miniature(arch, args.out / arch, texts, args.vocab_size, args.hidden_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
