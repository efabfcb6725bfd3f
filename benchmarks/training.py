"""Benchmark training: plain HF Trainer vs the DeepSpeed subprocess path at identical settings, and the tokens
a batch costs with dynamic padding (what the collator does) vs padding to the longest row.

Builds a demo dataset with the same functions the assets use, then launches the real entry point
(`acctax_assets.ml.train`) twice: as one plain process (`use_deepspeed=false`) and through the `deepspeed`
launcher (ZeRO-2). Prints samples/s, wall time and peak RSS of each process tree.

    .venv/bin/python benchmarks/training.py                     # 6 months x 1000 rows, 60 steps, batch 32
    .venv/bin/python benchmarks/training.py --steps 100 --ranks 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.demo_ledger import write_demo_ledger
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file
from acctax_assets.ml.dataset import build_dataset, labelled_rows
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.launch import deepspeed_command, free_port, training_env
from acctax_assets.ml.serialization import DEFAULT_TEXT_FEATURES, TextSpec
from acctax_assets.ml.splits import SplitSettings
from acctax_assets.ml.tokenization import default_base_model, load_tokenizer, tokenize_dataset
from acctax_assets.ml.training_config import TrainingConfig

POLL_SECONDS = 0.5


def build_tokenized(folder: Path, months: list[str], rows: int, max_length: int) -> Path:
    landing = folder / "landing"
    column_map = load_column_map()
    features = {}
    for path in write_demo_ledger(landing, months, rows, seed=7, encoding="utf-8"):
        month = f"{path.stem.split('_')[-1]}-01"
        raw = combine([read_ledger_file(path, column_map, landing)])
        features[month] = build_features(clean_ledger(raw, month, CleaningRules()).cleaned)
    dataset, registry, _ = build_dataset(labelled_rows(features, DEFAULT_TEXT_FEATURES), LabelRegistry(), SplitSettings())
    tokenized, stats = tokenize_dataset(dataset, load_tokenizer(default_base_model()), max_length)
    target = folder / "tokenized"
    tokenized.save_to_disk(str(target))
    registry.save(target / REGISTRY_FILE)
    TextSpec(DEFAULT_TEXT_FEATURES, max_length=max_length).save(target)
    print(f"dataset: {tokenized['train'].num_rows:,} train rows, tokens p50 {stats.p50:.0f} / p95 {stats.p95:.0f} / max {stats.max}")
    return target


def padding_cost(lengths: np.ndarray, batch_size: int, seed: int = 0) -> tuple[float, float]:
    """Tokens per batch (padding included) for shuffled batches: dynamic vs padded to the dataset's longest row."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    batches = [lengths[order[i:i + batch_size]] for i in range(0, len(order), batch_size)]
    dynamic = np.mean([batch.max() * len(batch) for batch in batches])
    longest = np.mean([lengths.max() * len(batch) for batch in batches])
    return float(dynamic), float(longest)


def run_measured(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS of the process tree in MiB, exit code)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(POLL_SECONDS)
    if process.returncode != 0:
        sys.stderr.write(process.stderr.read()[-3000:])
    return time.perf_counter() - started, peak / 2**20, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--rows", type=int, default=1000, help="rows per month")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--ranks", type=int, default=1, help="DeepSpeed ranks (CPU ranks without a GPU)")
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        months = [str(p) for p in pd.period_range("2024-01", periods=args.months, freq="M")]
        dataset_dir = build_tokenized(folder, months, args.rows, args.max_length)
        from datasets import load_from_disk

        lengths = np.asarray([len(ids) for ids in load_from_disk(str(dataset_dir))["train"]["input_ids"]])
        dynamic, longest = padding_cost(lengths, args.batch)
        print(f"tokens per batch of {args.batch}: dynamic padding {dynamic:,.0f}, pad-to-longest {longest:,.0f} "
              f"({longest / dynamic:.2f}x)")

        results = []
        for label, use_deepspeed, ranks in (("plain Trainer", False, 1), (f"DeepSpeed ZeRO-2 x{args.ranks}", True, args.ranks)):
            config = TrainingConfig(
                base_model=default_base_model(), dataset_dir=str(dataset_dir), registry_path=str(dataset_dir / REGISTRY_FILE),
                output_dir=str(folder / f"run-{use_deepspeed}"), max_steps=args.steps, eval_steps=args.steps,
                save_steps=args.steps, per_device_batch_size=args.batch, use_deepspeed=use_deepspeed, num_ranks=ranks,
                resume=False,
            )
            config_path = config.write(folder / f"config-{use_deepspeed}.json")
            command = (deepspeed_command(config, config_path, free_port()) if use_deepspeed
                       else [sys.executable, "-m", "acctax_assets.ml.train", "--config", str(config_path)])
            env = {k: v for k, v in training_env(config, os.environ).items() if k not in ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")}
            wall, peak, code = run_measured(command, env, folder)
            if code != 0:
                raise SystemExit(f"{label} failed with exit code {code}")
            train = json.loads((config.adapter_dir / "metrics.json").read_text())["train"]
            results.append((label, train["samples_per_second"], train["train_runtime_seconds"], wall, peak))

        print(f"\n{'path':<22} {'samples/s':>10} {'train s':>8} {'wall s':>8} {'peak RSS MiB':>13}")
        for label, rate, runtime, wall, peak in results:
            print(f"{label:<22} {rate:>10.1f} {runtime:>8.1f} {wall:>8.1f} {peak:>13,.0f}")
        print(f"\n{args.steps} steps x batch {args.batch}, {os.cpu_count()} cores; wall includes process start, model load, "
              "valid/test evaluation and saving")


if __name__ == "__main__":
    main()
