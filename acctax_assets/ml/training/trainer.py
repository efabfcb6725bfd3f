"""The Trainer and its settings: class-weighted loss with untrained slots masked, a learning rate that follows the
training budget, the best valid checkpoint restored at the end, and the TrainingArguments and DeepSpeed ZeRO config
derived from one TrainingConfig and its step budget, so they cannot disagree."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR, LRScheduler
from transformers import Trainer, TrainingArguments

from acctax_assets.ml.adapter.masking import mask_untrained
from acctax_assets.ml.training.budget import BEST_METRIC, TrainingBudget
from acctax_assets.ml.training.config import StepBudget, TrainingConfig


class WeightedLossTrainer(Trainer):
    """Class-weighted cross-entropy; classes the model cannot learn are masked out of loss and predictions."""

    # compute_loss returns a per-batch mean, so the Trainer must still divide it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, class_weight: torch.Tensor, budget: TrainingBudget, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.class_weight = class_weight
        self.untrained = class_weight == 0
        self.budget = budget
        self.add_callback(budget)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        labels = inputs["labels"]
        outputs = model(**{key: value for key, value in inputs.items() if key != "labels"})
        logits = mask_untrained(outputs["logits"], self.untrained)
        outputs["logits"] = logits
        weight = self.class_weight.to(logits.device)
        per_row = F.cross_entropy(logits.float(), labels, reduction="none")
        row_weight = weight[labels]
        # Weighted mean; a batch made only of untrained classes (possible in eval) contributes 0, not NaN.
        loss = (per_row * row_weight).sum() / row_weight.sum().clamp_min(torch.finfo(torch.float32).tiny)
        return (loss, outputs) if return_outputs else loss

    def _run_epoch(self, *args: Any, **kwargs: Any) -> None:
        # transformers 5 runs one more step after resuming from a checkpoint already at max_steps (checkpoint-21 of
        # 20 on every relaunch); a finished run (step budget, time cap or early stopping, said by the budget
        # callback at train begin) must resume to evaluation and saving only.
        if self.state.global_step >= self.state.max_steps or self.control.should_training_stop:
            self.control.should_training_stop = True
            return
        super()._run_epoch(*args, **kwargs)

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None) -> LRScheduler:
        """The budget's schedule (transformers' linear one while the time cap is far): warmup, then decay to 0 at
        whichever of the step budget and the time cap comes first."""
        if self.lr_scheduler is None:
            self.lr_scheduler = LambdaLR(optimizer or self.optimizer, self.budget.lr_lambda())
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def restore_best_checkpoint(self) -> bool:
        """Load the weights of the best valid evaluation when training went on past it; a collective (DeepSpeed
        loads its checkpoint on every rank). False when the final weights are the best, or nothing was evaluated."""
        if self.state.best_model_checkpoint is None or self.state.best_global_step == self.state.global_step:
            return False
        # The Trainer's own loader: the DeepSpeed engine's checkpoint under DeepSpeed, the PEFT adapter otherwise.
        self._load_best_model()
        return True


def deepspeed_config(zero_stage: int, bf16: bool) -> dict[str, Any]:
    """ZeRO config; "auto" values are filled from TrainingArguments so the two cannot disagree."""
    zero: dict[str, Any] = {"stage": zero_stage}
    if zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "train_batch_size": "auto",
        "gradient_clipping": "auto",
        "zero_optimization": zero,
        "bf16": {"enabled": bf16},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


def use_bf16(config: TrainingConfig) -> bool:
    """bf16 as configured, else wherever the GPU supports it (CPU ranks train in fp32)."""
    if config.bf16 is not None:
        return config.bf16
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def training_arguments(config: TrainingConfig, budget: StepBudget, bf16: bool) -> TrainingArguments:
    """Every Trainer setting from the TrainingConfig and its step budget; building them also starts the process
    group."""
    return TrainingArguments(
        output_dir=str(config.checkpoint_dir),
        max_steps=budget.max_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=budget.warmup_steps,
        per_device_train_batch_size=config.per_device_batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        # Without periodic evaluations there is nothing to select: the final valid/test report follows training anyway.
        eval_strategy="steps" if budget.evaluates else "no",
        eval_steps=budget.eval_steps,
        # The Trainer tracks the best valid score and keeps its checkpoint out of the rotation; the budget callback
        # stops early and restore_best_checkpoint loads it (load_best_model_at_end would tie saves to evaluations).
        metric_for_best_model=BEST_METRIC if budget.evaluates else None,
        greater_is_better=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_strategy="steps",
        logging_steps=max(1, min(50, budget.max_steps // 20)),
        seed=config.seed,
        bf16=bf16,
        # Transformers 5 names it activation checkpointing (gradient_checkpointing is its deprecated alias). Non-reentrant
        # checkpointing needs no input gradients, so frozen embeddings under LoRA work as they are.
        activation_checkpointing=config.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        include_num_input_tokens_seen="non_padding",
        use_cpu=not torch.cuda.is_available(),
        deepspeed=deepspeed_config(config.zero_stage, bf16) if config.use_deepspeed else None,
        # Each rank's loss is its own batch mean; averaging token counts across ranks doubled it with 2 ranks.
        average_tokens_across_devices=False,
        report_to="none",
        disable_tqdm=True,
        log_level="warning",
        dataloader_num_workers=0,
    )
