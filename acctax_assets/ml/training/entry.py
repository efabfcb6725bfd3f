"""The training run itself, what `python -m acctax_assets.ml.training` executes on every rank: read the config,
load the data, build the model and Trainer, train, evaluate, publish the adapter, report to Dagster.

Only global rank 0 opens Pipes, reports, and writes files; all ranks join the collective steps (training,
evaluation, the ZeRO-3 weight gather) so none waits on a missing peer (lesson 7). It imports `dagster_pipes`,
never `dagster` (ARCHITECTURE.md §4).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from typing import Any

import deepspeed
import numpy as np
import torch
from accelerate import PartialState
from datasets import DatasetDict, load_from_disk
from pydantic import ValidationError
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase, PrinterCallback, set_seed

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter.writer import gather_adapter_state, write_adapter
from acctax_assets.ml.data.base_model import check_base_model
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import TEXT_SPEC_FILE
from acctax_assets.ml.data.tokenization import load_dataset_tokenizer, load_tokenizer
from acctax_assets.ml.data.vocabulary import added_token_ids
from acctax_assets.ml.evaluation.metrics import class_weights
from acctax_assets.ml.evaluation.outputs import EvalOutputs
from acctax_assets.ml.training.budget import TrainingBudget
from acctax_assets.ml.training.checkpoints import CheckpointError, resume_checkpoint
from acctax_assets.ml.training.config import StepBudget, TrainingConfig
from acctax_assets.ml.training.errors import TrainingError
from acctax_assets.ml.training.launch import REFUSAL_FILE, threads_per_rank
from acctax_assets.ml.training.model import build_model, check_sequence_classifier
from acctax_assets.ml.training.progress import MlflowCurves, ProgressCallback
from acctax_assets.ml.training.reporting import Ranks, Reporter, configure_logging, open_reporter
from acctax_assets.ml.training.scoring import compute_metrics_for, evaluate_split, probabilities_for
from acctax_assets.ml.training.trainer import WeightedLossTrainer, training_arguments, use_bf16

SPLITS = ("train", "valid", "test")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The launcher's command line: our --config plus the --local_rank DeepSpeed appends."""
    parser = argparse.ArgumentParser(description="LoRA training of the account classifier (run under `deepspeed`).")
    parser.add_argument("--config", required=True, type=Path, help="TrainingConfig JSON written by the Dagster asset")
    # Appended by the DeepSpeed launcher; the rank itself is read from RANK/LOCAL_RANK.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=-1)
    return parser.parse_args(argv)


def load_config(path: Path) -> TrainingConfig:
    """The config the asset wrote; a missing or invalid one is a refusal, not a crash to retry."""
    try:
        return TrainingConfig.read(path)
    except FileNotFoundError:
        raise TrainingError(
            f"training config {path} does not exist. Fix: pass the JSON the asset wrote with --config"
        ) from None
    except ValidationError as error:
        raise TrainingError(f"training config {path} is invalid: {error}") from None


def configure_threads(config: TrainingConfig) -> int:
    """Thread pool per rank, before any tensor work (the choice and its measurements: launch.threads_per_rank)."""
    threads = threads_per_rank(config, on_gpu=torch.cuda.is_available())
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    return threads


def load_splits(config: TrainingConfig, tokenizer: PreTrainedTokenizerBase, label_slots: LabelSlots) -> DatasetDict:
    """The tokenized splits, cut to what the model consumes, with every label checked against the label slots."""
    path = Path(config.dataset_dir)
    if not path.exists():
        raise TrainingError(f"tokenized dataset {path} does not exist. Fix: materialize tokenized_dataset first")
    if not (path / TEXT_SPEC_FILE).is_file():
        raise TrainingError(
            f"{path} lacks {TEXT_SPEC_FILE} (how rows became text). Fix: re-materialize ledger_dataset and tokenized_dataset"
        )
    loaded = load_from_disk(str(path))
    if not isinstance(loaded, DatasetDict) or any(split not in loaded for split in SPLITS):
        found = list(loaded.keys()) if isinstance(loaded, DatasetDict) else type(loaded).__name__
        raise TrainingError(f"{path} must be a DatasetDict with splits {list(SPLITS)}; found {found}")
    columns = loaded["train"].column_names
    missing = [column for column in ("input_ids", "label") if column not in columns]
    if missing:
        raise TrainingError(f"{path} lacks columns {missing} (has {columns}). Fix: re-materialize tokenized_dataset")
    keep = [name for name in tokenizer.model_input_names if name in columns] + ["label"]
    dataset = DatasetDict({split: loaded[split].select_columns(keep) for split in SPLITS})
    for split in SPLITS:
        labels = np.asarray(dataset[split]["label"])
        if labels.size == 0:
            raise TrainingError(f"split {split!r} of {path} is empty; training needs rows in train, valid and test")
        if labels.min() < 0 or labels.max() >= label_slots.used:
            bad = sorted({int(x) for x in labels if x < 0 or x >= label_slots.used})[:10]
            raise TrainingError(
                f"split {split!r} has class ids {bad} outside the {label_slots.used} registered codes of {config.registry_path}. "
                "Fix: rebuild ledger_dataset and tokenized_dataset with the current label registry"
            )
    return dataset


def peak_memory_gb() -> float:
    """This rank's peak memory: allocated CUDA memory on a GPU, the process's peak resident set on CPU."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def last_logged_loss(log_history: list[dict[str, Any]]) -> float:
    """The train loss of a launch that resumed at max_steps and so trained no step itself."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return float(losses[-1]) if losses else float("nan")


def describe_budget(config: TrainingConfig, budget: StepBudget, train_rows: int, world_size: int) -> str:
    """The schedule in one line, so a log says how long the run may take and what may end it."""
    samples = config.per_device_batch_size * config.gradient_accumulation_steps * world_size
    planned = (
        f"max_steps {budget.max_steps}"
        if budget.step_reason == "max_steps"
        else f"{config.num_train_epochs:g} epochs = {budget.max_steps} steps"
    )
    parts = [
        f"budget: {planned} ({budget.steps_per_epoch} steps of {samples} rows per epoch of {train_rows:,} train rows)",
        f"time cap {config.max_minutes:g} min" if config.max_minutes is not None else "no time cap",
    ]
    if budget.evaluates:
        patience = config.early_stopping_patience
        parts.append(
            f"valid evaluated every {budget.eval_steps} steps, "
            + (f"early stopping after {patience} without a better macro F1" if patience else "no early stopping")
        )
    else:
        parts.append("no periodic valid evaluation (eval interval >= the budget)")
    return ", ".join(parts)


def budget_outcome(
    trainer: WeightedLossTrainer, budget: StepBudget, restored: bool, valid_f1_macro: float
) -> dict[str, Any]:
    """Why and where training ended, and the best valid score (the final one when nothing was evaluated on the way)."""
    state = trainer.state
    best_known = state.best_metric is not None and state.best_global_step is not None
    return {
        "stop_reason": trainer.budget.stop_reason or budget.step_reason,
        "epochs": round(float(state.epoch or 0.0), 4),
        "max_steps": budget.max_steps,
        "steps_per_epoch": budget.steps_per_epoch,
        "eval_steps": budget.eval_steps if budget.evaluates else None,
        "train_minutes": round(trainer.budget.trained_seconds / 60, 3),
        "best_valid_f1_macro": float(state.best_metric) if best_known else valid_f1_macro,
        "best_step": int(state.best_global_step) if best_known else state.global_step,
        "restored_best": restored,
    }


def run(config: TrainingConfig, ranks: Ranks, reporter: Reporter, started: float) -> dict[str, Any]:
    """Train, evaluate, save; returns the flat metadata for the materialization (meaningful on rank 0)."""
    check_base_model(config.base_model)
    check_sequence_classifier(config.base_model)
    label_slots = LabelSlots.read(Path(config.registry_path))
    base_tokenizer = load_tokenizer(config.base_model)
    tokenizer = load_dataset_tokenizer(config.dataset_dir, config.base_model)
    dataset = load_splits(config, tokenizer, label_slots)
    counts = np.bincount(np.asarray(dataset["train"]["label"]), minlength=label_slots.max_classes)
    weights = torch.tensor(
        class_weights(counts, config.class_weight_alpha, config.class_weight_clip), dtype=torch.float32
    )
    untrained = weights == 0
    trained_ids = [int(i) for i in np.flatnonzero(counts)]

    budget = config.step_budget(len(dataset["train"]), len(dataset["valid"]), ranks.world_size)
    bf16 = use_bf16(config)
    args = training_arguments(config, budget, bf16)  # initialises the process group; must precede the ZeRO-3 model load
    state = PartialState()
    # On CPU, Accelerate starts torch.distributed itself; DeepSpeed must adopt that group before ZeRO-3's zero.Init
    # (inside from_pretrained), else it assumes one rank and rejects the batch size.
    if config.use_deepspeed:
        deepspeed.init_distributed()
    if ranks.world_size != config.num_ranks:
        reporter.warning(f"config asks for {config.num_ranks} ranks but the launcher started {ranks.world_size}")
    resume_from = resume_checkpoint(config, state, reporter)
    if resume_from is not None:
        reporter.info(f"resuming from {resume_from}")

    set_seed(config.seed)  # the new head and the LoRA matrices are drawn here, before the Trainer seeds anything
    model = build_model(config, label_slots, tokenizer, base_tokenizer, untrained, bf16)
    reporter.info(
        f"base model {config.base_model}: {len(trained_ids)} trained classes of {label_slots.used} codes "
        f"({label_slots.max_classes} slots), {len(dataset['train'])} train rows, "
        f"{len(added_token_ids(tokenizer, base_tokenizer))} tokens added to the base vocabulary, ZeRO-{config.zero_stage}, "
        f"{ranks.world_size} rank(s) x {torch.get_num_threads()} threads, {'bf16' if bf16 else 'fp32'}"
    )
    mlflow = MlflowCurves.from_env(os.environ) if ranks.is_main else None
    progress = ProgressCallback(
        reporter, config.per_device_batch_size * config.gradient_accumulation_steps * ranks.world_size, mlflow
    )
    stopper = TrainingBudget(
        budget,
        max_seconds=config.max_minutes * 60 if config.max_minutes is not None else None,
        patience=config.early_stopping_patience if budget.evaluates else None,
    )
    reporter.info(describe_budget(config, budget, len(dataset["train"]), ranks.world_size))
    trainer = WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=dataset["train"],
        eval_dataset=dataset["valid"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics_for(label_slots),
        preprocess_logits_for_metrics=probabilities_for(untrained),
        callbacks=[progress],
        class_weight=weights,
        budget=stopper,
    )
    trainer.remove_callback(PrinterCallback)

    try:
        output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except Exception as error:
        if resume_from is not None and not progress.train_began:
            raise CheckpointError(
                f"could not resume from checkpoint {resume_from}: {type(error).__name__}: {error}. "
                f"Fix: delete {resume_from} to start over, or set restart_on_corrupt_checkpoint=true"
            ) from error
        raise

    restored = trainer.restore_best_checkpoint()
    best_step = trainer.state.best_global_step
    if not restored and best_step is not None and best_step != trainer.state.global_step:
        reporter.warning(
            f"the checkpoint of the best valid evaluation (step {best_step}) is gone from {config.checkpoint_dir}; "
            f"the adapter keeps the weights of step {trainer.state.global_step}"
        )
    adapter_state = gather_adapter_state(trainer, config.zero_stage if config.use_deepspeed else 0)
    evaluated = {split: evaluate_split(trainer, dataset[split], label_slots, split) for split in ("valid", "test")}
    reports = {split: report for split, (report, _, _) in evaluated.items()}
    steps_this_launch = trainer.state.global_step - progress.start_step
    train_loss = output.training_loss if steps_this_launch > 0 else last_logged_loss(trainer.state.log_history)
    runtime = float(output.metrics.get("train_runtime", 0.0))
    tokens_this_launch = trainer.state.num_input_tokens_seen - progress.start_tokens
    train = {
        "steps": trainer.state.global_step,
        "steps_this_launch": steps_this_launch,
        "train_loss": float(train_loss),
        "samples_per_second": float(output.metrics.get("train_samples_per_second", 0.0)),
        "train_runtime_seconds": runtime,
        "tokens_per_second": tokens_this_launch / runtime if runtime > 0 else 0.0,
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "peak_memory_gb": peak_memory_gb(),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "num_ranks": ranks.world_size,
        "zero_stage": config.zero_stage,
        "bf16": bf16,
        "resumed_from": str(resume_from) if resume_from else None,
        **budget_outcome(trainer, budget, restored, reports["valid"]["f1_macro"]),
    }
    reporter.info(
        f"training ended at step {train['steps']}/{budget.max_steps} (epoch {train['epochs']:.2f}, "
        f"{train['train_minutes']:.1f} min) by {train['stop_reason']}; best valid macro F1 "
        f"{train['best_valid_f1_macro']:.4f} at step {train['best_step']}" + (" (restored)" if restored else "")
    )
    metrics = {**reports, "train": train, "log_history": trainer.state.log_history}
    if state.is_main_process:
        outputs = EvalOutputs(
            labels={split: labels for split, (_, labels, _) in evaluated.items()},
            probabilities={split: probs for split, (_, _, probs) in evaluated.items()},
        )
        write_adapter(trainer, adapter_state, tokenizer, config, counts, label_slots, metrics, outputs)
        reporter.info(
            f"adapter saved to {config.adapter_dir}: test accuracy={reports['test']['accuracy']:.4f} "
            f"f1_weighted={reports['test']['f1_weighted']:.4f} f1_macro={reports['test']['f1_macro']:.4f}"
        )
        if mlflow is not None:
            mlflow.log(
                {
                    f"{split}_{key}": reports[split][key]
                    for split in reports
                    for key in ("accuracy", "f1_weighted", "f1_macro")
                },
                trainer.state.global_step,
            )
    state.wait_for_everyone()
    return {
        "test_accuracy": reports["test"]["accuracy"],
        "test_f1_weighted": reports["test"]["f1_weighted"],
        "test_f1_macro": reports["test"]["f1_macro"],
        "valid_f1_macro": reports["valid"]["f1_macro"],
        "steps": train["steps"],
        "epochs": train["epochs"],
        "stop_reason": train["stop_reason"],
        "max_steps": train["max_steps"],
        "train_minutes": train["train_minutes"],
        "best_valid_f1_macro": train["best_valid_f1_macro"],
        "best_step": train["best_step"],
        "train_loss": train["train_loss"],
        "samples_per_second": train["samples_per_second"],
        "tokens_per_second": train["tokens_per_second"],
        "peak_memory_gb": train["peak_memory_gb"],
        "wall_seconds": train["wall_seconds"],
        "num_ranks": ranks.world_size,
        "zero_stage": config.zero_stage,
        "bf16": bf16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "attn_implementation": config.attn_implementation,
        "quantization": config.quantization,
        "base_model": config.base_model,
        "adapter_dir": str(config.adapter_dir),
        "resumed_from": train["resumed_from"] or "none",
    }


def main(argv: list[str] | None = None) -> int:
    """Every rank's life: configure, run, report, and leave the process group cleanly."""
    started = time.perf_counter()
    args = parse_args(argv)
    ranks = Ranks.from_env()
    configure_logging(ranks)
    config = load_config(args.config)
    configure_threads(config)
    with open_reporter(ranks) as reporter:
        try:
            metadata = run(config, ranks, reporter, started)
        except AcctaxError as error:
            # Our own checks: deterministic, so the parent must fail the step instead of retrying it.
            if ranks.is_main:
                Path(config.output_dir, REFUSAL_FILE).write_text(f"{type(error).__name__}: {error}", encoding="utf-8")
            raise
        if ranks.is_main:
            reporter.materialize(metadata)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0
