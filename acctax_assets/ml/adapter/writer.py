"""Writing an adapter folder at the end of training: the counterpart of `adapter.reader`, kept beside it so the
files one side writes are the files the other reads.

It imports torch (through the Trainer and safetensors), so only the training process imports it; the Dagster
process reads adapters through `AdapterRef` alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import PreTrainedTokenizerBase, Trainer

from acctax_assets.atomic_writes import replace_directory
from acctax_assets.ml.adapter.reader import METRICS_FILE, TRAINED_CLASSES_FILE, TRAINING_CONFIG_FILE
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import TEXT_SPEC_FILE
from acctax_assets.ml.evaluation.outputs import EvalOutputs
from acctax_assets.ml.training.config import TrainingConfig
from acctax_assets.ml.training.errors import TrainingError


def gather_adapter_state(trainer: Trainer, zero_stage: int) -> dict[str, torch.Tensor] | None:
    """Under ZeRO-3 the LoRA weights are sharded: gather them on every rank (collective). Else read in place."""
    trainer.accelerator.wait_for_everyone()
    if zero_stage == 3:
        return trainer.model_wrapped._zero3_consolidated_16bit_state_dict(exclude_frozen_parameters=True)
    return None


def write_adapter(
    trainer: Trainer,
    state_dict: dict[str, torch.Tensor] | None,
    tokenizer: PreTrainedTokenizerBase,
    config: TrainingConfig,
    counts: np.ndarray,
    label_slots: LabelSlots,
    metrics: dict[str, Any],
    eval_outputs: EvalOutputs,
) -> None:
    """Main process only: the adapter folder is built beside the old one and swapped in, never seen half-written."""
    trained_ids = [int(i) for i in np.flatnonzero(counts)]

    def build(staging: Path) -> None:
        # The added tokens' rows travel as trainable-token weights; the resized embedding matrix itself is not saved.
        trainer.model.save_pretrained(str(staging), state_dict=state_dict, save_embedding_layers=False)
        weights_file = staging / "adapter_model.safetensors"
        saved = load_file(weights_file) if weights_file.is_file() else {}
        if not saved or any(tensor.numel() == 0 for tensor in saved.values()):
            # ZeRO-3 can hand PEFT still-partitioned (empty) parameters; such an adapter must never replace a good one.
            raise TrainingError(
                f"the adapter written for {config.adapter_dir} is empty or has empty tensors; not publishing it"
            )
        tokenizer.save_pretrained(str(staging))
        shutil.copyfile(config.registry_path, staging / LABEL_SLOTS_FILE)
        config.write(staging / TRAINING_CONFIG_FILE)
        shutil.copyfile(Path(config.dataset_dir) / TEXT_SPEC_FILE, staging / TEXT_SPEC_FILE)
        (staging / TRAINED_CLASSES_FILE).write_text(
            json.dumps(
                {
                    "class_ids": trained_ids,
                    "codes": [label_slots.codes[i] for i in trained_ids],
                    "counts": [int(counts[i]) for i in trained_ids],
                },
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
        (staging / METRICS_FILE).write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
        eval_outputs.save(staging)

    replace_directory(config.adapter_dir, build)
