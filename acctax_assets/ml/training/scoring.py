"""Scoring during and after training: the Trainer's periodic metrics, the masked class probabilities it keeps per
row, and the final per-split reports. Apart from the loop so periodic and final scores share one report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import EvalPrediction, Trainer

from acctax_assets.ml.adapter.masking import mask_untrained
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.metrics import classification_report


def compute_metrics_for(label_slots: LabelSlots) -> Callable[[EvalPrediction], dict[str, float]]:
    """The Trainer's periodic valid scores, from the same report as the final evaluation."""

    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        report = classification_report(prediction.label_ids, prediction.predictions.argmax(axis=1), label_slots)
        return {key: report[key] for key in ("accuracy", "f1_weighted", "f1_macro")}

    return compute_metrics


def probabilities_for(
    untrained: torch.Tensor,
) -> Callable[[torch.Tensor | tuple[torch.Tensor, ...], torch.Tensor], torch.Tensor]:
    """Class probabilities with untrained slots masked (they get 0), kept per row so the ensemble can mix them."""

    def probabilities(logits: torch.Tensor | tuple[torch.Tensor, ...], labels: torch.Tensor) -> torch.Tensor:
        scores = logits[0] if isinstance(logits, tuple) else logits
        return torch.softmax(mask_untrained(scores.float(), untrained), dim=-1)

    return probabilities


def evaluate_split(
    trainer: Trainer, dataset: Dataset, label_slots: LabelSlots, split: str
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Predictions on one split (a collective: every rank calls it): the report, the labels and each row's class
    probabilities (calibration, the review threshold and the ensemble are derived from these)."""
    output = trainer.predict(dataset, metric_key_prefix=split)
    probabilities = np.asarray(output.predictions, dtype=np.float32)
    labels = output.label_ids.astype(np.int64)
    report = classification_report(labels, probabilities.argmax(axis=1), label_slots)
    report["loss"] = float(output.metrics[f"{split}_loss"])
    return report, labels, probabilities
