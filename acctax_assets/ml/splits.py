"""Train/valid/test splits with real stratification (ARCHITECTURE.md §3 trap 1) or by time, without text leakage.

Stratified: every class with at least `min_class_rows` rows is split in the configured proportions on its
own (so each such class is present in train, valid and test); rarer classes go to train only and are
reported. Temporal: the latest months are the test split; valid is stratified out of the rest. Rows of
valid/test whose text also occurs in train are removed and counted (identical text is not a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from acctax_assets.errors import AcctaxError

SPLITS: tuple[str, ...] = ("train", "valid", "test")


class SplitError(AcctaxError):
    """The data cannot be split as configured."""


@dataclass(frozen=True)
class SplitSettings:
    strategy: Literal["stratified", "temporal"] = "stratified"
    valid_size: float = 0.1
    test_size: float = 0.1
    temporal_test_months: int = 1
    min_class_rows: int = 3
    seed: int = 42


@dataclass
class SplitReport:
    sizes: dict[str, int]
    train_only_classes: list[str]
    unseen_in_train: dict[str, list[str]]
    leakage_removed: dict[str, int]
    label_counts: pd.DataFrame = field(repr=False)


def _stratified_positions(
    labels: np.ndarray, valid_size: float, test_size: float, min_rows: int, seed: int
) -> tuple[np.ndarray, list]:
    """Split label positions class by class; returns a split index per row (0 train, 1 valid, 2 test)."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(labels), dtype="int8")
    train_only = []
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        if len(positions) < min_rows:
            train_only.append(label)
            continue
        rng.shuffle(positions)
        n_test = max(1, int(round(len(positions) * test_size))) if test_size > 0 else 0
        n_valid = max(1, int(round(len(positions) * valid_size))) if valid_size > 0 else 0
        n_valid = min(n_valid, len(positions) - n_test - 1)
        assignment[positions[:n_test]] = 2
        assignment[positions[n_test : n_test + n_valid]] = 1
    return assignment, train_only


def split_frame(frame: pd.DataFrame, settings: SplitSettings) -> tuple[dict[str, pd.DataFrame], SplitReport]:
    """Split rows with columns `text`, `code` and `month` (partition key) into train/valid/test frames."""
    if frame.empty:
        raise SplitError(
            "no labelled rows in the training window. Fix: materialize ledger_features for labelled months, or widen the window"
        )
    codes = frame["code"].to_numpy()
    if len(np.unique(codes)) < 2:
        raise SplitError(
            f"only one account code ({codes[0]}) in the training window; a classifier needs at least two classes"
        )
    if settings.strategy == "temporal":
        months = sorted(frame["month"].unique())
        if len(months) <= settings.temporal_test_months:
            raise SplitError(
                f"temporal split needs more than {settings.temporal_test_months} month(s) of data, got {months}. "
                "Fix: add months or use split_strategy=stratified"
            )
        is_test = frame["month"].isin(months[-settings.temporal_test_months :]).to_numpy()
        rest = np.flatnonzero(~is_test)
        valid_share = settings.valid_size / (1 - settings.test_size) if settings.test_size < 1 else settings.valid_size
        rest_assignment, train_only = _stratified_positions(
            codes[rest], valid_share, 0.0, settings.min_class_rows, settings.seed
        )
        assignment = np.full(len(frame), 2, dtype="int8")
        assignment[rest] = rest_assignment
    else:
        assignment, train_only = _stratified_positions(
            codes, settings.valid_size, settings.test_size, settings.min_class_rows, settings.seed
        )
    parts = {name: frame.iloc[np.flatnonzero(assignment == index)] for index, name in enumerate(SPLITS)}

    train_texts = set(parts["train"]["text"])
    leakage = {}
    for name in ("valid", "test"):
        leaked = parts[name]["text"].isin(train_texts)
        leakage[name] = int(leaked.sum())
        parts[name] = parts[name].loc[~leaked]
    train_codes = set(parts["train"]["code"])
    unseen = {name: sorted(set(parts[name]["code"]) - train_codes) for name in ("valid", "test")}
    counts = pd.DataFrame({name: parts[name]["code"].value_counts() for name in SPLITS}).fillna(0).astype("int64")
    counts = counts.sort_values("train", ascending=False)
    report = SplitReport(
        sizes={name: len(part) for name, part in parts.items()},
        train_only_classes=sorted(str(c) for c in train_only),
        unseen_in_train=unseen,
        leakage_removed=leakage,
        label_counts=counts,
    )
    return {name: part.reset_index(drop=True) for name, part in parts.items()}, report
