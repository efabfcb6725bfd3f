"""The training budget: epochs become steps as the Trainer counts them, the valid interval follows its cost, and
training ends at the first of the step budget, the time cap and early stopping on valid macro F1, with the best
valid weights published and the reason reported; a relaunch of an ended run only evaluates and saves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from acctax_assets.ml.training.config import EVAL_ROW_COST, MAX_EVAL_SHARE, StepBudget, steps_per_epoch
from acctax_assets_tests.support.training_runs import build_tiny_dataset, config_for, launch, tiny_bert

# --- epochs to steps -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "batch", "accumulation", "ranks"),
    [(210, 16, 1, 1), (19_200, 32, 1, 1), (1000, 16, 1, 2), (1001, 16, 1, 2), (1000, 7, 3, 3), (5, 32, 4, 2)],
)
def test_steps_per_epoch_count_the_batches_accelerate_deals_each_rank(
    rows: int, batch: int, accumulation: int, ranks: int
) -> None:
    """The count the Trainer uses: its prepared dataloader's length per rank, in steps of `accumulation` batches."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler, SequentialSampler

    batches = BatchSampler(SequentialSampler(range(rows)), batch_size=batch, drop_last=False)
    per_rank = {len(BatchSamplerShard(batches, num_processes=ranks, process_index=rank)) for rank in range(ranks)}
    assert len(per_rank) == 1, "every rank runs the same number of batches"
    expected = max(1, -(-per_rank.pop() // accumulation))
    assert steps_per_epoch(rows, batch, accumulation, ranks) == expected


def test_the_epoch_budget_follows_the_train_split(tmp_path: Path) -> None:
    config = config_for(tmp_path, num_train_epochs=1.2, per_device_batch_size=32)
    assert config.max_steps is None and config.max_minutes is not None
    demo = config.step_budget(train_rows=19_200, valid_rows=2_400, world_size=1)
    assert (demo.steps_per_epoch, demo.max_steps, demo.step_reason) == (600, 720, "epochs")
    assert demo.warmup_steps == 36, "the warmup fraction is of the step budget"
    office = config.step_budget(train_rows=2_800_000, valid_rows=350_000, world_size=1)
    assert office.max_steps == 105_000, "the same config gives an office's ledgers the same epochs"
    two_ranks = config.step_budget(train_rows=19_200, valid_rows=2_400, world_size=2)
    assert two_ranks.steps_per_epoch == 300 and two_ranks.max_steps == 360
    accumulated = config_for(tmp_path, num_train_epochs=2, gradient_accumulation_steps=4).step_budget(1000, 100, 1)
    assert (accumulated.steps_per_epoch, accumulated.max_steps) == (8, 16)


def test_an_explicit_max_steps_replaces_the_epoch_budget(tmp_path: Path) -> None:
    budget = config_for(tmp_path, max_steps=20, warmup_steps=3).step_budget(train_rows=210, valid_rows=45, world_size=1)
    assert (budget.max_steps, budget.step_reason, budget.warmup_steps) == (20, "max_steps", 3)
    with pytest.raises(ValidationError, match="max_steps"):
        config_for(tmp_path, max_steps=0)
    with pytest.raises(ValidationError, match="num_train_epochs"):
        config_for(tmp_path, num_train_epochs=0)
    with pytest.raises(ValidationError, match="max_minutes"):
        config_for(tmp_path, max_minutes=0)


def test_valid_is_evaluated_a_few_times_per_epoch_but_never_beyond_its_cost(tmp_path: Path) -> None:
    config = config_for(tmp_path, evals_per_epoch=4, per_device_batch_size=32)
    small_valid = config.step_budget(train_rows=19_200, valid_rows=100, world_size=1)
    assert small_valid.eval_steps == 150 and small_valid.evaluates, "4 evaluations per epoch of 600 steps"
    demo = config.step_budget(train_rows=19_200, valid_rows=2_400, world_size=1)
    evaluated = 2_400 * EVAL_ROW_COST
    trained = demo.eval_steps * 32
    assert evaluated / trained <= MAX_EVAL_SHARE < evaluated / (trained - 32), "the cost bound decides, tightly"
    assert demo.eval_steps > 150
    explicit = config_for(tmp_path, eval_steps=7).step_budget(train_rows=19_200, valid_rows=2_400, world_size=1)
    assert explicit.eval_steps == 7
    once = config_for(tmp_path, max_steps=10, eval_steps=10).step_budget(train_rows=210, valid_rows=45, world_size=1)
    assert not once.evaluates, "an evaluation only at the last step selects nothing"


def test_max_minutes_decides_the_result_so_it_keys_the_checkpoints(tmp_path: Path) -> None:
    plain = config_for(tmp_path)
    for overrides in ({"max_minutes": 3.0}, {"num_train_epochs": 2.0}, {"early_stopping_patience": None}):
        assert config_for(tmp_path, **overrides).fingerprint("data") != plain.fingerprint("data"), overrides


# --- the budget callback -------------------------------------------------------------------------------------

BUDGET = StepBudget(steps_per_epoch=10, max_steps=100, eval_steps=10, warmup_steps=5, step_reason="epochs")


def started(budget: object, state: object, control: object) -> None:
    from transformers import TrainingArguments

    budget.on_train_begin(TrainingArguments(output_dir="unused", use_cpu=True), state, control)


def fresh(callback: object) -> tuple[object, object, object]:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(output_dir="unused", use_cpu=True, eval_strategy="steps", eval_steps=10)
    state = TrainerState(stateful_callbacks=[callback])
    state.max_steps = BUDGET.max_steps
    control = TrainerControl()
    callback.on_train_begin(args, state, control)
    return args, state, control


def test_the_time_cap_stops_like_a_normal_end() -> None:
    from acctax_assets.ml.training.budget import TrainingBudget

    budget = TrainingBudget(BUDGET, max_seconds=0.01, patience=None)
    args, state, control = fresh(budget)
    state.global_step = 3
    budget.on_step_end(args, state, control)
    assert budget.stop_reason is None and not control.should_training_stop
    time.sleep(0.02)
    budget.on_step_end(args, state, control)
    assert budget.stop_reason == "time_cap"
    assert control.should_training_stop and control.should_evaluate and control.should_save


def test_the_step_budget_ends_with_its_reason_and_every_evaluation_is_saved() -> None:
    from acctax_assets.ml.training.budget import TrainingBudget

    budget = TrainingBudget(BUDGET, max_seconds=3600, patience=None)
    args, state, control = fresh(budget)
    state.global_step = 10
    control.should_evaluate = True
    budget.on_step_end(args, state, control)
    assert control.should_save and budget.stop_reason is None, "the best evaluation's checkpoint must exist"
    state.global_step = 100
    budget.on_step_end(args, state, control)
    assert budget.stop_reason == "epochs"


def evaluate(budget: object, args: object, state: object, control: object, step: int, score: float) -> None:
    """What the Trainer does at an evaluation: log, call back, then compare with the best so far."""
    state.global_step = step
    state.log_history.append({"eval_f1_macro": score, "step": step})
    budget.on_evaluate(args, state, control, metrics={"eval_f1_macro": score})
    if state.best_metric is None or score > state.best_metric:
        state.best_metric, state.best_global_step = score, step


def test_early_stopping_after_patience_evaluations_without_a_better_macro_f1() -> None:
    from acctax_assets.ml.training.budget import TrainingBudget

    budget = TrainingBudget(BUDGET, max_seconds=None, patience=2)
    args, state, control = fresh(budget)
    for step, score in ((10, 0.5), (20, 0.7), (30, 0.7), (40, 0.8), (50, 0.6)):
        evaluate(budget, args, state, control, step, score)
        assert not control.should_training_stop, f"step {step}: an equal score is one miss, a better one resets"
    evaluate(budget, args, state, control, 60, 0.79)
    assert control.should_training_stop and budget.stop_reason == "early_stopping"
    assert state.best_global_step == 40


def test_a_relaunch_continues_the_spent_budget_and_an_ended_run_does_not_train() -> None:
    from transformers import TrainerControl, TrainerState

    from acctax_assets.ml.training.budget import TrainingBudget

    first = TrainingBudget(BUDGET, max_seconds=600, patience=2)
    first.trained_seconds = 120.0
    saved = json.loads(json.dumps(TrainerState(stateful_callbacks=[first]).stateful_callbacks))
    relaunched = TrainingBudget(BUDGET, max_seconds=600, patience=2)
    state = TrainerState(stateful_callbacks=saved, global_step=40, max_steps=100)
    control = TrainerControl()
    started(relaunched, state, control)
    assert relaunched.trained_seconds == 120.0 and not control.should_training_stop
    assert relaunched.lr_factor(10) == pytest.approx(0.8 / 0.95), "a fifth of the time spent: time is the nearer end"

    first.stop_reason = "early_stopping"
    saved = json.loads(json.dumps(TrainerState(stateful_callbacks=[first]).stateful_callbacks))
    ended = TrainingBudget(BUDGET, max_seconds=600, patience=2)
    control = TrainerControl()
    started(ended, TrainerState(stateful_callbacks=saved, global_step=40, max_steps=100), control)
    assert ended.stop_reason == "early_stopping" and control.should_training_stop

    spent = TrainingBudget(BUDGET, max_seconds=60, patience=2)
    control = TrainerControl()
    first.stop_reason = None
    saved = json.loads(json.dumps(TrainerState(stateful_callbacks=[first]).stateful_callbacks))
    started(spent, TrainerState(stateful_callbacks=saved, global_step=40, max_steps=100), control)
    assert spent.stop_reason == "time_cap" and control.should_training_stop, "a lowered cap already spent"


def test_the_learning_rate_decays_to_zero_at_the_nearer_of_steps_and_time() -> None:
    import torch
    from transformers import get_linear_schedule_with_warmup

    from acctax_assets.ml.training.budget import TrainingBudget

    budget = TrainingBudget(BUDGET, max_seconds=1000, patience=None)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    linear = get_linear_schedule_with_warmup(optimizer, BUDGET.warmup_steps, BUDGET.max_steps).lr_lambdas[0]
    for step in (0, 1, 4, 5, 6, 50, 99, 100):
        assert budget.lr_factor(step) == pytest.approx(linear(step)), "far from the cap: transformers' linear schedule"
    budget.trained_seconds = 500
    assert budget.lr_factor(10) == pytest.approx(0.5 / 0.95), "half the time spent at step 10: half-way down"
    budget.trained_seconds = 25
    assert budget.lr_factor(1) == pytest.approx(0.5), "warmup is the first 5 % of the time when time runs out first"
    budget.trained_seconds = 1000
    assert budget.lr_factor(10) == 0.0


# --- real DeepSpeed runs -------------------------------------------------------------------------------------


def adapter_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "adapter_model.safetensors")


def same_weights(left: dict, right: dict) -> bool:
    import torch

    return left.keys() == right.keys() and all(torch.equal(left[key], right[key]) for key in left)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny dataset (210 train / 45 valid / 45 test rows) and a tiny BERT base, shared by the runs below."""
    root = tmp_path_factory.mktemp("budget")
    build_tiny_dataset(root)
    tiny_bert(root / "model")
    return root


def run_config(root: Path, name: str, **overrides: object) -> object:
    values: dict[str, object] = {
        "output_dir": str(root / name),
        "base_model": str(root / "model"),
        "per_device_batch_size": 16,
        "zero_stage": 2,
        "num_ranks": 1,
        "torch_threads": 1,
        "save_steps": 1000,
    }
    return config_for(root, **{**values, **overrides})


@pytest.mark.slow
def test_an_epoch_budget_trains_its_epochs_and_says_so(tiny_run: Path) -> None:
    config = run_config(tiny_run, "epochs", num_train_epochs=1.5, max_minutes=None, learning_rate=5e-3)
    result = launch(config, tiny_run / "epochs.json")
    assert result.returncode == 0, result.stderr[-4000:]
    train = json.loads((config.adapter_dir / "metrics.json").read_text())["train"]
    assert (train["steps_per_epoch"], train["max_steps"], train["steps"]) == (14, 21, 21), "210 rows / 16 = 14 a epoch"
    assert train["epochs"] == pytest.approx(1.5, abs=0.01), "the Trainer counted the same epochs"
    assert train["stop_reason"] == "epochs"
    assert "budget: 1.5 epochs = 21 steps (14 steps of 16 rows per epoch of 210 train rows)" in result.stderr
    assert "by epochs; best valid macro F1" in result.stderr


@pytest.mark.slow
def test_early_stopping_publishes_the_best_valid_weights_and_a_relaunch_keeps_them(tiny_run: Path) -> None:
    # A plateau: a random tiny base at a learning rate that barely moves it scores the same macro F1 every time.
    config = run_config(
        tiny_run, "early", num_train_epochs=20, eval_steps=3, early_stopping_patience=2, learning_rate=1e-6
    )
    first = launch(config, tiny_run / "early.json")
    assert first.returncode == 0, first.stderr[-4000:]
    metrics = json.loads((config.adapter_dir / "metrics.json").read_text())
    train = metrics["train"]
    assert train["stop_reason"] == "early_stopping" and train["steps"] < train["max_steps"]
    scores = [(entry["step"], entry["eval_f1_macro"]) for entry in metrics["log_history"] if "eval_f1_macro" in entry]
    best_step, best = max(scores, key=lambda item: (item[1], -item[0]))
    assert (train["best_step"], train["best_valid_f1_macro"]) == (best_step, pytest.approx(best))
    assert len([step for step, _ in scores if step > best_step]) == 2, "stopped after patience=2 misses"
    assert train["best_step"] < train["steps"] and train["restored_best"]
    assert metrics["valid"]["f1_macro"] == pytest.approx(best), "the published weights score the best valid F1"
    published = adapter_weights(config.adapter_dir)
    assert same_weights(published, adapter_weights(config.checkpoint_dir / f"checkpoint-{best_step}"))
    assert not same_weights(published, adapter_weights(config.checkpoint_dir / f"checkpoint-{train['steps']}"))

    second = launch(config, tiny_run / "early.json")
    assert second.returncode == 0, second.stderr[-4000:]
    resumed = json.loads((config.adapter_dir / "metrics.json").read_text())["train"]
    assert resumed["resumed_from"].endswith(f"checkpoint-{train['steps']}") and resumed["steps_this_launch"] == 0
    assert resumed["stop_reason"] == "early_stopping" and resumed["best_step"] == best_step
    assert same_weights(adapter_weights(config.adapter_dir), published)


@pytest.mark.slow
def test_the_time_cap_ends_training_gracefully_and_a_relaunch_only_evaluates(tiny_run: Path) -> None:
    config = run_config(
        tiny_run,
        "capped",
        num_train_epochs=500,
        max_minutes=0.1,
        eval_steps=20,
        early_stopping_patience=None,
        learning_rate=5e-3,
    )
    first = launch(config, tiny_run / "capped.json")
    assert first.returncode == 0, first.stderr[-4000:]
    metrics = json.loads((config.adapter_dir / "metrics.json").read_text())
    train = metrics["train"]
    assert train["stop_reason"] == "time_cap" and 0 < train["steps"] < train["max_steps"] == 7000
    assert train["train_minutes"] >= 0.1 and train["epochs"] < 500
    evaluated = [entry["step"] for entry in metrics["log_history"] if "eval_f1_macro" in entry]
    assert evaluated[-1] == train["steps"], "the stopping step is evaluated like a normal end"
    assert (config.checkpoint_dir / f"checkpoint-{train['steps']}" / "trainer_state.json").is_file(), "and saved"
    assert metrics["valid"]["f1_macro"] == pytest.approx(train["best_valid_f1_macro"])
    assert "by time_cap; best valid macro F1" in first.stderr

    second = launch(config, tiny_run / "capped.json")
    assert second.returncode == 0, second.stderr[-4000:]
    resumed = json.loads((config.adapter_dir / "metrics.json").read_text())["train"]
    assert resumed["steps_this_launch"] == 0 and resumed["steps"] == train["steps"]
    assert resumed["stop_reason"] == "time_cap" and resumed["best_step"] == train["best_step"]


@pytest.mark.slow
def test_two_ranks_stop_at_the_same_step_and_restore_the_best_weights(tiny_run: Path) -> None:
    """ZeRO-2 shards over two ranks: rank 0's clock decides for both, and both load the best checkpoint."""
    config = run_config(
        tiny_run,
        "two_ranks",
        num_ranks=2,
        per_device_batch_size=8,
        num_train_epochs=500,
        max_minutes=0.15,
        eval_steps=5,
        early_stopping_patience=None,
        learning_rate=1e-6,
    )
    result = launch(config, tiny_run / "two_ranks.json")
    assert result.returncode == 0, result.stderr[-4000:]
    metrics = json.loads((config.adapter_dir / "metrics.json").read_text())
    train = metrics["train"]
    assert train["num_ranks"] == 2 and train["steps_per_epoch"] == 14
    assert train["stop_reason"] == "time_cap" and train["restored_best"] and train["best_step"] < train["steps"]
    assert metrics["valid"]["f1_macro"] == pytest.approx(train["best_valid_f1_macro"])
    best = config.checkpoint_dir / f"checkpoint-{train['best_step']}"
    assert same_weights(adapter_weights(config.adapter_dir), adapter_weights(best))
