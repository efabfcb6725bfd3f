"""The ensemble candidate: the adapter's and the baseline's class probabilities mixed with one weight (pure numpy).

The weight is chosen on the valid split only (the test split stays untouched for the comparison of candidates):
the grid value with the best valid macro F1, ties broken by the lower valid log loss, then by the smaller adapter
weight (the baseline is the cheaper half). Both inputs are probabilities over the same registry slots, with 0 on
untrained slots, so every mix sums to one and can never propose an untrained slot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from acctax_assets.ml.eval_outputs import EVAL_SPLITS, EvalOutputs, EvalOutputsError
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.serialization import TextSpec

ENSEMBLE_FILE = "ensemble.json"
WEIGHT_GRID: tuple[float, ...] = tuple(float(w) for w in np.round(np.linspace(0.0, 1.0, 21), 2))
LOG_FLOOR = 1e-12


@dataclass(frozen=True)
class EnsembleSpec:
    """Which adapter and baseline versions are mixed (and where they are stored), and how:
    p = w * adapter + (1 - w) * baseline."""

    adapter_version: str
    adapter_path: str
    baseline_version: str
    baseline_path: str
    adapter_weight: float
    dataset_version: str

    def save(self, folder: Path) -> None:
        (folder / ENSEMBLE_FILE).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> EnsembleSpec:
        return cls(**json.loads((folder / ENSEMBLE_FILE).read_text(encoding="utf-8")))


def mix(adapter: np.ndarray, baseline: np.ndarray, adapter_weight: float) -> np.ndarray:
    if not 0.0 <= adapter_weight <= 1.0:
        raise ValueError(f"adapter_weight must lie in [0, 1], got {adapter_weight}")
    if adapter.shape != baseline.shape:
        raise ValueError(f"cannot mix probabilities of shapes {adapter.shape} and {baseline.shape}")
    return (adapter_weight * adapter + (1.0 - adapter_weight) * baseline).astype(np.float32)


def check_same_rows(adapter: EvalOutputs, baseline: EvalOutputs) -> None:
    """Both candidates must have scored the same rows of the same dataset version, in the same order."""
    for split in EVAL_SPLITS:
        if not np.array_equal(adapter.labels[split], baseline.labels[split]):
            raise EvalOutputsError(
                f"the adapter and the baseline did not score the same {split} rows ({len(adapter.labels[split])} vs "
                f"{len(baseline.labels[split])} rows, or other labels): they were trained on different ledger_dataset versions. "
                "Fix: materialize ledger_dataset, tokenized_dataset, account_classifier and baseline_classifier together (training_job)"
            )


def weight_search(adapter: EvalOutputs, baseline: EvalOutputs, grid: tuple[float, ...] = WEIGHT_GRID) -> pd.DataFrame:
    """Valid macro F1 and log loss of every grid weight (the test split is never looked at)."""
    # Imported here: the Dagster code location imports this module for EnsembleRef and stays free of scikit-learn.
    from sklearn.metrics import f1_score

    check_same_rows(adapter, baseline)
    labels = adapter.labels["valid"]
    rows = []
    for weight in grid:
        mixed = mix(adapter.probabilities["valid"], baseline.probabilities["valid"], weight)
        predicted = mixed.argmax(axis=1)
        picked = mixed[np.arange(labels.size), labels]
        rows.append(
            {
                "adapter_weight": weight,
                "valid_f1_macro": float(f1_score(labels, predicted, average="macro", zero_division=0)),
                "valid_log_loss": float(-np.log(np.maximum(picked, LOG_FLOOR)).mean()),
            }
        )
    return pd.DataFrame(rows)


def best_weight(search: pd.DataFrame) -> float:
    ranked = search.sort_values(
        ["valid_f1_macro", "valid_log_loss", "adapter_weight"], ascending=[False, True, True], kind="stable"
    )
    return float(ranked.iloc[0]["adapter_weight"])


def ensemble_outputs(adapter: EvalOutputs, baseline: EvalOutputs, adapter_weight: float) -> EvalOutputs:
    check_same_rows(adapter, baseline)
    return EvalOutputs(
        labels=dict(adapter.labels),
        probabilities={
            split: mix(adapter.probabilities[split], baseline.probabilities[split], adapter_weight)
            for split in EVAL_SPLITS
        },
    )


@dataclass(frozen=True)
class EnsembleModel:
    """What `ensemble_classifier` returns and its IO manager stores: the spec, the per-row outputs, and the
    adapter's label registry and text spec (both halves share them: same ledger_dataset version)."""

    spec: EnsembleSpec
    eval_outputs: EvalOutputs
    registry: LabelRegistry
    text_spec: TextSpec

    def save(self, folder: Path) -> None:
        self.spec.save(folder)
        self.eval_outputs.save(folder)
        self.registry.save(folder / REGISTRY_FILE)
        self.text_spec.save(folder)


@dataclass(frozen=True)
class EnsembleRef:
    """A stored ensemble version, as downstream receives it."""

    path: Path

    @property
    def version(self) -> str:
        return self.path.name

    def spec(self) -> EnsembleSpec:
        return EnsembleSpec.load(self.path)

    def eval_outputs(self) -> EvalOutputs:
        return EvalOutputs.load(self.path)
