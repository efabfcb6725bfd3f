"""The ensemble candidate: the class probabilities of several candidates mixed with weights chosen on valid
(pure numpy).

Members are the candidates that passed their quality gate (a failed adapter is never weighted in). The weights
are the point of a simplex grid (steps of `WEIGHT_STEP`) with the best valid score (accuracy or macro F1, as
model_settings.selection_metric says), ties broken by the lower valid log loss, then by more weight on the
cheaper members (precedent, then baseline, then adapter). The test split stays untouched for the comparison of
candidates. All inputs are probabilities over the same label slots, with 0 on untrained slots, so every mix
sums to one and can never propose an untrained slot.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from acctax_assets.ml.candidates.selection import QualityGate
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.evaluation.metrics import classification_report
from acctax_assets.ml.evaluation.outputs import EVAL_SPLITS, CandidateFolder, EvalOutputs, EvalOutputsError

ENSEMBLE_FILE = "ensemble.json"
WEIGHT_STEP = 0.1
LOG_FLOOR = 1e-12
# Serving cost of a member kind: on equal valid figures the mix leaning on cheaper members wins.
MEMBER_COST: dict[str, int] = {"precedent": 0, "baseline": 1, "adapter": 2}


@dataclass(frozen=True)
class Member:
    """One mixed candidate: its kind, stored version and folder, and its weight."""

    kind: str
    version: str
    path: str
    weight: float


@dataclass(frozen=True)
class EnsembleSpec:
    """Which candidate versions are mixed, and how: p = sum(weight * member probabilities)."""

    members: tuple[Member, ...]
    dataset_version: str

    def weight_of(self, kind: str) -> float:
        return sum(member.weight for member in self.members if member.kind == kind)

    def save(self, folder: Path) -> None:
        data = {"members": [asdict(m) for m in self.members], "dataset_version": self.dataset_version}
        (folder / ENSEMBLE_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> EnsembleSpec:
        data = json.loads((folder / ENSEMBLE_FILE).read_text(encoding="utf-8"))
        if "members" not in data:
            # An ensemble stored before members were listed: an adapter and a baseline with one weight.
            weight = float(data["adapter_weight"])
            data["members"] = [
                {"kind": "adapter", "version": data["adapter_version"], "path": data["adapter_path"], "weight": weight},
                {
                    "kind": "baseline",
                    "version": data["baseline_version"],
                    "path": data["baseline_path"],
                    "weight": round(1.0 - weight, 6),
                },
            ]
        return cls(tuple(Member(**m) for m in data["members"]), str(data["dataset_version"]))


def mix(probabilities: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """sum(weight * p) over members with a weight above 0 (weights are non-negative and sum to one)."""
    if len(probabilities) != len(weights) or not probabilities:
        raise ValueError(f"{len(probabilities)} probability matrices for {len(weights)} weights")
    if min(weights) < 0 or not np.isclose(sum(weights), 1.0):
        raise ValueError(f"weights must be non-negative and sum to 1, got {list(weights)}")
    shapes = {p.shape for p in probabilities}
    if len(shapes) != 1:
        raise ValueError(f"cannot mix probabilities of shapes {sorted(shapes)}")
    mixed = np.zeros(probabilities[0].shape, dtype=np.float64)
    for matrix, weight in zip(probabilities, weights, strict=True):
        if weight > 0:
            mixed += weight * matrix
    return mixed.astype(np.float32)


def check_same_rows(outputs: Mapping[str, EvalOutputs]) -> None:
    """Every member must have scored the same rows of the same dataset version, in the same order."""
    (first_name, first), *others = outputs.items()
    for name, other in others:
        for split in EVAL_SPLITS:
            if not np.array_equal(first.labels[split], other.labels[split]):
                raise EvalOutputsError(
                    f"{first_name} and {name} did not score the same {split} rows ({len(first.labels[split])} vs "
                    f"{len(other.labels[split])} rows, or other labels): they were trained on different ledger_dataset versions. "
                    "Fix: materialize the whole training_job so every candidate trains on the same dataset version"
                )


def gated_members(
    outputs: Mapping[str, EvalOutputs], label_slots: LabelSlots, gate: QualityGate
) -> tuple[dict[str, EvalOutputs], dict[str, str]]:
    """The candidates that pass `gate` on their own (judged as served_classifier judges them, without the
    comparison with the serving champion, which is about replacing it), and why each other one is left out."""
    members, left_out = {}, {}
    for kind, member in outputs.items():
        f1_macro = classification_report(member.labels["test"], member.predicted("test"), label_slots)["f1_macro"]
        passed, reason = gate.judge(f1_macro, None)
        if passed:
            members[kind] = member
        else:
            left_out[kind] = reason
    return members, left_out


def simplex_grid(members: int, step: float = WEIGHT_STEP) -> list[tuple[float, ...]]:
    """Every weight vector of `members` non-negative multiples of `step` that sum to one."""
    parts = round(1 / step)
    points = [
        tuple(round(c / parts, 6) for c in combo)
        for combo in itertools.product(range(parts + 1), repeat=members)
        if sum(combo) == parts
    ]
    return sorted(points, reverse=True)


def weight_search(outputs: Mapping[str, EvalOutputs], metric: str, step: float = WEIGHT_STEP) -> pd.DataFrame:
    """Valid accuracy, macro F1 and log loss of every simplex weight vector (the test split is never looked at);
    one column per member (its name) holds its weight."""
    # Imported here: the Dagster code location imports this module for EnsembleRef and stays free of scikit-learn.
    from sklearn.metrics import f1_score

    check_same_rows(outputs)
    names = list(outputs)
    labels = outputs[names[0]].labels["valid"]
    valid = [outputs[name].probabilities["valid"] for name in names]
    rows = []
    for weights in simplex_grid(len(names), step):
        mixed = mix(valid, weights)
        predicted = mixed.argmax(axis=1)
        picked = mixed[np.arange(labels.size), labels]
        rows.append(
            {
                **dict(zip(names, weights, strict=True)),
                "valid_accuracy": float((predicted == labels).mean()) if labels.size else 0.0,
                "valid_f1_macro": float(f1_score(labels, predicted, average="macro", zero_division=0)),
                "valid_log_loss": float(-np.log(np.maximum(picked, LOG_FLOOR)).mean()) if labels.size else 0.0,
            }
        )
    search = pd.DataFrame(rows)
    search["score"] = search[f"valid_{metric}"]
    return search


def best_weights(search: pd.DataFrame, costs: Mapping[str, int]) -> dict[str, float]:
    """The best row of `weight_search`: highest score, then lowest log loss, then the lowest weighted cost."""
    names = list(costs)
    cost = sum(search[name] * costs[name] for name in names)
    # Rounded: mixing a matrix with itself moves the log loss in the 7th decimal, which must not outrank cost.
    ranked = search.assign(_cost=cost, _loss=search["valid_log_loss"].round(6)).sort_values(
        ["score", "_loss", "_cost"], ascending=[False, True, True], kind="stable"
    )
    return {name: float(ranked.iloc[0][name]) for name in names}


def ensemble_outputs(outputs: Mapping[str, EvalOutputs], weights: Mapping[str, float]) -> EvalOutputs:
    check_same_rows(outputs)
    names = list(outputs)
    first = outputs[names[0]]
    return EvalOutputs(
        labels=dict(first.labels),
        probabilities={
            split: mix([outputs[n].probabilities[split] for n in names], [weights[n] for n in names])
            for split in EVAL_SPLITS
        },
    )


@dataclass(frozen=True)
class EnsembleModel:
    """What `ensemble_classifier` returns and its IO manager stores: the spec, the per-row outputs, and the
    label slots and text spec every member shares (same ledger_dataset version)."""

    spec: EnsembleSpec
    eval_outputs: EvalOutputs
    label_slots: LabelSlots
    text_spec: TextSpec

    def save(self, folder: Path) -> None:
        self.spec.save(folder)
        self.eval_outputs.save(folder)
        self.label_slots.save(folder / LABEL_SLOTS_FILE)
        self.text_spec.save(folder)


class EnsembleRef(CandidateFolder):
    """A stored ensemble version, as downstream receives it; its dataset version is its spec's."""

    def spec(self) -> EnsembleSpec:
        return EnsembleSpec.load(self.path)

    @property
    def ledger_dataset_version(self) -> str:
        return self.spec().dataset_version
