"""A stored LoRA adapter directory and how to load it (no Dagster): what downstream assets receive."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from acctax_assets.atomic_files import write_text_atomically
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.eval_outputs import EVAL_PREDICTIONS_FILE
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.serialization import TextSpec

METRICS_FILE = "metrics.json"
TRAINING_CONFIG_FILE = "training_config.json"
TRAINED_CLASSES_FILE = "trained_classes.json"


class RegistryMismatchError(AcctaxError):
    """The adapter's label registry is not a prefix of the current one: its class ids mean other codes now."""


@dataclass(frozen=True)
class AdapterRef:
    """A published adapter version: PEFT weights + tokenizer + label registry + config + metrics."""

    path: Path

    @property
    def version(self) -> str:
        return self.path.name

    def registry(self) -> LabelRegistry:
        return LabelRegistry.from_json((self.path / REGISTRY_FILE).read_text(encoding="utf-8"))

    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / METRICS_FILE).read_text(encoding="utf-8"))

    def text_spec(self) -> TextSpec:
        return TextSpec.load(self.path)

    def trained_classes(self) -> dict[str, Any]:
        """{"class_ids", "codes", "counts"}: the slots that had training rows, and how many."""
        return json.loads((self.path / TRAINED_CLASSES_FILE).read_text(encoding="utf-8"))

    def trained_class_ids(self) -> list[int]:
        return [int(i) for i in self.trained_classes()["class_ids"]]

    def eval_predictions(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / EVAL_PREDICTIONS_FILE)

    def check_registry(self, current: LabelRegistry) -> None:
        """The registry is append-only, so the adapter's codes must still sit in the same slots today."""
        mine = self.registry()
        moved = [(i, code, current.codes[i] if i < current.used else None) for i, code in enumerate(mine.codes)
                 if i >= current.used or current.codes[i] != code]
        if moved or mine.max_classes != current.max_classes:
            detail = (f"slot {moved[0][0]} is {moved[0][1]!r} in the adapter but {moved[0][2]!r} now" if moved
                      else f"the adapter has {mine.max_classes} slots, the registry {current.max_classes}")
            raise RegistryMismatchError(
                f"adapter {self.version} was trained with a label registry that does not match the current one ({detail}), "
                "so its class ids would name the wrong codes. Fix: re-materialize ledger_dataset, tokenized_dataset and "
                "account_classifier to retrain on the current registry"
            )

    def load_model(self) -> Any:
        """Base model with a head of every registry slot + the adapter, in eval mode.

        AutoPeftModelForSequenceClassification alone would build a 2-label head and refuse the weights; the
        head size and label names come from the registry stored with the adapter.
        """
        from peft import PeftConfig, PeftModel
        from transformers import AutoModelForSequenceClassification

        registry = self.registry()
        base = AutoModelForSequenceClassification.from_pretrained(
            PeftConfig.from_pretrained(str(self.path)).base_model_name_or_path,
            num_labels=registry.max_classes,
            id2label=registry.id2label,
            label2id=registry.label2id,
            local_files_only=True,
        )
        tokenizer = self.load_tokenizer()
        if base.config.pad_token_id is None:
            base.config.pad_token_id = tokenizer.pad_token_id
        return PeftModel.from_pretrained(base, str(self.path)).eval()

    def load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)


ACCEPTED_FILE = "accepted.json"


@dataclass(frozen=True)
class QualityGate:
    """Macro F1 must reach `floor` and not fall more than `max_drop` below the last accepted adapter."""

    floor: float
    max_drop: float

    def judge(self, f1_macro: float, previous: dict[str, Any] | None) -> tuple[bool, str]:
        if f1_macro < self.floor:
            return False, f"test macro F1 {f1_macro:.4f} is below the floor {self.floor:.4f}"
        if previous is not None and f1_macro < previous["f1_macro"] - self.max_drop:
            return False, (
                f"test macro F1 {f1_macro:.4f} is more than {self.max_drop:.4f} below the last accepted adapter "
                f"{previous['version']} ({previous['f1_macro']:.4f})"
            )
        return True, f"test macro F1 {f1_macro:.4f} passes (floor {self.floor:.4f})"


@dataclass(frozen=True)
class Comparison:
    passed: bool
    reason: str


def compare_with_baseline(adapter_test: dict[str, Any], baseline_metrics: dict[str, Any], adapter_dataset_version: str | None) -> Comparison:
    """Adapter vs baseline test macro F1; only meaningful when both were scored on the same ledger_dataset."""
    baseline_version = baseline_metrics.get("dataset_version")
    if adapter_dataset_version != baseline_version:
        return Comparison(False, (
            f"not comparable: the adapter was trained on ledger_dataset {adapter_dataset_version}, the baseline on "
            f"{baseline_version}. Fix: materialize ledger_dataset, tokenized_dataset, account_classifier and baseline_classifier together"
        ))
    ours, theirs = float(adapter_test["f1_macro"]), float(baseline_metrics["test"]["f1_macro"])
    if ours > theirs:
        return Comparison(True, f"adapter test macro F1 {ours:.4f} beats the baseline's {theirs:.4f}")
    return Comparison(False, (
        f"adapter test macro F1 {ours:.4f} does not beat the TF-IDF + logistic regression baseline ({theirs:.4f}). "
        "Fix: train longer or on a stronger base model, or serve the baseline"
    ))


def last_accepted(store_root: Path) -> dict[str, Any] | None:
    """{"version", "f1_macro", ...} of the newest adapter that passed its gate, if any."""
    path = store_root / ACCEPTED_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def accepted_adapter(store_root: Path) -> AdapterRef | None:
    accepted = last_accepted(store_root)
    return AdapterRef(store_root / accepted["version"]) if accepted else None


def mark_accepted(adapter: AdapterRef, f1_macro: float) -> None:
    """Record `adapter` as the one downstream uses (atomic replace of accepted.json)."""
    write_text_atomically(adapter.path.parent / ACCEPTED_FILE, json.dumps({"version": adapter.version, "f1_macro": f1_macro}))
