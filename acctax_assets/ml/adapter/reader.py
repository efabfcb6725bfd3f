"""A stored LoRA adapter directory and how to load it (no Dagster): what downstream assets receive.

The Dagster process imports this module, so torch, transformers and PEFT are imported inside the methods that load
a model, never at module level; the trainer's side of the same folder is `adapter.writer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from acctax_assets.ml.data.label_slots import LabelSlots, check_slots_match
from acctax_assets.ml.evaluation.outputs import CANDIDATE_METRICS_FILE, EVAL_PREDICTIONS_FILE, FittedFolder

# The file every fitted candidate keeps its figures in.
METRICS_FILE = CANDIDATE_METRICS_FILE
TRAINING_CONFIG_FILE = "training_config.json"
TRAINED_CLASSES_FILE = "trained_classes.json"


class AdapterRef(FittedFolder):
    """A published adapter version: PEFT weights + tokenizer + label slots + config + metrics. Its dataset version
    is in its text spec (tokenized_dataset records it there; its metrics are the trainer's)."""

    @property
    def ledger_dataset_version(self) -> str:
        return str(self.text_spec().ledger_dataset_version)

    def trained_classes(self) -> dict[str, Any]:
        """{"class_ids", "codes", "counts"}: the slots that had training rows, and how many."""
        return json.loads((self.path / TRAINED_CLASSES_FILE).read_text(encoding="utf-8"))

    def trained_class_ids(self) -> list[int]:
        return [int(i) for i in self.trained_classes()["class_ids"]]

    def eval_predictions(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / EVAL_PREDICTIONS_FILE)

    def check_label_slots(self, current: LabelSlots) -> None:
        check_slots_match(self.label_slots(), current, f"adapter {self.version}")

    def load_model(self) -> Any:
        """Base model with a head of every label slot + the adapter, in eval mode.

        AutoPeftModelForSequenceClassification alone would build a 2-label head and refuse the weights; the
        head size and label names come from the label slots stored with the adapter.
        """
        from peft import PeftConfig, PeftModel
        from transformers import AutoModelForSequenceClassification

        label_slots = self.label_slots()
        base = AutoModelForSequenceClassification.from_pretrained(
            PeftConfig.from_pretrained(str(self.path)).base_model_name_or_path,
            num_labels=label_slots.max_classes,
            id2label=label_slots.id2label,
            label2id=label_slots.label2id,
            # As in training: a base already fine-tuned for another label set has a head of another size; the
            # adapter's own head replaces it.
            ignore_mismatched_sizes=True,
            local_files_only=True,
        )
        tokenizer = self.load_tokenizer()
        if base.config.pad_token_id is None:
            base.config.pad_token_id = tokenizer.pad_token_id
        # The saved tokenizer may hold words added for training: give them rows as the trainer did (their trained
        # values come with the adapter's trainable tokens).
        grow_input_embeddings(base, len(tokenizer))
        return PeftModel.from_pretrained(base, str(self.path)).eval()

    def load_tokenizer(self) -> Any:
        """The tokenizer the adapter was trained with (base vocabulary plus any added words)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)


def grow_input_embeddings(model: Any, vocabulary_size: int) -> None:
    """Input-embedding rows for every token of a tokenizer with added words (any architecture, through
    `get_input_embeddings()`); a decoder's spare rows beyond its tokenizer are reused, never cut away. The trainer
    and `load_model` both call this, so the adapter reloads onto the shape it was trained on."""
    if vocabulary_size > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(vocabulary_size, mean_resizing=False)


@dataclass(frozen=True)
class Comparison:
    passed: bool
    reason: str


def compare_with_baseline(
    adapter_test: dict[str, Any], baseline_metrics: dict[str, Any], adapter_dataset_version: str | None
) -> Comparison:
    """Adapter vs baseline test macro F1; only meaningful when both were scored on the same ledger_dataset."""
    baseline_version = baseline_metrics.get("dataset_version")
    if adapter_dataset_version != baseline_version:
        return Comparison(
            False,
            (
                f"not comparable: the adapter was trained on ledger_dataset {adapter_dataset_version}, the baseline on "
                f"{baseline_version}. Fix: materialize ledger_dataset, tokenized_dataset, account_classifier and baseline_classifier together"
            ),
        )
    ours, theirs = float(adapter_test["f1_macro"]), float(baseline_metrics["test"]["f1_macro"])
    if ours > theirs:
        return Comparison(True, f"adapter test macro F1 {ours:.4f} beats the baseline's {theirs:.4f}")
    return Comparison(
        False,
        (
            f"adapter test macro F1 {ours:.4f} does not beat the TF-IDF + logistic regression baseline ({theirs:.4f}). "
            "served_classifier serves whichever candidate is best on valid; to make the adapter win, train longer or on a stronger base model"
        ),
    )
