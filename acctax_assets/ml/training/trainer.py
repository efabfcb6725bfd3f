"""The Trainer and its settings: class-weighted loss with untrained slots masked, the TrainingArguments and the
DeepSpeed ZeRO config derived from one TrainingConfig, so the two cannot disagree."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments

from acctax_assets.ml.inference import mask_untrained
from acctax_assets.ml.training_config import TrainingConfig


class WeightedLossTrainer(Trainer):
    """Class-weighted cross-entropy; classes the model cannot learn are masked out of loss and predictions."""

    # compute_loss returns a per-batch mean, so the Trainer must still divide it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, class_weight: torch.Tensor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.class_weight = class_weight
        self.untrained = class_weight == 0

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
        # 20 on every relaunch); a finished run must resume to evaluation and saving only.
        if self.state.global_step >= self.state.max_steps:
            self.control.should_training_stop = True
            return
        super()._run_epoch(*args, **kwargs)


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


def training_arguments(config: TrainingConfig, bf16: bool) -> TrainingArguments:
    """Every Trainer setting from the TrainingConfig; building them also starts the process group."""
    return TrainingArguments(
        output_dir=str(config.checkpoint_dir),
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_steps,
        per_device_train_batch_size=config.per_device_batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        # The final valid/test report follows training anyway: an eval scheduled at the last step would repeat it.
        eval_strategy="steps" if config.eval_steps < config.max_steps else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_strategy="steps",
        logging_steps=max(1, min(50, config.max_steps // 20)),
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
