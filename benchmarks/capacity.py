"""Capacity on paper: what one epoch over an office's ledger costs when training Qwen3 LoRA sequence classifiers.

No Qwen3 checkpoint can be trained here, so the figures come in two kinds, marked as such everywhere:

- measured (this machine): tokens per serialized ledger row, with rows built exactly as training builds them
  (`miniature.demo_texts`: demo ledger → clean → features → serialize), through the Qwen3 miniature's byte-level
  BPE (fitted on other demo rows than the ones measured), UTF-8 bytes (the ceiling of any byte-level BPE, which
  real Qwen3 is), the bundled MiniLM tokenizer, and optionally any local tokenizer folder (`--tokenizer`, e.g. a
  real Qwen3 checkpoint when one is present);
- derived: tokens per epoch, training FLOPs, hours per epoch on 1×H100 and 4×RTX 4090, memory per GPU and
  optimizer steps per epoch for Qwen3-0.6B/1.7B/4B, from their published shapes and the assumptions printed
  above each table.

The output is plain text headers and markdown tables, ready to paste into the README.

    .venv/bin/python benchmarks/capacity.py                          # 3,000 demo rows, 3.5 M rows per epoch
    .venv/bin/python benchmarks/capacity.py --tokenizer /models/Qwen3-0.6B --json /tmp/capacity.json
    .venv/bin/python benchmarks/capacity.py --mfu-h100 0.4 --micro-batch 16 --grad-accum 2
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from acctax_assets.defs.tokenized_dataset import TokenizationConfig
from acctax_assets.ml.data.base_model import default_base_model
from acctax_assets.ml.data.label_slots import DEFAULT_MAX_CLASSES
from acctax_assets.ml.data.tokenization import load_tokenizer
from acctax_assets.ml.data.vocabulary import extend_tokenizer
from acctax_assets.ml.training.config import LoraSettings
from acctax_assets.ml.training.miniature import (
    ARCHITECTURES,
    DEFAULT_TEXT_ROWS,
    DEFAULT_VOCAB_SIZE,
    demo_texts,
    train_tokenizer,
)

GIB = 2**30
TOKENIZATION_DEFAULTS = TokenizationConfig.model_fields
# What training sees by default: the base tokenizer plus the train split's frequent words (tokenized_dataset).
ADDED_WORDS_CASE = "Qwen3 miniature BPE + added words (default pipeline)"
# The measured rows and the rows the miniature tokenizer is fitted on come from different demo seeds.
MEASURE_SEED = 7
FIT_SEED = 8
# Activation bytes per layer, token and hidden unit in bf16 (Korthikanti et al. 2022, "Reducing Activation
# Recomputation in Large Transformer Models", eq. 1 without the 5·a·s/h attention-score term, which SDPA / flash
# attention never materialises). With checkpointing only each layer's bf16 input is kept, plus one layer recomputed.
ACTIVATION_BYTES = 34
CHECKPOINT_BYTES = 2
# Per trainable parameter (ZeRO paper accounting): bf16 weight 2 + gradient 2 + fp32 master weight and Adam
# moments 12. ZeRO-2 shards gradients and optimizer states, ZeRO-3 the weights as well.
TRAINABLE_WEIGHT_BYTES = 2
TRAINABLE_GRADIENT_BYTES = 2
OPTIMIZER_BYTES = 12
CUDA_CONTEXT_GIB = 1.5


@dataclass(frozen=True)
class ModelShape:
    name: str
    total_params: float
    non_embedding_params: float
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int


# Published shapes: the model cards (huggingface.co/Qwen/Qwen3-0.6B, -1.7B, -4B: parameters, non-embedding
# parameters, layers, Q/KV heads) and their config.json (hidden_size, head_dim, vocab_size). All three have
# tie_word_embeddings true (config.json; Qwen3 technical report, table 1: tied for 0.6B/1.7B/4B, not for 8B and
# up), so the embedding is counted once in the total and a sequence classifier (no LM head) keeps all of it.
QWEN3 = (
    ModelShape("Qwen3-0.6B", 0.6e9, 0.44e9, layers=28, hidden=1024, heads=16, kv_heads=8, head_dim=128, vocab=151_936),
    ModelShape("Qwen3-1.7B", 1.7e9, 1.4e9, layers=28, hidden=2048, heads=16, kv_heads=8, head_dim=128, vocab=151_936),
    ModelShape("Qwen3-4B", 4.0e9, 3.6e9, layers=36, hidden=2560, heads=32, kv_heads=8, head_dim=128, vocab=151_936),
)


@dataclass(frozen=True)
class Hardware:
    name: str
    gpus: int
    peak_flops: float
    memory_gib: float
    mfu: float
    scaling: float

    def effective_flops(self) -> float:
        return self.peak_flops * self.mfu * self.gpus * self.scaling


@dataclass(frozen=True)
class TokenStats:
    """Tokens per row of one tokenizer; `padded_mean` is what a row costs once the collator pads each shuffled
    micro-batch to its longest row."""

    tokenizer: str
    mean: float
    p50: float
    p95: float
    max: int
    padded_mean: float


def token_stats(name: str, lengths: np.ndarray, micro_batch: int, seed: int = 0) -> TokenStats:
    order = np.random.default_rng(seed).permutation(len(lengths))
    batches = [lengths[order[i : i + micro_batch]] for i in range(0, len(order), micro_batch)]
    padded = sum(int(batch.max()) * len(batch) for batch in batches)
    return TokenStats(
        name,
        float(lengths.mean()),
        float(np.percentile(lengths, 50)),
        float(np.percentile(lengths, 95)),
        int(lengths.max()),
        padded / len(lengths),
    )


def token_lengths(texts: list[str], tokenizer: PreTrainedTokenizerBase) -> np.ndarray:
    """Untruncated ids per row, special tokens included, as tokenize_dataset counts them."""
    return np.asarray([len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]])


def with_added_words(tokenizer: PreTrainedTokenizerBase, fit_texts: list[str]) -> PreTrainedTokenizerBase:
    """`tokenizer` extended with the frequent words of `fit_texts`, as tokenized_dataset does by default."""
    extended = copy.deepcopy(tokenizer)
    extend_tokenizer(
        extended,
        fit_texts,
        TOKENIZATION_DEFAULTS["vocab_min_count"].default,
        TOKENIZATION_DEFAULTS["vocab_max_words"].default,
    )
    return extended


def measure(args: argparse.Namespace) -> tuple[int, list[TokenStats]]:
    """Tokens per row of the rows measured; added words and the miniature's BPE come from other rows (the fit set),
    as the dataset tokenizer comes from the train split and is applied to valid, test and new months."""
    texts = demo_texts(args.rows, seed=MEASURE_SEED)
    fit = demo_texts(args.rows, seed=FIT_SEED)
    qwen3 = train_tokenizer(fit, ARCHITECTURES["qwen3"], args.vocab_size)
    minilm = load_tokenizer(default_base_model())
    measured = [
        (ADDED_WORDS_CASE, token_lengths(texts, with_added_words(qwen3, fit))),
        ("Qwen3 miniature byte-level BPE", token_lengths(texts, qwen3)),
        ("UTF-8 bytes (byte-level BPE ceiling)", np.asarray([len(text.encode("utf-8")) for text in texts])),
        ("MiniLM WordPiece (bundled) + added words", token_lengths(texts, with_added_words(minilm, fit))),
        ("MiniLM WordPiece (bundled)", token_lengths(texts, minilm)),
    ]
    if args.tokenizer:
        local = AutoTokenizer.from_pretrained(str(args.tokenizer), local_files_only=True)
        measured.append((f"{args.tokenizer} + added words", token_lengths(texts, with_added_words(local, fit))))
        measured.append((str(args.tokenizer), token_lengths(texts, local)))
    return len(texts), [token_stats(name, lengths, args.micro_batch) for name, lengths in measured]


def trainable_params(model: ModelShape, r: int, classes: int) -> int:
    """LoRA A and B on q_proj and v_proj of every layer, plus the score head (no bias)."""
    q_out, v_out = model.heads * model.head_dim, model.kv_heads * model.head_dim
    return model.layers * (r * (model.hidden + q_out) + r * (model.hidden + v_out)) + model.hidden * classes


def memory_gib(
    model: ModelShape, trainable: int, seq_len: int, micro_batch: int, gpus: int, zero: int, checkpointing: bool
) -> float:
    """Per-GPU bf16 memory: frozen weights, trainable states, activations of one micro-batch, CUDA context."""
    weights = 2 * model.total_params / (gpus if zero == 3 else 1)
    states = (
        TRAINABLE_WEIGHT_BYTES / (gpus if zero == 3 else 1)
        + (TRAINABLE_GRADIENT_BYTES + OPTIMIZER_BYTES) / (gpus if zero >= 2 else 1)
    ) * trainable
    per_layer = seq_len * micro_batch * model.hidden
    activations = (
        CHECKPOINT_BYTES * model.layers * per_layer + ACTIVATION_BYTES * per_layer
        if checkpointing
        else ACTIVATION_BYTES * model.layers * per_layer
    )
    return (weights + states + activations) / GIB + CUDA_CONTEXT_GIB


def first_fit(options: Sequence[tuple[str, float]], capacity_gib: float) -> str:
    fitting = [label for label, gib in options if gib <= capacity_gib]
    return f"yes ({fitting[0]})" if fitting else "no"


def derive(stats: TokenStats, args: argparse.Namespace, h100: Hardware, rtx: Hardware) -> list[dict[str, Any]]:
    """Time and memory per model for one measured tokens-per-row case."""
    # The collator pads each micro-batch to its longest row, and padded positions are computed like real ones.
    tokens = args.rows_per_epoch * stats.padded_mean
    seq_len = math.ceil(stats.p95)
    rows = []
    for model in QWEN3:
        trainable = trainable_params(model, args.lora_r, args.classes)
        flops = {ckpt: (6 if ckpt else 4) * model.non_embedding_params * tokens for ckpt in (False, True)}
        rtx_gib = {
            "plain": memory_gib(model, trainable, seq_len, args.micro_batch, rtx.gpus, 0, False),
            "ZeRO-2": memory_gib(model, trainable, seq_len, args.micro_batch, rtx.gpus, 2, False),
            "ZeRO-2 + ckpt": memory_gib(model, trainable, seq_len, args.micro_batch, rtx.gpus, 2, True),
            "ZeRO-3 + ckpt": memory_gib(model, trainable, seq_len, args.micro_batch, rtx.gpus, 3, True),
        }
        h100_gib = {
            "plain": rtx_gib["plain"],
            "ckpt": memory_gib(model, trainable, seq_len, args.micro_batch, 1, 0, True),
        }
        rows.append(
            {
                "model": model.name,
                "tokens_per_epoch": tokens,
                "seq_len_p95": seq_len,
                "train_flops": flops[False],
                "train_flops_ckpt": flops[True],
                "hours_h100": flops[False] / h100.effective_flops() / 3600,
                "hours_h100_ckpt": flops[True] / h100.effective_flops() / 3600,
                "hours_4090x4": flops[False] / rtx.effective_flops() / 3600,
                "hours_4090x4_ckpt": flops[True] / rtx.effective_flops() / 3600,
                "trainable_params": trainable,
                "weights_gib": 2 * model.total_params / GIB,
                "gib_per_gpu": rtx_gib,
                "fits_4090": first_fit(list(rtx_gib.items()), rtx.memory_gib),
                "fits_h100": first_fit(list(h100_gib.items()), h100.memory_gib),
            }
        )
    return rows


def steps_per_epoch(args: argparse.Namespace, gpus: int) -> int:
    return math.ceil(args.rows_per_epoch / (args.micro_batch * args.grad_accum * gpus))


def assumptions(args: argparse.Namespace, h100: Hardware, rtx: Hardware) -> list[str]:
    embeddings = ", ".join(
        f"{m.name} {m.vocab * m.hidden / 1e9:.2f} B vs total − non-embedding "
        f"{(m.total_params - m.non_embedding_params) / 1e9:.2f} B"
        for m in QWEN3
    )
    return [
        f"{args.rows_per_epoch:,.0f} rows per epoch; tokens per epoch = rows × measured padded mean tokens per row "
        f"(micro-batches of {args.micro_batch} padded to their longest row, as the collator does: padding is computed too).",
        "Training FLOPs per token = 4·N for LoRA (forward 2·N, backward 2·N: activation gradients only, frozen weights "
        "need no weight gradients), 6·N with gradient checkpointing (one more forward); N = non-embedding params; "
        "LoRA, score head and attention-score FLOPs (∝ sequence length, a few % at these lengths) are left out.",
        f"Tied embeddings (vocab × hidden): {embeddings}.",
        f"1×H100-class: bf16 dense peak {h100.peak_flops / 1e12:.0f} TFLOP/s, {h100.memory_gib:.0f} GiB, "
        f"MFU {h100.mfu:.2f}.",
        f"{rtx.gpus}×RTX-4090-class: bf16 dense peak (fp32 accumulate) {rtx.peak_flops / 1e12:.0f} TFLOP/s each, "
        f"{rtx.memory_gib:.0f} GiB each, MFU {rtx.mfu:.2f}, data-parallel scaling {rtx.scaling:.2f} (PCIe).",
        "Hours per epoch = FLOPs / (peak × MFU × GPUs × scaling).",
        "Memory per GPU (GiB = 2^30 bytes), bf16: frozen weights 2 B × total params (ZeRO-3: ÷ GPUs); trainable = "
        f"LoRA r={args.lora_r} on q_proj and v_proj of every layer + score head (hidden × {args.classes}), 16 B each "
        "(bf16 weight 2 + gradient 2 + fp32 master and Adam moments 12; ZeRO-2 ÷ GPUs on gradient and optimizer, "
        f"ZeRO-3 on all); activations of a micro-batch of {args.micro_batch} rows at sequence length = measured p95: "
        f"{ACTIVATION_BYTES}·L·s·B·h bytes, with checkpointing {CHECKPOINT_BYTES}·L·s·B·h + one layer's "
        f"{ACTIVATION_BYTES}·s·B·h (Korthikanti et al. 2022, no attention-score term with SDPA/flash); "
        f"+ {CUDA_CONTEXT_GIB} GiB CUDA context/workspace. 'plain' = no ZeRO, no checkpointing (also the 1×H100 "
        "figure).",
    ]


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    return "\n".join([*lines, *(f"| {' | '.join(row)} |" for row in rows)])


def report(
    args: argparse.Namespace,
    measured_rows: int,
    stats: list[TokenStats],
    h100: Hardware,
    rtx: Hardware,
    derived: dict[str, list[dict[str, Any]]],
) -> str:
    out = [
        f"# Capacity on paper: Qwen3 LoRA sequence classifiers, {args.rows_per_epoch:,.0f} ledger rows per epoch",
        "",
        f"## Tokens per serialized row (measured: {measured_rows:,} demo rows, seed {MEASURE_SEED})",
        "",
        markdown(
            ["tokenizer", "mean", "p50", "p95", "max", f"padded mean (micro-batch {args.micro_batch})"],
            [
                [s.tokenizer, f"{s.mean:.1f}", f"{s.p50:.0f}", f"{s.p95:.0f}", f"{s.max}", f"{s.padded_mean:.1f}"]
                for s in stats
            ],
        ),
        "",
        f"Qwen3 miniature: byte-level BPE, vocabulary {args.vocab_size:,}, fitted on {args.rows:,} other demo rows "
        f"(seed {FIT_SEED}). Padded mean: shuffled micro-batches padded to their longest row (dynamic padding).",
        "",
        "## Assumptions (derived figures)",
        "",
        *(f"- {line}" for line in assumptions(args, h100, rtx)),
    ]
    for case, rows in derived.items():
        out += [
            "",
            f"## Time per epoch (derived; tokens per row measured with {case})",
            "",
            markdown(
                [
                    "model",
                    "tokens/epoch",
                    "FLOPs/epoch (4·N)",
                    "1×H100 h",
                    "1×H100 h (ckpt)",
                    f"{rtx.gpus}×4090 h",
                    f"{rtx.gpus}×4090 h (ckpt)",
                ],
                [
                    [
                        r["model"],
                        f"{r['tokens_per_epoch'] / 1e6:,.0f} M",
                        f"{r['train_flops']:.2e}",
                        *(
                            f"{r[key]:.2f}"
                            for key in ("hours_h100", "hours_h100_ckpt", "hours_4090x4", "hours_4090x4_ckpt")
                        ),
                    ]
                    for r in rows
                ],
            ),
            "",
            f"## Memory per GPU, GiB (derived; sequence length = measured p95 of {case}: "
            f"{rows[0]['seq_len_p95']} tokens, micro-batch {args.micro_batch})",
            "",
            markdown(
                [
                    "model",
                    "trainable params",
                    "weights",
                    "plain",
                    f"ZeRO-2 ×{rtx.gpus}",
                    f"ZeRO-2 + ckpt ×{rtx.gpus}",
                    f"ZeRO-3 + ckpt ×{rtx.gpus}",
                    f"fits {rtx.memory_gib:.0f} GiB (4090)",
                    f"fits {h100.memory_gib:.0f} GiB (H100)",
                ],
                [
                    [
                        r["model"],
                        f"{r['trainable_params'] / 1e6:.2f} M",
                        f"{r['weights_gib']:.2f}",
                        *(f"{gib:.2f}" for gib in r["gib_per_gpu"].values()),
                        r["fits_4090"],
                        r["fits_h100"],
                    ]
                    for r in rows
                ],
            ),
        ]
    out += [
        "",
        "## Optimizer steps per epoch (derived)",
        "",
        markdown(
            ["setup", "global batch", "steps/epoch"],
            [
                [
                    f"{hw.gpus}×{name}",
                    f"{args.micro_batch * args.grad_accum * hw.gpus} "
                    f"({args.micro_batch} × {args.grad_accum} accumulation × {hw.gpus} GPU)",
                    f"{steps_per_epoch(args, hw.gpus):,}",
                ]
                for name, hw in (("H100", h100), ("4090", rtx))
            ],
        ),
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_TEXT_ROWS, help="demo rows measured (and fitted on)")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE, help="Qwen3 miniature BPE vocabulary")
    parser.add_argument("--tokenizer", type=Path, default=None, help="a local tokenizer folder to measure as well")
    parser.add_argument("--rows-per-epoch", type=float, default=3.5e6)
    parser.add_argument("--micro-batch", type=int, default=32, help="rows per GPU per forward pass")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--lora-r", type=int, default=LoraSettings().r)
    parser.add_argument("--classes", type=int, default=DEFAULT_MAX_CLASSES, help="score head outputs")
    parser.add_argument("--mfu-h100", type=float, default=0.30, help="assumed model FLOPs utilisation")
    parser.add_argument("--mfu-4090", type=float, default=0.30, help="assumed model FLOPs utilisation")
    parser.add_argument("--scaling", type=float, default=0.85, help="data-parallel efficiency of 4 GPUs on PCIe")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args(argv)

    h100 = Hardware("H100", 1, 989e12, 80, args.mfu_h100, 1.0)
    rtx = Hardware("RTX 4090", 4, 165e12, 24, args.mfu_4090, args.scaling)
    measured_rows, stats = measure(args)
    by_name = {case.tokenizer: case for case in stats}
    cases = [
        by_name[ADDED_WORDS_CASE],
        by_name["UTF-8 bytes (byte-level BPE ceiling)"],
        *(case for case in stats if str(args.tokenizer) in case.tokenizer and args.tokenizer),
    ]
    derived = {case.tokenizer: derive(case, args, h100, rtx) for case in cases}
    print(report(args, measured_rows, stats, h100, rtx, derived))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "measured": {"rows": measured_rows, "tokens_per_row": [asdict(s) for s in stats]},
                    "assumptions": assumptions(args, h100, rtx),
                    "hardware": [asdict(h100), asdict(rtx)],
                    "models": [asdict(m) for m in QWEN3],
                    "derived": derived,
                    "steps_per_epoch": {f"{hw.gpus}x{hw.name}": steps_per_epoch(args, hw.gpus) for hw in (h100, rtx)},
                },
                indent=2,
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
