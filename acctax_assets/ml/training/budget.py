"""When training ends: its step budget (epochs, or an explicit max_steps), the time cap, or early stopping on valid
macro F1, whichever comes first; and the learning rate that decays to 0 at whichever of the step budget and the
time cap comes first. Apart from the loop because it is the one place that knows why training stopped.

Every rank must take the same decision at the same step, else one waits in a collective for a peer that left: the
clock is rank 0's, broadcast after every step, and early stopping reads metrics every rank computed alike. The
spent time and the reason travel in each checkpoint's trainer_state.json, so a relaunch honours the budget already
spent and a finished run resumes to evaluation and saving only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import IntervalStrategy

from acctax_assets.ml.training.config import StepBudget, StopReason

# The score that selects the best checkpoint and stops early; the Trainer logs compute_metrics' keys with `eval_`.
BEST_METRIC = "f1_macro"
BEST_METRIC_KEY = f"eval_{BEST_METRIC}"


class TrainingBudget(TrainerCallback, ExportableState):
    """Stops training at the first of the step budget, the time cap and early stopping, and records why."""

    def __init__(self, budget: StepBudget, max_seconds: float | None, patience: int | None) -> None:
        self.budget = budget
        self.max_seconds = max_seconds
        self.patience = patience
        self.trained_seconds = 0.0
        self.stop_reason: StopReason | None = None
        self._earlier_seconds = 0.0
        self._launch_started = time.monotonic()

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps; read back in `on_train_begin` (the Trainer's own restore would rebuild the
        callback from these args, which cannot hold the budget)."""
        return {
            "args": {"max_seconds": self.max_seconds, "patience": self.patience},
            "attributes": {"trained_seconds": self.trained_seconds, "stop_reason": self.stop_reason},
        }

    def time_is_up(self) -> bool:
        return self.max_seconds is not None and self.trained_seconds >= self.max_seconds

    def lr_factor(self, step: int) -> float:
        """Linear warmup then linear decay, over the progress of whichever budget runs out first (steps or time):
        transformers' linear schedule while the time cap is far; a time-capped run (an office's ledgers on a CPU)
        warms up in the first share of its minutes and still ends at a learning rate near 0."""
        progress = step / self.budget.max_steps
        if self.max_seconds is not None:
            progress = max(progress, self.trained_seconds / self.max_seconds)
        warmup = self.budget.warmup_steps / self.budget.max_steps
        if progress < warmup:
            return progress / warmup
        return min(1.0, max(0.0, (1.0 - progress) / max(1.0 - warmup, 1e-9)))

    def lr_lambda(self) -> Callable[[int], float]:
        """`lr_factor` as a plain function: LambdaLR checkpoints the attributes of callable objects, not functions."""

        def factor(step: int) -> float:
            return self.lr_factor(step)

        return factor

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        saved = state.stateful_callbacks.get(type(self).__name__, {})
        attributes = saved.get("attributes", {}) if isinstance(saved, dict) else {}
        self._earlier_seconds = self.trained_seconds = float(attributes.get("trained_seconds", 0.0))
        self.stop_reason = attributes.get("stop_reason")
        self._launch_started = time.monotonic()
        if self.stop_reason is None and state.global_step >= state.max_steps:
            self.stop_reason = self.budget.step_reason
        if self.stop_reason is None and self.time_is_up():
            self.stop_reason = "time_cap"
        if self.stop_reason is not None:
            control.should_training_stop = True

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self.trained_seconds = self._earlier_seconds + _shared_seconds(time.monotonic() - self._launch_started, args)
        if self.stop_reason is None and state.global_step >= state.max_steps:
            self.stop_reason = self.budget.step_reason  # DefaultFlowCallback stops, evaluates and saves
        elif self.stop_reason is None and self.time_is_up():
            self.stop_reason = "time_cap"
            control.should_training_stop = True
            control.should_save = True
            control.should_evaluate = args.eval_strategy != IntervalStrategy.NO
        if control.should_evaluate:
            # Every evaluated step keeps its checkpoint, so the best one can be restored at the end.
            control.should_save = True

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        # Called before the Trainer compares this score with state.best_metric, so best_* still name the previous best.
        if self.patience is None or not metrics or BEST_METRIC_KEY not in metrics or state.best_metric is None:
            return
        if metrics[BEST_METRIC_KEY] > state.best_metric:
            return
        best_step = state.best_global_step or 0
        since_best = sum(1 for entry in state.log_history if BEST_METRIC_KEY in entry and entry["step"] > best_step)
        if since_best >= self.patience and self.stop_reason is None:
            self.stop_reason = "early_stopping"
            control.should_training_stop = True


def _shared_seconds(seconds: float, args: TrainingArguments) -> float:
    """Rank 0's clock on every rank (a broadcast): ranks that read their own clocks could stop a step apart."""
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return seconds
    if torch.distributed.get_world_size() == 1:
        return seconds
    shared = torch.tensor([seconds], dtype=torch.float64, device=args.device)
    torch.distributed.broadcast(shared, src=0)
    return float(shared.item())
