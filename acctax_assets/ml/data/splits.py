"""Train/valid/test splits by time (the job's default) or with real stratification (ARCHITECTURE.md §3 trap 1).

Temporal: the latest `test_months` labelled months are test, the `valid_months` before them valid, all earlier
months train. The office asks for the codes of months after the ones it booked, so a model is selected on and
scored against the next months, as the served model will face them. A valid/test row whose text also occurs in
train stays (a repeat booking is what the clerk asks about most; dropping it would leave only hard rows and
penalise a lookup of past bookings) and is counted (`repeated_from_train`). Codes of train missing from the
later months are reported (`train_only_classes`), never forced into them; codes first seen in valid/test are
reported (`unseen_in_train`) and scored as wrong by the models.

Stratified (for comparison): every class with at least `min_class_rows` rows is split in the configured
proportions on its own, rarer classes go to train only; valid/test rows whose text also occurs in train are
removed and counted (`leakage_removed`), since on rows drawn from the same months identical text is no test.

The split is computed on Arrow columns and integer ids (`split_rows`), never on Python strings: at an office's
size (millions of rows, hundreds of codes) per-class string comparisons and Python sets of texts cost most of
the dataset build. Rows keep their input order inside each split.
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
HELD_OUT: tuple[str, ...] = ("valid", "test")
ArrowColumn = pa.Array | pa.ChunkedArray
ArrowData = TypeVar("ArrowData", pa.Array, pa.ChunkedArray, pa.Table)


class SplitError(AcctaxError):
    """The data cannot be split as configured."""


@dataclass(frozen=True)
class SplitSettings:
    """How to split. The strategy's default here is the stratified reference split (benchmarks compare with it);
    the job's default is `ledger_dataset`'s config (`DatasetConfig`), temporal. `valid_size`, `test_size`,
    `min_class_rows` and `seed` apply to the stratified split; `test_months` and `valid_months` to the temporal."""

    strategy: Literal["stratified", "temporal"] = "stratified"
    valid_size: float = 0.1
    test_size: float = 0.1
    test_months: int = 1
    valid_months: int = 1
    min_class_rows: int = 3
    seed: int = 42


@dataclass
class SplitReport:
    """What the split did. `months`: the YYYY-MM months with rows in each split. `leakage_removed`: valid/test rows
    dropped because their text occurs in train (stratified only; zeros in temporal). `repeated_from_train`:
    valid/test rows kept although their text occurs in train (temporal only; zeros in stratified, which drops
    them). `train_only_classes`: codes in train but in neither valid nor test. `unseen_in_train`: codes of
    valid/test that train never has."""

    sizes: dict[str, int]
    months: dict[str, list[str]]
    train_only_classes: list[str]
    unseen_in_train: dict[str, list[str]]
    leakage_removed: dict[str, int]
    repeated_from_train: dict[str, int]
    label_counts: pd.DataFrame = field(repr=False)


def _sorted_ids(values: ArrowColumn) -> tuple[np.ndarray, list[str]]:
    """Each row's index into the sorted distinct values, and those values."""
    names = sorted(pc.unique(values).to_pylist())
    ids = pc.index_in(values, value_set=pa.array(names, pa.string()))
    return np.asarray(ids.to_numpy(zero_copy_only=False), dtype=np.int64), names


@dataclass(frozen=True)
class ClassIds:
    """Codes as integer ids in sorted code order (the order the per-class shuffles consume the seed's stream)."""

    ids: np.ndarray
    codes: list[str]

    @classmethod
    def of(cls, codes: ArrowColumn) -> ClassIds:
        ids, names = _sorted_ids(codes)
        return cls(ids=ids, codes=names)


def _stratified_positions(
    ids: np.ndarray, codes: list[str], valid_size: float, test_size: float, min_rows: int, seed: int
) -> np.ndarray:
    """Split rows class by class; returns a split index per row (0 train, 1 valid, 2 test). Each class's
    positions are shuffled in ascending row order, classes in sorted code order, so a seed gives one split.
    Classes with fewer than `min_rows` rows stay in train."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(ids), dtype="int8")
    grouped = np.argsort(ids, kind="stable")
    ends = np.cumsum(np.bincount(ids, minlength=len(codes)))
    for class_id in range(len(codes)):
        start = ends[class_id - 1] if class_id else 0
        positions = grouped[start : ends[class_id]]
        if len(positions) < min_rows:
            continue
        rng.shuffle(positions)
        n_test = max(1, int(round(len(positions) * test_size))) if test_size > 0 else 0
        n_valid = max(1, int(round(len(positions) * valid_size))) if valid_size > 0 else 0
        n_valid = min(n_valid, len(positions) - n_test - 1)
        assignment[positions[:n_test]] = 2
        assignment[positions[n_test : n_test + n_valid]] = 1
    return assignment


def _temporal_positions(month_ids: np.ndarray, months: list[str], test_months: int, valid_months: int) -> np.ndarray:
    """Split rows by month (`month_ids` index the sorted `months`): the latest `test_months` months are test, the
    `valid_months` before them valid, the rest train. Only months that have rows count: a month partition without
    a labelled row is not a month of data."""
    needed = test_months + valid_months + 1
    if len(months) < needed:
        raise SplitError(
            f"the temporal split needs {needed} labelled months (test_months={test_months} + "
            f"valid_months={valid_months} + at least 1 for train), there are {len(months)}: "
            f"{[month[:7] for month in months]}. Fix: materialize more labelled months (or raise `window_months` if "
            "set), lower `test_months` / `valid_months` in the ledger_dataset config, or set "
            "`split_strategy: stratified` there"
        )
    first_valid, first_test = len(months) - test_months - valid_months, len(months) - test_months
    return (month_ids >= first_valid).astype("int8") + (month_ids >= first_test).astype("int8")


def select_rows(data: ArrowData, positions: np.ndarray) -> ArrowData:
    """The rows at ascending `positions`, in order, as a boolean filter: Arrow filters chunked columns chunk by
    chunk, several times faster than a take of the same rows."""
    mask = np.zeros(len(data), dtype=bool)
    mask[positions] = True
    return data.filter(pa.array(mask))


def _in_train(texts: ArrowColumn, train: np.ndarray, held_out: np.ndarray) -> np.ndarray:
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
    """Row positions of train/valid/test (ascending; stratified: texts seen in train removed from valid/test) for
    rows with these `code`, `month` (partition key) and `text` columns, the class ids of every row, and the
    report."""
    if len(codes) == 0:
        raise SplitError(
            "no labelled rows in the rows given. Fix: give the split labelled months, or widen the training window"
        )
    classes = ClassIds.of(codes)
    if len(classes.codes) < 2:
        raise SplitError(
            f"only one account code ({classes.codes[0]}) in the training window; a classifier needs at least two classes"
        )
    month_ids, month_names = _sorted_ids(months)
    if settings.strategy == "temporal":
        assignment = _temporal_positions(month_ids, month_names, settings.test_months, settings.valid_months)
    else:
        assignment = _stratified_positions(
            classes.ids, classes.codes, settings.valid_size, settings.test_size, settings.min_class_rows, settings.seed
        )
    positions = {name: np.flatnonzero(assignment == index) for index, name in enumerate(SPLITS)}
    held_out = np.flatnonzero(assignment > 0)
    repeated = _in_train(texts, positions["train"], held_out)
    is_valid = assignment[held_out] == 1
    counted = {"valid": int(repeated[is_valid].sum()), "test": int(repeated[~is_valid].sum())}
    nothing = dict.fromkeys(HELD_OUT, 0)
    if settings.strategy == "temporal":
        leakage, repeated_from_train = nothing, counted
    else:
        leakage, repeated_from_train = counted, nothing
        positions["valid"] = positions["valid"][~repeated[is_valid]]
        positions["test"] = positions["test"][~repeated[~is_valid]]

    counts = pd.DataFrame(
        {name: np.bincount(classes.ids[positions[name]], minlength=len(classes.codes)) for name in SPLITS},
        index=pd.Index(classes.codes, name="code"),
    )
    counts = counts.loc[counts.sum(axis=1) > 0].sort_values("train", ascending=False, kind="stable")
    seen = counts["train"] > 0
    held = (counts["valid"] > 0) | (counts["test"] > 0)
    split_months = {
        name: [month_names[i][:7] for i in np.flatnonzero(np.bincount(month_ids[rows], minlength=len(month_names)))]
        for name, rows in positions.items()
    }
    report = SplitReport(
        sizes={name: len(rows) for name, rows in positions.items()},
        months=split_months,
        train_only_classes=sorted(counts.index[seen & ~held]),
        unseen_in_train={name: sorted(counts.index[(counts[name] > 0) & ~seen]) for name in HELD_OUT},
        leakage_removed=leakage,
        repeated_from_train=repeated_from_train,
        label_counts=counts,
    )
    return positions, classes, report


def split_frame(frame: pd.DataFrame, settings: SplitSettings) -> tuple[dict[str, pd.DataFrame], SplitReport]:
    """Split rows with columns `text`, `code` and `month` (partition key) into train/valid/test frames."""
    columns = (pa.array(frame[name].astype(str), pa.string()) for name in ("code", "month", "text"))
    positions, _, report = split_rows(*columns, settings)
    return {name: frame.iloc[rows].reset_index(drop=True) for name, rows in positions.items()}, report
