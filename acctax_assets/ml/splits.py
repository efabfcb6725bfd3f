"""Train/valid/test splits with real stratification (ARCHITECTURE.md §3 trap 1) or by time, without text leakage.

Stratified: every class with at least `min_class_rows` rows is split in the configured proportions on its
own (so each such class is present in train, valid and test); rarer classes go to train only and are
reported. Temporal: the latest months are the test split; valid is stratified out of the rest. Rows of
valid/test whose text also occurs in train are removed and counted (identical text is not a test).

The split is computed on Arrow columns and integer class ids (`split_rows`), never on Python strings: at an
office's size (millions of rows, hundreds of codes) per-class string comparisons and Python sets of texts cost
most of the dataset build. Rows keep their input order inside each split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from acctax_assets.errors import AcctaxError

SPLITS: tuple[str, ...] = ("train", "valid", "test")
ArrowColumn = pa.Array | pa.ChunkedArray
ArrowData = TypeVar("ArrowData", pa.Array, pa.ChunkedArray, pa.Table)


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


@dataclass(frozen=True)
class ClassIds:
    """Codes as integer ids in sorted code order (the order the per-class shuffles consume the seed's stream)."""

    ids: np.ndarray
    codes: list[str]

    @classmethod
    def of(cls, codes: ArrowColumn) -> ClassIds:
        sorted_codes = sorted(pc.unique(codes).to_pylist())
        ids = pc.index_in(codes, value_set=pa.array(sorted_codes, pa.string()))
        return cls(ids=np.asarray(ids.to_numpy(zero_copy_only=False), dtype=np.int64), codes=sorted_codes)


def _stratified_positions(
    ids: np.ndarray, codes: list[str], valid_size: float, test_size: float, min_rows: int, seed: int
) -> tuple[np.ndarray, list[str]]:
    """Split rows class by class; returns a split index per row (0 train, 1 valid, 2 test). Each class's
    positions are shuffled in ascending row order, classes in sorted code order, so a seed gives one split."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(ids), dtype="int8")
    train_only = []
    grouped = np.argsort(ids, kind="stable")
    ends = np.cumsum(np.bincount(ids, minlength=len(codes)))
    for class_id, code in enumerate(codes):
        start = ends[class_id - 1] if class_id else 0
        positions = grouped[start : ends[class_id]]
        if len(positions) == 0:
            continue
        if len(positions) < min_rows:
            train_only.append(code)
            continue
        rng.shuffle(positions)
        n_test = max(1, int(round(len(positions) * test_size))) if test_size > 0 else 0
        n_valid = max(1, int(round(len(positions) * valid_size))) if valid_size > 0 else 0
        n_valid = min(n_valid, len(positions) - n_test - 1)
        assignment[positions[:n_test]] = 2
        assignment[positions[n_test : n_test + n_valid]] = 1
    return assignment, train_only


def _assign(classes: ClassIds, months: ArrowColumn, settings: SplitSettings) -> tuple[np.ndarray, list[str]]:
    if settings.strategy != "temporal":
        return _stratified_positions(
            classes.ids, classes.codes, settings.valid_size, settings.test_size, settings.min_class_rows, settings.seed
        )
    month_names = sorted(pc.unique(months).to_pylist())
    if len(month_names) <= settings.temporal_test_months:
        raise SplitError(
            f"temporal split needs more than {settings.temporal_test_months} month(s) of data, got {month_names}. "
            "Fix: add months or use split_strategy=stratified"
        )
    test_months = pa.array(month_names[-settings.temporal_test_months :], pa.string())
    is_test = np.asarray(pc.is_in(months, value_set=test_months).to_numpy(zero_copy_only=False), dtype=bool)
    rest = np.flatnonzero(~is_test)
    valid_share = settings.valid_size / (1 - settings.test_size) if settings.test_size < 1 else settings.valid_size
    rest_assignment, train_only = _stratified_positions(
        classes.ids[rest], classes.codes, valid_share, 0.0, settings.min_class_rows, settings.seed
    )
    assignment = np.full(len(classes.ids), 2, dtype="int8")
    assignment[rest] = rest_assignment
    return assignment, train_only


def select_rows(data: ArrowData, positions: np.ndarray) -> ArrowData:
    """The rows at ascending `positions`, in order, as a boolean filter: Arrow filters chunked columns chunk by
    chunk, several times faster than a take of the same rows."""
    mask = np.zeros(len(data), dtype=bool)
    mask[positions] = True
    return data.filter(pa.array(mask))


def _leaked(texts: ArrowColumn, train: np.ndarray, held_out: np.ndarray) -> np.ndarray:
    """Which held-out rows (ascending positions) have a text that some train row has. Exact (Arrow hash sets, no
    hashes compared): the held-out texts are the small set every text is looked up in; only train texts found there
    are the set the held-out rows are then checked against."""
    held_texts = select_rows(texts, held_out)
    in_held = np.asarray(pc.is_in(texts, value_set=held_texts).to_numpy(zero_copy_only=False), dtype=bool)
    shared = select_rows(texts, train[in_held[train]])
    return np.asarray(pc.is_in(held_texts, value_set=shared).to_numpy(zero_copy_only=False), dtype=bool)


def split_rows(
    codes: ArrowColumn, months: ArrowColumn, texts: ArrowColumn, settings: SplitSettings
) -> tuple[dict[str, np.ndarray], ClassIds, SplitReport]:
    """Row positions of train/valid/test (ascending, leaked rows removed) for rows with these `code`, `month`
    (partition key) and `text` columns, the class ids of every row, and the report."""
    if len(codes) == 0:
        raise SplitError(
            "no labelled rows in the training window. Fix: materialize ledger_features for labelled months, or widen the window"
        )
    classes = ClassIds.of(codes)
    if len(classes.codes) < 2:
        raise SplitError(
            f"only one account code ({classes.codes[0]}) in the training window; a classifier needs at least two classes"
        )
    assignment, train_only = _assign(classes, months, settings)
    positions = {name: np.flatnonzero(assignment == index) for index, name in enumerate(SPLITS)}
    held_out = np.flatnonzero(assignment > 0)
    leaked = _leaked(texts, positions["train"], held_out)
    is_valid = assignment[held_out] == 1
    leakage = {"valid": int(leaked[is_valid].sum()), "test": int(leaked[~is_valid].sum())}
    positions["valid"] = positions["valid"][~leaked[is_valid]]
    positions["test"] = positions["test"][~leaked[~is_valid]]

    counts = pd.DataFrame(
        {name: np.bincount(classes.ids[positions[name]], minlength=len(classes.codes)) for name in SPLITS},
        index=pd.Index(classes.codes, name="code"),
    )
    counts = counts.loc[counts.sum(axis=1) > 0].sort_values("train", ascending=False, kind="stable")
    seen = counts["train"] > 0
    report = SplitReport(
        sizes={name: len(rows) for name, rows in positions.items()},
        train_only_classes=sorted(train_only),
        unseen_in_train={name: sorted(counts.index[(counts[name] > 0) & ~seen]) for name in ("valid", "test")},
        leakage_removed=leakage,
        label_counts=counts,
    )
    return positions, classes, report


def split_frame(frame: pd.DataFrame, settings: SplitSettings) -> tuple[dict[str, pd.DataFrame], SplitReport]:
    """Split rows with columns `text`, `code` and `month` (partition key) into train/valid/test frames."""
    columns = (pa.array(frame[name].astype(str), pa.string()) for name in ("code", "month", "text"))
    positions, _, report = split_rows(*columns, settings)
    return {name: frame.iloc[rows].reset_index(drop=True) for name, rows in positions.items()}, report
