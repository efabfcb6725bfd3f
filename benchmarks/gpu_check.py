"""One-command proof of the production training path on a GPU machine: a decoder LLM, bf16, ZeRO-2, through the
real Dagster `training_job` and the `deepspeed` launcher (one rank per visible GPU).

It lands a few demo months in a fresh ACCTAX_HOME, runs the data layer, builds the Qwen3 miniature (or takes a real
checkpoint with `--base-model`), trains, then reloads the stored adapter with the serving code (`Predictor`, no
int8) and checks that it proposes the same codes for the test split as the trainer's own evaluation did. Prints
samples/s, tokens/s, peak GPU memory per rank, test accuracy/macro F1 and that agreement.

    .venv/bin/python benchmarks/gpu_check.py                                   # Qwen3 miniature
    .venv/bin/python benchmarks/gpu_check.py --base-model /models/Qwen3-0.6B --steps 200 --batch 32
    .venv/bin/python benchmarks/gpu_check.py --allow-cpu --ranks 2             # the same path in fp32 on CPU ranks

Without a GPU it stops with exit code 2 unless `--allow-cpu` is given; CI never runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from acctax_assets import demo
from acctax_assets.ml.training.launch import visible_gpus
from acctax_assets.paths import AcctaxHome

NO_GPU = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--base-model", type=Path, default=None, help="local checkpoint dir (default: a Qwen3 miniature built here)"
    )
    parser.add_argument(
        "--arch", choices=["qwen3", "llama"], default="qwen3", help="miniature architecture when no --base-model"
    )
    parser.add_argument("--hidden-size", type=int, default=256, help="miniature hidden size")
    parser.add_argument("--layers", type=int, default=4, help="miniature layers")
    parser.add_argument("--months", type=int, default=3, help="labelled demo months")
    parser.add_argument("--rows-per-month", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32, help="per-device batch size")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--ranks", type=int, default=None, help="default: one per visible GPU (2 on CPU)")
    parser.add_argument("--zero-stage", type=int, default=2, choices=[0, 1, 2, 3])
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--quantization", choices=["none", "4bit", "8bit"], default="none")
    parser.add_argument("--allow-cpu", action="store_true", help="run on CPU ranks in fp32 when no GPU is visible")
    parser.add_argument("--work", type=Path, default=None, help="ACCTAX_HOME to use (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    return parser.parse_args(argv)


def land_months(home: AcctaxHome, months: int, rows: int, instance: Any) -> None:
    from acctax_assets.definitions import defs

    end = f"2024-{months:02d}"
    demo.main(["--start", "2024-01", "--end", end, "--rows-per-month", str(rows), "--out", str(home.landing)])
    for month in range(1, months + 1):
        result = defs.resolve_job_def("ledger_data_job").execute_in_process(
            instance=instance, partition_key=f"2024-{month:02d}-01"
        )
        if not result.success:
            raise SystemExit(f"ledger_data_job failed for 2024-{month:02d}")


def base_model(args: argparse.Namespace, folder: Path) -> Path:
    if args.base_model is not None:
        return args.base_model
    from acctax_assets.ml.training.miniature import build_miniature, demo_texts

    return build_miniature(
        args.arch, folder / args.arch, demo_texts(), hidden_size=args.hidden_size, layers=args.layers
    )


def chance(tokenized_dir: Path) -> float:
    from datasets import load_from_disk

    from acctax_assets.ml.evaluation.metrics import chance_accuracy

    splits = load_from_disk(str(tokenized_dir))
    return chance_accuracy(splits["train"]["label"], splits["test"]["label"])


def reload_agreement(adapter_dir: Path, tokenized_dir: Path) -> tuple[float, float]:
    """Share of test rows where the reloaded adapter (serving code, full precision) proposes the code the trainer's
    evaluation proposed, and the rows/s of that reload's inference."""
    from datasets import load_from_disk

    from acctax_assets.ml.adapter import AdapterRef
    from acctax_assets.ml.serving.inference import Predictor

    adapter = AdapterRef(adapter_dir)
    texts = load_from_disk(str(tokenized_dir))["test"]["text"]
    predictor = Predictor(adapter, device="auto", batch_size=64, quantize=False)
    started = time.perf_counter()
    reloaded = predictor.probabilities(list(texts)).argmax(axis=1)
    seconds = time.perf_counter() - started
    trained = adapter.eval_outputs().predicted("test")
    return float(np.mean(reloaded == trained)), len(texts) / seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gpus = visible_gpus()
    if not gpus and not args.allow_cpu:
        print("No NVIDIA GPU is visible (nvidia-smi). Run on a GPU machine, or pass --allow-cpu for the CPU path.")
        return NO_GPU
    ranks = args.ranks or (len(gpus) if gpus else 2)
    with tempfile.TemporaryDirectory(prefix="acctax-gpu-check-") as scratch:
        root = args.work or Path(scratch) / "acctax"
        home = AcctaxHome(root).ensure()
        os.environ.update({"ACCTAX_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)})
        from dagster import DagsterInstance

        from acctax_assets.definitions import defs

        model = base_model(args, Path(scratch))
        with DagsterInstance.get() as instance:
            land_months(home, args.months, args.rows_per_month, instance)
            classifier = {
                "max_steps": args.steps,
                "eval_steps": args.steps,
                "save_steps": args.steps,
                "per_device_batch_size": args.batch,
                "learning_rate": args.learning_rate,
                "num_ranks": ranks,
                "zero_stage": args.zero_stage,
                "gradient_checkpointing": args.gradient_checkpointing,
                "quantization": args.quantization,
            }
            run_config = {
                "ops": {"account_classifier": {"config": classifier}},
                "resources": {
                    "model_settings": {"config": {"base_model": str(model), "min_f1_macro": 0.0, "max_f1_drop": 1.0}}
                },
            }
            started = time.perf_counter()
            result = defs.resolve_job_def("training_job").execute_in_process(
                instance=instance, run_config=run_config, raise_on_error=False
            )
            wall = time.perf_counter() - started
        if not result.success:
            failures = [
                e.event_specific_data.error.to_string()
                for e in result.all_events
                if e.event_type_value == "STEP_FAILURE"
            ]
            print("training_job failed:\n" + "\n".join(failures))
            return 1
        metadata = {
            key: value.value
            for key, value in result.asset_materializations_for_node("account_classifier")[0].metadata.items()
        }
        tokenized = Path(result.asset_materializations_for_node("tokenized_dataset")[0].metadata["path"].value)
        agreement, reload_rows_per_second = reload_agreement(Path(metadata["path"]), tokenized)
        chance_test_accuracy = chance(tokenized)
    figures = {
        "device": ", ".join(f"{gpu.name} (cc {gpu.compute_capability})" for gpu in gpus) or "CPU",
        "base_model": str(
            args.base_model or f"{args.arch} miniature ({args.layers} layers, hidden {args.hidden_size})"
        ),
        "ranks": metadata["num_ranks"],
        "zero_stage": metadata["zero_stage"],
        "bf16": metadata["bf16"],
        "gradient_checkpointing": metadata["gradient_checkpointing"],
        "quantization": metadata["quantization"],
        "steps": metadata["steps"],
        "train_rows": metadata["train_rows"],
        "samples_per_second": round(metadata["samples_per_second"], 1),
        "tokens_per_second": round(metadata["tokens_per_second"], 1),
        "peak_memory_gb_rank0": metadata["peak_memory_gb"],
        "training_job_seconds": round(wall, 1),
        "test_accuracy": round(metadata["test_accuracy"], 4),
        "chance_test_accuracy": round(chance_test_accuracy, 4),
        "test_f1_macro": round(metadata["test_f1_macro"], 4),
        "reload_agreement_test": round(agreement, 4),
        "reload_rows_per_second": round(reload_rows_per_second, 1),
    }
    width = max(len(key) for key in figures)
    print("\n".join(f"{key:<{width}}  {value}" for key, value in figures.items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
