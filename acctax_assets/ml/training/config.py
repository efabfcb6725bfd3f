"""The training run's typed configuration, shared by the Dagster asset (which writes it as JSON) and the
DeepSpeed entry point (which reads it). Validated ranges catch a bad value before a process is launched."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# How attention is computed: PyTorch's fused kernel by default; "eager" for architectures without SDPA support,
# "flash_attention_2" on GPUs with the flash-attn package.
AttentionImplementation = Literal["sdpa", "eager", "flash_attention_2"]
# Base weights loaded quantized by bitsandbytes (QLoRA): "4bit" (NF4) or "8bit"; needs a CUDA GPU.
Quantization = Literal["none", "4bit", "8bit"]
# Why a training ended: its step budget (epochs, or an explicit max_steps), the time cap, or early stopping.
StopReason = Literal["epochs", "max_steps", "time_cap", "early_stopping"]

# Evaluation cost model for the default valid interval. One valid row costs about a third of a train row (forward
# only, no backward; measured on the CPU, benchmarks/README.md, training.py). Periodic evaluations
# may take at most MAX_EVAL_SHARE of the training loop, so with the 80/10/10 split valid is evaluated at most ~2.3
# times per epoch whatever `evals_per_epoch` asks, and an office's large valid split is not evaluated every minute.
EVAL_ROW_COST = 0.35
MAX_EVAL_SHARE = 0.1


def steps_per_epoch(train_rows: int, batch_size: int, gradient_accumulation_steps: int, world_size: int) -> int:
    """Optimizer steps in one pass over `train_rows`, as the Trainer counts them: Accelerate deals whole batches to
    the ranks (the last ones evened out, so a rank's count rounds up), and a step takes `gradient_accumulation_steps`
    of a rank's batches (a last, shorter group is a step too)."""
    if train_rows < 1:
        raise ValueError(f"train_rows must be >= 1, got {train_rows}")
    batches = math.ceil(train_rows / batch_size)
    per_rank = math.ceil(batches / world_size)
    return max(1, math.ceil(per_rank / gradient_accumulation_steps))


@dataclass(frozen=True)
class StepBudget:
    """The step schedule of one training, derived from the config and the split sizes."""

    steps_per_epoch: int
    max_steps: int
    eval_steps: int
    warmup_steps: int
    # What ends training at max_steps: the epoch budget, or a max_steps set explicitly.
    step_reason: StopReason

    @property
    def evaluates(self) -> bool:
        """Periodic valid evaluations happen (a single one at the very end would select nothing)."""
        return self.eval_steps < self.max_steps


class LoraSettings(BaseModel):
    """LoRA hyper-parameters; `target_modules=None` picks sensible modules for the architecture."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=8, ge=1, le=256)
    alpha: int = Field(default=16, ge=1, le=1024)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None
    layers_to_transform: list[int] | None = None


class TrainingConfig(BaseModel):
    """Everything one training launch needs; paths are local directories or files."""

    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(description="Local directory of an AutoModelForSequenceClassification checkpoint")
    dataset_dir: str = Field(description="Tokenized DatasetDict (train/valid/test) saved with save_to_disk")
    # The label slots' file; the key keeps its earlier name: training_config.json is stored in every adapter folder.
    registry_path: str = Field(description="label_registry.json (the label slots) of the dataset")
    output_dir: str = Field(description="Work directory: checkpoints/ and adapter/ are written here")
    # The budget follows the data: epochs of the train split, or minutes of the training loop, whichever ends first.
    # 1.2 epochs of the demo is the schedule of the former 700-step default, which about matched the TF-IDF
    # baseline's macro F1 on the same split (benchmarks/README.md, training.py). The time cap ends it on a machine too
    # busy for that, so the main command stays short; an office's ledgers on a CPU are always time-capped: raise
    # max_minutes.
    num_train_epochs: float = Field(default=1.2, gt=0.0, le=1000.0, description="Passes over the train split")
    max_minutes: float | None = Field(
        default=10.0,
        gt=0.0,
        description="Wall-clock cap of the training loop over all launches of this run (None: no cap); the learning "
        "rate decays to 0 at whichever of the epoch budget and this cap comes first",
    )
    max_steps: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Optimizer steps; replaces the epoch budget when set"
    )
    learning_rate: float = Field(default=5e-3, gt=0.0, le=1.0)
    per_device_batch_size: int = Field(default=32, ge=1, le=4096)
    gradient_accumulation_steps: int = Field(default=1, ge=1, le=1024)
    evals_per_epoch: float = Field(
        default=4.0, gt=0.0, le=1000.0, description="Valid evaluations per epoch, fewer where they would cost too much"
    )
    eval_steps: int | None = Field(
        default=None, ge=1, description="Evaluate on valid every N steps; replaces evals_per_epoch when set"
    )
    early_stopping_patience: int | None = Field(
        default=3, ge=1, description="Stop after N valid evaluations without a better macro F1 (None: never)"
    )
    save_steps: int = Field(default=100, ge=1, description="Checkpoint every N steps (and at every evaluation)")
    warmup_steps: float = Field(default=0.05, ge=0.0, description="Steps, or a fraction of the step budget when < 1")
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)
    class_weight_alpha: float = Field(default=0.5, ge=0.0, le=2.0, description="weights = (1/count)^alpha")
    class_weight_clip: float = Field(default=10.0, ge=1.0, le=1000.0, description="max weight / min weight")
    zero_stage: int = Field(default=2, ge=0, le=3)
    use_deepspeed: bool = Field(
        default=True, description="False: plain HF Trainer in one process (benchmarks, debugging)"
    )
    num_ranks: int = Field(default=1, ge=1, le=1024, description="Processes on this node (GPUs, or CPU ranks)")
    hostfile: str | None = Field(
        default=None,
        description="DeepSpeed hostfile (`host slots=N` per line) for several nodes; its slots replace num_ranks",
    )
    master_addr: str | None = Field(
        default=None, description="Address of the first host of the hostfile (rank 0), reachable from every node"
    )
    bf16: bool | None = Field(default=None, description="None: bf16 on a GPU that supports it, fp32 on CPU")
    gradient_checkpointing: bool = Field(
        default=False, description="Recompute activations in backward: less memory, ~1/3 more compute"
    )
    attn_implementation: AttentionImplementation = Field(
        default="sdpa", description="sdpa (default), eager, or flash_attention_2 (GPU + flash-attn)"
    )
    quantization: Quantization = Field(
        default="none", description="Load the base model in 4 or 8 bits (QLoRA; CUDA GPU + bitsandbytes)"
    )
    seed: int = Field(default=42, ge=0)
    resume: bool = Field(default=True, description="Resume from the newest checkpoint in output_dir")
    restart_on_corrupt_checkpoint: bool = Field(
        default=False, description="Start over when a checkpoint cannot be read"
    )
    torch_threads: int | None = Field(default=None, ge=1, description="Threads per rank; default cores / ranks")
    eval_batch_size: int = Field(default=128, ge=1, le=8192)
    lora: LoraSettings = Field(default_factory=LoraSettings)

    @model_validator(mode="after")
    def _hostfile_needs_master(self) -> TrainingConfig:
        if self.hostfile and not self.master_addr:
            raise ValueError(
                "hostfile is set but master_addr is not: give the address of the hostfile's first host (rank 0)"
            )
        return self

    @model_validator(mode="after")
    def _quantized_weights_are_not_sharded(self) -> TrainingConfig:
        if self.quantization != "none" and self.use_deepspeed and self.zero_stage == 3:
            raise ValueError(
                f"quantization={self.quantization} with zero_stage=3: ZeRO-3 shards the base weights, which bitsandbytes "
                "keeps packed on each GPU. Fix: zero_stage 2 (LoRA's optimizer state is what ZeRO-2 shards anyway)"
            )
        return self

    def step_budget(self, train_rows: int, valid_rows: int, world_size: int) -> StepBudget:
        """Steps for `num_train_epochs` of `train_rows` (or the explicit max_steps), and the valid interval: about
        `evals_per_epoch` per epoch, never so often that evaluating `valid_rows` exceeds MAX_EVAL_SHARE of training."""
        per_epoch = steps_per_epoch(
            train_rows, self.per_device_batch_size, self.gradient_accumulation_steps, world_size
        )
        if self.max_steps is not None:
            max_steps, reason = self.max_steps, "max_steps"
        else:
            max_steps, reason = max(1, math.ceil(self.num_train_epochs * per_epoch)), "epochs"
        if self.eval_steps is not None:
            eval_steps = self.eval_steps
        else:
            samples_per_step = self.per_device_batch_size * self.gradient_accumulation_steps * world_size
            affordable = math.ceil(valid_rows * EVAL_ROW_COST / (MAX_EVAL_SHARE * samples_per_step))
            eval_steps = max(1, math.ceil(per_epoch / self.evals_per_epoch), affordable)
        warmup = int(self.warmup_steps) if self.warmup_steps >= 1 else math.ceil(max_steps * self.warmup_steps)
        return StepBudget(per_epoch, max_steps, eval_steps, warmup, reason)

    @property
    def adapter_dir(self) -> Path:
        return Path(self.output_dir) / "adapter"

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.output_dir) / "checkpoints"

    def fingerprint(self, *extra: str) -> str:
        """Hash of what decides the training result, not where files live (`extra` carries the dataset's
        content hash): same fingerprint, resumable checkpoints."""
        decisive = self.model_dump(
            exclude={
                "output_dir",
                "dataset_dir",
                "registry_path",
                "resume",
                "restart_on_corrupt_checkpoint",
                "torch_threads",
            }
        )
        payload = json.dumps(decisive, sort_keys=True) + "".join(extra)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> TrainingConfig:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
