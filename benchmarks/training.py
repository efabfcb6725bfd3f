"""Benchmark training: plain HF Trainer vs the DeepSpeed subprocess path at identical settings, the tokens a batch
costs with dynamic padding (what the collator does) vs padding to the longest row, and adapter variants on the
default demo.

`--mode paths` (the original benchmark) builds a small demo dataset with the same functions the assets use, then
launches the real entry point (`acctax_assets.ml.training`) twice: as one plain process (`use_deepspeed=false`) and
through the `deepspeed` launcher (ZeRO-2). Prints samples/s, wall time and peak RSS of each process tree.

`--mode variants` builds the demo exactly as `acctax materialize` does (`python -m acctax_assets.demo --out DIR
--unlabelled-months 1`: 12 coded months x 2,000 rows), the dataset and tokenized dataset with the asset defaults
(vocabulary extension included), then trains each named variant through the DeepSpeed launcher, one at a time,
and prints variant x tokens/row x samples/s x minutes x valid/test macro F1 x test accuracy, next to the TF-IDF
baseline on the same split.

    .venv/bin/python benchmarks/training.py                     # paths: 6 months x 1000 rows, 60 steps, batch 32
    .venv/bin/python benchmarks/training.py --steps 100 --ranks 2
    .venv/bin/python benchmarks/training.py --mode variants --variants default,no-vocab --work /tmp/acctax-bench

`--mode threads` measures ranks x torch threads per rank on this machine's CPU on the variants' demo dataset (cached
in `--work`), each setting with the cores free
and beside one CPU-burning process (`--busy-neighbour`, what another engineer's job does to a shared machine),
interleaved so both see the same background load, `--repeats` times; it prints samples/s as min-max per setting.
The global batch stays `--batch` (per-rank batch = batch / ranks), so every setting optimizes the same way.

    .venv/bin/python benchmarks/training.py --mode threads --busy-neighbour --steps 80 --work /tmp/acctax-bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from demo_ledger import demo_month_features, ledger_month_features

from acctax_assets import demo
from acctax_assets.ml.candidates.baseline import BaselineSettings, evaluate_baseline, train_baseline
from acctax_assets.ml.data.base_model import default_base_model
from acctax_assets.ml.data.dataset import build_dataset, labelled_rows
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, TextSpec
from acctax_assets.ml.data.splits import SplitSettings
from acctax_assets.ml.data.tokenization import load_tokenizer, mean_tokens, save_dataset_tokenizer, tokenize_dataset
from acctax_assets.ml.data.vocabulary import extend_tokenizer
from acctax_assets.ml.training.config import LoraSettings, TrainingConfig
from acctax_assets.ml.training.launch import TRAIN_MODULE, deepspeed_command, free_port, training_env

POLL_SECONDS = 0.5
# Valid/test rows kept by the threads mode, which measures the training loop only.
THREADS_EVAL_ROWS = 64
# What a busy neighbour does to a shared machine: one process that keeps one core at 100 %.
BURNER = "while True:\n    pass\n"


def build_tokenized(folder: Path, months: list[str], rows: int, max_length: int) -> Path:
    features = demo_month_features(folder / "landing", months, rows)
    dataset, label_slots, _ = build_dataset(
        labelled_rows(features, DEFAULT_TEXT_FEATURES), LabelSlots(), SplitSettings()
    )
    tokenized, stats = tokenize_dataset(dataset, load_tokenizer(default_base_model()), max_length)
    target = folder / "tokenized"
    tokenized.save_to_disk(str(target))
    label_slots.save(target / LABEL_SLOTS_FILE)
    TextSpec(DEFAULT_TEXT_FEATURES, max_length=max_length).save(target)
    print(
        f"dataset: {tokenized['train'].num_rows:,} train rows, tokens p50 {stats.p50:.0f} / p95 {stats.p95:.0f} / max {stats.max}"
    )
    return target


def padding_cost(lengths: np.ndarray, batch_size: int, seed: int = 0) -> tuple[float, float]:
    """Tokens per batch (padding included) for shuffled batches: dynamic vs padded to the dataset's longest row."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    batches = [lengths[order[i : i + batch_size]] for i in range(0, len(order), batch_size)]
    dynamic = np.mean([batch.max() * len(batch) for batch in batches])
    longest = np.mean([lengths.max() * len(batch) for batch in batches])
    return float(dynamic), float(longest)


def run_measured(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS of the process tree in MiB, exit code); the child's output goes to `log` (a pipe
    nobody reads during a long run would fill and stall it)."""
    started = time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, text=True)
        peak = _watch(process)
    if process.returncode != 0:
        sys.stderr.write(log.read_text(encoding="utf-8", errors="replace")[-3000:])
    return time.perf_counter() - started, peak / 2**20, process.returncode


def _watch(process: subprocess.Popen[str]) -> int:
    """Peak RSS in bytes of the process tree until it exits."""
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(POLL_SECONDS)
    return peak


def launch_env(config: TrainingConfig) -> dict[str, str]:
    return {
        k: v for k, v in training_env(config, os.environ).items() if k not in ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")
    }


def compare_paths(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        months = [str(p) for p in pd.period_range("2024-01", periods=args.months, freq="M")]
        dataset_dir = build_tokenized(folder, months, args.rows, args.max_length)
        from datasets import load_from_disk

        lengths = np.asarray([len(ids) for ids in load_from_disk(str(dataset_dir))["train"]["input_ids"]])
        dynamic, longest = padding_cost(lengths, args.batch)
        print(
            f"tokens per batch of {args.batch}: dynamic padding {dynamic:,.0f}, pad-to-longest {longest:,.0f} "
            f"({longest / dynamic:.2f}x)"
        )

        results = []
        for label, use_deepspeed, ranks in (
            ("plain Trainer", False, 1),
            (f"DeepSpeed ZeRO-2 x{args.ranks}", True, args.ranks),
        ):
            config = TrainingConfig(
                base_model=default_base_model(),
                dataset_dir=str(dataset_dir),
                registry_path=str(dataset_dir / LABEL_SLOTS_FILE),
                output_dir=str(folder / f"run-{use_deepspeed}"),
                max_steps=args.steps,
                eval_steps=args.steps,
                save_steps=args.steps,
                per_device_batch_size=args.batch,
                use_deepspeed=use_deepspeed,
                num_ranks=ranks,
                resume=False,
            )
            config_path = config.write(folder / f"config-{use_deepspeed}.json")
            command = (
                deepspeed_command(config, config_path, free_port())
                if use_deepspeed
                else [sys.executable, "-m", TRAIN_MODULE, "--config", str(config_path)]
            )
            wall, peak, code = run_measured(command, launch_env(config), folder, folder / f"train-{use_deepspeed}.log")
            if code != 0:
                raise SystemExit(f"{label} failed with exit code {code}")
            train = json.loads((config.adapter_dir / "metrics.json").read_text())["train"]
            results.append((label, train["samples_per_second"], train["train_runtime_seconds"], wall, peak))

        print(f"\n{'path':<22} {'samples/s':>10} {'train s':>8} {'wall s':>8} {'peak RSS MiB':>13}")
        for label, rate, runtime, wall, peak in results:
            print(f"{label:<22} {rate:>10.1f} {runtime:>8.1f} {wall:>8.1f} {peak:>13,.0f}")
        print(
            f"\n{args.steps} steps x batch {args.batch}, {os.cpu_count()} cores; wall includes process start, model load, "
            "valid/test evaluation and saving"
        )


@dataclass(frozen=True)
class DataSettings:
    """What shapes the tokenized dataset; defaults are the assets' defaults (ledger_dataset, tokenized_dataset)."""

    text_features: tuple[str, ...] = DEFAULT_TEXT_FEATURES
    vocab_max_words: int = -1
    vocab_min_count: int = -1
    max_length: int = -1

    def resolved(self) -> DataSettings:
        from acctax_assets.defs.tokenized_dataset import TokenizationConfig

        defaults = TokenizationConfig.model_fields
        return DataSettings(
            self.text_features,
            self.vocab_max_words if self.vocab_max_words >= 0 else defaults["vocab_max_words"].default,
            self.vocab_min_count if self.vocab_min_count >= 0 else defaults["vocab_min_count"].default,
            self.max_length if self.max_length >= 0 else defaults["max_length"].default,
        )

    def key(self) -> str:
        return f"{'-'.join(self.text_features)}_{self.vocab_max_words}_{self.vocab_min_count}_{self.max_length}"


@dataclass(frozen=True)
class Variant:
    """A named change against the defaults: dataset settings and TrainingConfig / LoRA overrides."""

    data: DataSettings = DataSettings()
    training: Mapping[str, Any] = field(default_factory=dict)
    lora: Mapping[str, Any] = field(default_factory=dict)


VARIANTS: dict[str, Variant] = {
    "default": Variant(),
    "no-vocab": Variant(DataSettings(vocab_max_words=0)),
    "no-company": Variant(DataSettings(text_features=tuple(f for f in DEFAULT_TEXT_FEATURES if f != "company_name"))),
    "lr-1e-2": Variant(training={"learning_rate": 1e-2}),
    "lr-2e-3": Variant(training={"learning_rate": 2e-3}),
    "bs-16": Variant(training={"per_device_batch_size": 16}),
    "r-16-qkvd": Variant(lora={"r": 16, "alpha": 32, "target_modules": ["query", "key", "value", "dense"]}),
    "alpha-0": Variant(training={"class_weight_alpha": 0.0}),
    "alpha-1": Variant(training={"class_weight_alpha": 1.0}),
}


def demo_features(work: Path) -> dict[str, pd.DataFrame]:
    """The main command's demo (`acctax materialize` on an empty landing folder) through the data layer's functions;
    cached in `work`."""
    cache = work / "features.pkl"
    if cache.exists():
        return pd.read_pickle(cache)
    landing = work / "landing"
    if not landing.exists():
        demo.main(["--out", str(landing), "--unlabelled-months", "1"])
    features = ledger_month_features(landing, sorted(landing.iterdir()))
    pd.to_pickle(features, cache)
    return features


def build_variant_dataset(
    work: Path, features: dict[str, pd.DataFrame], data: DataSettings
) -> tuple[Path, float, float, dict[str, float]]:
    """Dataset + tokenized dataset as ledger_dataset/tokenized_dataset build them (cached per settings); returns
    the folder, tokens/row before and after the vocabulary extension, and the baseline's valid/test scores."""
    target = work / "datasets" / data.key()
    summary_file = target / "bench_summary.json"
    if not summary_file.exists():
        dataset, label_slots, _ = build_dataset(
            labelled_rows(features, list(data.text_features)), LabelSlots(), SplitSettings()
        )
        tokenizer = load_tokenizer(default_base_model())
        before = mean_tokens(dataset["train"]["text"], tokenizer)
        report = extend_tokenizer(tokenizer, dataset["train"]["text"], data.vocab_min_count, data.vocab_max_words)
        tokenized, stats = tokenize_dataset(dataset, tokenizer, data.max_length)
        tokenized.save_to_disk(str(target))
        label_slots.save(target / LABEL_SLOTS_FILE)
        TextSpec(data.text_features, max_length=data.max_length).save(target)
        save_dataset_tokenizer(tokenizer, target)
        started = time.perf_counter()
        pipeline = train_baseline(dataset["train"]["text"], dataset["train"]["label"], BaselineSettings())
        splits = {split: (dataset[split]["text"], dataset[split]["label"]) for split in ("valid", "test")}
        reports, _ = evaluate_baseline(pipeline, splits, label_slots)
        summary = {
            "tokens_before": before,
            "tokens_after": stats.mean,
            "added": len(report.added),
            "truncation_rate": stats.truncation_rate,
            "baseline_seconds": time.perf_counter() - started,
            "baseline": {
                "valid_f1_macro": reports["valid"]["f1_macro"],
                "test_f1_macro": reports["test"]["f1_macro"],
                "test_accuracy": reports["test"]["accuracy"],
            },
        }
        summary_file.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    print(
        f"dataset {data.key()}: {summary['added']} added tokens, tokens/row {summary['tokens_before']:.1f} -> "
        f"{summary['tokens_after']:.1f}, truncated {summary['truncation_rate']:.1%}"
    )
    return target, summary["tokens_before"], summary["tokens_after"], summary["baseline"]


def variant_config(
    name: str, variant: Variant, dataset_dir: Path, output_dir: Path, steps: int | None, eval_steps: int | None
) -> TrainingConfig:
    """The asset's defaults (ClassifierConfig mirrors TrainingConfig) with the variant's overrides."""
    lora = LoraSettings(**variant.lora)
    knobs: dict[str, Any] = dict(variant.training)
    if steps is not None:
        knobs["max_steps"] = steps
    if eval_steps is not None:
        knobs["eval_steps"] = eval_steps
    return TrainingConfig(
        base_model=default_base_model(),
        dataset_dir=str(dataset_dir),
        registry_path=str(dataset_dir / LABEL_SLOTS_FILE),
        output_dir=str(output_dir / name),
        resume=False,
        lora=lora,
        **knobs,
    )


def compare_variants(args: argparse.Namespace) -> None:
    unknown = [name for name in args.variants if name not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="acctax-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    features = demo_features(work)
    rows = []
    baseline: dict[str, float] = {}
    for name in args.variants:
        variant = VARIANTS[name]
        dataset_dir, _, tokens, baseline = build_variant_dataset(work, features, variant.data.resolved())
        config = variant_config(name, variant, dataset_dir, work / "runs", args.steps, args.eval_steps)
        config_path = config.write(work / "runs" / f"{name}.json")
        wall, _, code = run_measured(
            deepspeed_command(config, config_path, free_port()), launch_env(config), work, work / "runs" / f"{name}.log"
        )
        if code != 0:
            print(f"{name}: failed with exit code {code}")
            continue
        metrics = json.loads((config.adapter_dir / "metrics.json").read_text(encoding="utf-8"))
        train = metrics["train"]
        rows.append(
            (
                name,
                tokens,
                train["samples_per_second"],
                train["train_runtime_seconds"] / 60,
                wall / 60,
                train["steps"],
                metrics["valid"]["f1_macro"],
                metrics["test"]["f1_macro"],
                metrics["test"]["accuracy"],
            )
        )
        curve = ", ".join(
            f"{entry['step']}: {entry['eval_f1_macro']:.3f}"
            for entry in metrics["log_history"]
            if "eval_f1_macro" in entry
        )
        print(
            f"{name}: test macro F1 {metrics['test']['f1_macro']:.4f} in {wall / 60:.1f} min"
            + (f" (valid macro F1 by step {curve})" if curve else ""),
            flush=True,
        )

    print(
        f"\n{'variant':<14} {'tok/row':>7} {'samples/s':>9} {'train min':>9} {'wall min':>8} {'steps':>6} "
        f"{'valid F1m':>9} {'test F1m':>8} {'test acc':>8}"
    )
    for name, tokens, rate, train_min, wall_min, steps, valid, test, accuracy in rows:
        print(
            f"{name:<14} {tokens:>7.1f} {rate:>9.1f} {train_min:>9.1f} {wall_min:>8.1f} {steps:>6} {valid:>9.4f} {test:>8.4f} {accuracy:>8.4f}"
        )
    if baseline:
        print(
            f"{'tfidf-logreg':<14} {'-':>7} {'-':>9} {'-':>9} {'-':>8} {'-':>6} {baseline['valid_f1_macro']:>9.4f} "
            f"{baseline['test_f1_macro']:>8.4f} {baseline['test_accuracy']:>8.4f}"
        )
    print(
        f"\n{os.cpu_count()} cores; wall = DeepSpeed launch + model load + training + valid/test evaluation + saving; work dir {work}"
    )


@dataclass(frozen=True)
class ThreadSetting:
    """One way to spend the CPU: `ranks` DeepSpeed ranks with `threads` torch threads each."""

    ranks: int
    threads: int

    @classmethod
    def parse(cls, text: str) -> ThreadSetting:
        ranks, _, threads = text.partition("x")
        if not ranks.isdigit() or not threads.isdigit() or int(ranks) < 1 or int(threads) < 1:
            raise argparse.ArgumentTypeError(f"setting {text!r} is not RANKSxTHREADS, e.g. 1x2 or 2x1")
        return cls(int(ranks), int(threads))

    def __str__(self) -> str:
        return f"{self.ranks} rank x {self.threads} thread"


@contextmanager
def busy_neighbour(enabled: bool) -> Iterator[None]:
    """One process burning a core beside the block (a no-op when not `enabled`), killed afterwards."""
    if not enabled:
        yield
        return
    burner = subprocess.Popen([sys.executable, "-c", BURNER])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


def short_eval_copy(source: Path, target: Path, rows: int) -> Path:
    """`source` with valid and test cut to `rows` rows (cached): the final evaluation is not what is measured, and
    on a loaded machine it took minutes per run."""
    if not (target / "dataset_dict.json").is_file():
        from datasets import DatasetDict, load_from_disk

        splits = load_from_disk(str(source))
        DatasetDict(
            {
                name: split if name == "train" else split.select(range(min(rows, len(split))))
                for name, split in splits.items()
            }
        ).save_to_disk(str(target))
        for item in source.iterdir():  # registry, text spec, the dataset's tokenizer
            if item.name in splits or (target / item.name).exists():
                continue
            if item.is_dir():
                shutil.copytree(item, target / item.name)
            else:
                shutil.copy2(item, target / item.name)
    return target


def compare_threads(args: argparse.Namespace) -> None:
    neighbours = (False, True) if args.busy_neighbour else (False,)
    rates: dict[tuple[ThreadSetting, bool], list[float]] = {}
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="acctax-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    # The demo as `acctax materialize` trains it (vocabulary extension included: ~20 tokens a row, not ~100).
    demo_dir, _, _, _ = build_variant_dataset(work, demo_features(work), DataSettings().resolved())
    dataset_dir = short_eval_copy(demo_dir, work / "threads-dataset", THREADS_EVAL_ROWS)
    with tempfile.TemporaryDirectory(dir=work) as temp:
        folder = Path(temp)
        for repeat in range(args.repeats):
            for setting in args.settings:
                for busy in neighbours:
                    if args.batch % setting.ranks:
                        raise SystemExit(f"--batch {args.batch} does not split over {setting.ranks} ranks")
                    name = f"r{repeat}-{setting.ranks}x{setting.threads}-{'busy' if busy else 'free'}"
                    config = TrainingConfig(
                        base_model=default_base_model(),
                        dataset_dir=str(dataset_dir),
                        registry_path=str(dataset_dir / LABEL_SLOTS_FILE),
                        output_dir=str(folder / name),
                        max_steps=args.steps,
                        eval_steps=args.steps,
                        save_steps=args.steps,
                        per_device_batch_size=args.batch // setting.ranks,
                        num_ranks=setting.ranks,
                        torch_threads=setting.threads,
                        resume=False,
                    )
                    config_path = config.write(folder / f"{name}.json")
                    load = os.getloadavg()[0]
                    with busy_neighbour(busy):
                        _, _, code = run_measured(
                            deepspeed_command(config, config_path, free_port()),
                            launch_env(config),
                            folder,
                            folder / f"{name}.log",
                        )
                    if code != 0:
                        raise SystemExit(f"{name} failed with exit code {code}")
                    rate = json.loads((config.adapter_dir / "metrics.json").read_text())["train"]["samples_per_second"]
                    rates.setdefault((setting, busy), []).append(rate)
                    print(f"{name}: {rate:.1f} samples/s (1-min load before: {load:.2f})", flush=True)
                    shutil.rmtree(config.output_dir, ignore_errors=True)

    print(f"\n{'setting':<20} {'neighbour':<9} {'samples/s min-max':>18} {'median':>7}")
    for (setting, busy), values in rates.items():
        print(
            f"{setting!s:<20} {'busy' if busy else 'free':<9} {min(values):>8.1f} - {max(values):>7.1f} "
            f"{float(np.median(values)):>7.1f}"
        )
    print(
        f"\n{args.steps} steps x global batch {args.batch}, {os.cpu_count()} cores, {args.repeats} interleaved repeats; "
        "samples/s of the training loop (process start and model load excluded)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("paths", "variants", "threads"), default="paths")
    parser.add_argument("--months", type=int, default=6, help="paths mode: months of demo data")
    parser.add_argument("--rows", type=int, default=1000, help="paths mode: rows per month")
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (paths: default 60; variants: the config default)"
    )
    parser.add_argument(
        "--eval-steps", type=int, default=None, help="variants mode: periodic valid evaluation (a learning curve)"
    )
    parser.add_argument("--batch", type=int, default=32, help="paths mode: batch size")
    parser.add_argument("--ranks", type=int, default=1, help="paths mode: DeepSpeed ranks (CPU ranks without a GPU)")
    parser.add_argument("--max-length", type=int, default=128, help="paths mode: truncation")
    parser.add_argument(
        "--variants",
        type=lambda text: [v for v in text.split(",") if v],
        default=["default"],
        help=f"variants mode: comma-separated, run one at a time; known: {', '.join(VARIANTS)}",
    )
    parser.add_argument(
        "--work", default=None, help="variants/threads mode: folder for the demo, datasets and runs (reused when given)"
    )
    parser.add_argument(
        "--settings",
        type=lambda text: [ThreadSetting.parse(item) for item in text.split(",") if item],
        default=[ThreadSetting(1, 2), ThreadSetting(1, 1), ThreadSetting(2, 1)],
        help="threads mode: comma-separated RANKSxTHREADS (default 1x2,1x1,2x1)",
    )
    parser.add_argument(
        "--busy-neighbour",
        action="store_true",
        help="threads mode: also run each setting beside one CPU-burning process, interleaved with the free runs",
    )
    parser.add_argument("--repeats", type=int, default=2, help="threads mode: interleaved rounds")
    args = parser.parse_args()
    if args.mode == "threads":
        args.steps = args.steps or 60
        compare_threads(args)
    elif args.mode == "paths":
        args.steps = args.steps or 60
        compare_paths(args)
    else:
        compare_variants(args)


if __name__ == "__main__":
    main()
