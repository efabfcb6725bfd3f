"""Class weights and evaluation reports for the account classifier: pure numpy/scikit-learn, so the numbers
the trainer reports can be checked on a five-row case without a model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from acctax_assets.ml.data.label_slots import LabelSlots


def class_weights(counts: Sequence[int], alpha: float, clip: float) -> np.ndarray:
    """Loss weight per class slot: `(1/count)^alpha`, clipped so max/min <= `clip`, mean 1 over present classes.

    The imbalance reaches 44,000:1 (ARCHITECTURE.md §3 trap 10): unclipped inverse-frequency weights would let a
    one-row code dominate the loss. Absent classes (count 0, spare slots included) get weight 0 because the
    model cannot learn them from this data; the trainer also masks their logits.
    """
    counts_array = np.asarray(counts, dtype=np.float64)
    if counts_array.ndim != 1 or counts_array.size == 0:
        raise ValueError(
            f"counts must be a non-empty 1-D sequence (one entry per class slot), got shape {counts_array.shape}"
        )
    if (counts_array < 0).any():
        raise ValueError("class counts cannot be negative")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    if clip < 1:
        raise ValueError(f"clip is the largest allowed max/min weight ratio and must be >= 1, got {clip}")
    present = counts_array > 0
    if not present.any():
        raise ValueError("no class has any training row; the training split is empty")
    weights = np.zeros_like(counts_array)
    raw = np.power(1.0 / counts_array[present], alpha)
    raw = np.minimum(raw, raw.min() * clip)
    weights[present] = raw / raw.mean()
    return weights


def classification_report(y_true: Sequence[int], y_pred: Sequence[int], label_slots: LabelSlots) -> dict[str, Any]:
    """Accuracy, weighted/macro F1, a per-class table and the confusion matrix, over the classes that occur.

    Classes are those in `y_true ∪ y_pred`: a code never seen and never predicted says nothing about the model,
    while a wrongly predicted code must count against macro F1 (the honest number for the tail).
    """
    # Imported here: the Dagster code location imports this module and stays free of scikit-learn.
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    true = np.asarray(y_true, dtype=np.int64)
    pred = np.asarray(y_pred, dtype=np.int64)
    if true.shape != pred.shape or true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D and the same length, got {true.shape} and {pred.shape}")
    if true.size == 0:
        raise ValueError("cannot report on an empty split")
    labels = sorted(set(true.tolist()) | set(pred.tolist()))
    id2label = label_slots.id2label
    codes = [id2label.get(label, f"__unknown_{label}") for label in labels]
    precision, recall, f1, support = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    per_class = [
        {
            "class_id": label,
            "code": code,
            "name": label_slots.names.get(code, ""),
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, code, p, r, f, s in zip(labels, codes, precision, recall, f1, support, strict=True)
    ]
    return {
        "num_samples": int(true.size),
        "accuracy": float(accuracy_score(true, pred)),
        "f1_weighted": float(f1_score(true, pred, labels=labels, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(true, pred, labels=labels, average="macro", zero_division=0)),
        "per_class": per_class,
        "confusion_matrix": {
            "labels": codes,
            "matrix": confusion_matrix(true, pred, labels=labels).tolist(),
        },
    }


def chance_accuracy(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Expected test accuracy of guessing each row's class at random in proportion to the train split's class
    frequencies: what a model that learned nothing from the text can expect, the bar a trained one must clear."""
    train = np.bincount(np.asarray(train_labels, dtype=np.int64))
    test = np.bincount(np.asarray(test_labels, dtype=np.int64), minlength=train.size)
    return float((train / train.sum()) @ (test[: train.size] / test.sum()))
