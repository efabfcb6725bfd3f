"""Per-row valid/test outputs of a candidate model (pure numpy/pandas), stored beside every candidate.

Every candidate (LoRA adapter, TF-IDF baseline, their ensemble) writes the same two files, so all are scored
alike and an ensemble can mix probabilities row by row:

- `eval_predictions.parquet`: split, label, predicted, confidence (one row per valid/test example);
- `eval_probabilities.npz`: per split, a float32 matrix (rows x label slots) of probabilities that sum to
  one over the classes the candidate was trained on (untrained slots hold 0).

Rows are in the order of the ledger_dataset split they came from, which is what makes two candidates of the same
dataset version comparable row by row.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import TextSpec

EVAL_PREDICTIONS_FILE = "eval_predictions.parquet"
EVAL_PROBABILITIES_FILE = "eval_probabilities.npz"
EVAL_SPLITS: tuple[str, ...] = ("valid", "test")
CANDIDATE_METRICS_FILE = "metrics.json"


class EvalOutputsError(AcctaxError):
    """A candidate's stored per-row outputs are missing or do not fit the split they claim to score."""


@dataclass(frozen=True)
class EvalOutputs:
    """Labels and class probabilities per evaluated split."""

    labels: Mapping[str, np.ndarray]
    probabilities: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        for split in EVAL_SPLITS:
            if split not in self.labels or split not in self.probabilities:
                raise EvalOutputsError(f"evaluation outputs lack the {split!r} split")
            labels, probs = self.labels[split], self.probabilities[split]
            if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
                raise EvalOutputsError(f"{split}: {labels.shape[0]} labels but probabilities of shape {probs.shape}")

    def predicted(self, split: str) -> np.ndarray:
        return self.probabilities[split].argmax(axis=1).astype(np.int64)

    def confidence(self, split: str) -> np.ndarray:
        return self.probabilities[split].max(axis=1).astype(np.float32)

    def rows(self) -> pd.DataFrame:
        """One row per example: split, label, predicted, confidence (what thresholds and reports read)."""
        return pd.concat(
            [
                pd.DataFrame(
                    {
                        "split": split,
                        "label": self.labels[split].astype(np.int64),
                        "predicted": self.predicted(split),
                        "confidence": self.confidence(split),
                    }
                )
                for split in EVAL_SPLITS
            ],
            ignore_index=True,
        )

    def save(self, folder: Path) -> None:
        self.rows().to_parquet(folder / EVAL_PREDICTIONS_FILE, index=False)
        arrays = {f"{split}_probabilities": self.probabilities[split].astype(np.float32) for split in EVAL_SPLITS}
        arrays.update({f"{split}_labels": self.labels[split].astype(np.int64) for split in EVAL_SPLITS})
        with (folder / EVAL_PROBABILITIES_FILE).open("wb") as stream:
            np.savez_compressed(stream, **arrays)

    @classmethod
    def load(cls, folder: Path) -> EvalOutputs:
        path = folder / EVAL_PROBABILITIES_FILE
        if not path.is_file():
            raise EvalOutputsError(
                f"{path} is missing: this candidate was stored before per-row probabilities were kept, so it cannot be "
                "scored beside the others. Fix: re-materialize it (training_job)"
            )
        with np.load(path) as data:
            return cls(
                labels={split: data[f"{split}_labels"] for split in EVAL_SPLITS},
                probabilities={split: data[f"{split}_probabilities"] for split in EVAL_SPLITS},
            )


def save_candidate_files(
    folder: Path, label_slots: LabelSlots, metrics: dict[str, Any], outputs: EvalOutputs, text_spec: TextSpec
) -> None:
    """The files every stored candidate folder carries beside its model: label slots, figures, per-row outputs, text spec."""
    label_slots.save(folder / LABEL_SLOTS_FILE)
    outputs.save(folder)
    text_spec.save(folder)
    (folder / CANDIDATE_METRICS_FILE).write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")


@dataclass(frozen=True)
class CandidateFolder(ABC):
    """A stored candidate version of any kind (adapter, baseline, precedent lookup, ensemble), as downstream receives
    it: every kind keeps its label slots, text spec and per-row valid/test outputs beside its model."""

    path: Path

    @property
    def version(self) -> str:
        return self.path.name

    def label_slots(self) -> LabelSlots:
        return LabelSlots.read(self.path / LABEL_SLOTS_FILE)

    def eval_outputs(self) -> EvalOutputs:
        return EvalOutputs.load(self.path)

    def text_spec(self) -> TextSpec:
        return TextSpec.load(self.path)

    @property
    @abstractmethod
    def ledger_dataset_version(self) -> str:
        """The ledger_dataset version it was trained on (the MLflow tag `acctax.ledger_dataset_version`): only
        candidates of one version scored the same rows, so only they are compared or mixed. Each kind reads it
        where its writer recorded it, in folders of earlier releases too."""


class FittedFolder(CandidateFolder):
    """A candidate fitted on the splits, its figures in `metrics.json` (the baseline and the precedent lookup record
    their dataset version there too)."""

    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / CANDIDATE_METRICS_FILE).read_text(encoding="utf-8"))

    @property
    def ledger_dataset_version(self) -> str:
        return str(self.metrics()["dataset_version"])
