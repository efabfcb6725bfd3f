"""Splits: temporal (the latest months are test, the ones before valid; repeat bookings kept and counted) or
stratified (deterministic for a seed, no text in both train and test), and a clear error for data that cannot be
split."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from acctax_assets.ml.data.serialization import MODEL_TEXT_COLUMNS, concat_model_tables
from acctax_assets.ml.data.splits import SPLITS, SplitError, SplitSettings, split_frame, split_rows
from acctax_assets_tests.support.ml_frames import rows_for

TEMPORAL = SplitSettings(strategy="temporal")


def test_stratified_split_keeps_every_class_in_every_split_and_reports_rare_ones() -> None:
    frame = rows_for({"81100": 500, "83000": 100, "14600": 30, "84800": 2, "20800": 1})
    parts, report = split_frame(frame, SplitSettings(valid_size=0.1, test_size=0.2, seed=1))
    for code, count in {"81100": 500, "83000": 100, "14600": 30}.items():
        test_share = (parts["test"]["code"] == code).sum() / count
        assert abs(test_share - 0.2) < 0.02
        assert (parts["valid"]["code"] == code).sum() >= 1
    assert report.train_only_classes == ["20800", "84800"]
    assert set(parts["test"]["code"]) == {"81100", "83000", "14600"}
    assert sum(report.sizes.values()) == len(frame)


def test_split_is_deterministic_for_a_seed() -> None:
    frame = rows_for({"a": 50, "b": 50})
    first, _ = split_frame(frame, SplitSettings(seed=3))
    again, _ = split_frame(frame, SplitSettings(seed=3))
    other, _ = split_frame(frame, SplitSettings(seed=4))
    assert first["test"]["text"].tolist() == again["test"]["text"].tolist()
    assert first["test"]["text"].tolist() != other["test"]["text"].tolist()


def test_identical_text_never_in_train_and_test() -> None:
    frame = rows_for({"a": 60, "b": 60})
    frame.loc[:, "text"] = np.where(np.arange(len(frame)) % 2 == 0, "same text", frame["text"])
    parts, report = split_frame(frame, SplitSettings())
    assert not set(parts["test"]["text"]) & set(parts["train"]["text"])
    assert report.leakage_removed["test"] > 0


def test_temporal_split_puts_the_latest_months_in_test_and_the_ones_before_in_valid() -> None:
    frame = rows_for({"a": 120, "b": 120}, months=6)
    parts, report = split_frame(frame, SplitSettings(strategy="temporal", test_months=2, valid_months=1))
    months = {name: sorted(set(parts[name]["month"])) for name in SPLITS}
    assert months == {
        "train": ["2024-01-01", "2024-02-01", "2024-03-01"],
        "valid": ["2024-04-01"],
        "test": ["2024-05-01", "2024-06-01"],
    }
    assert max(months["train"]) < min(months["valid"]) and max(months["valid"]) < min(months["test"])
    assert report.months == {
        "train": ["2024-01", "2024-02", "2024-03"],
        "valid": ["2024-04"],
        "test": ["2024-05", "2024-06"],
    }


def test_temporal_split_puts_every_row_in_exactly_one_split() -> None:
    frame = rows_for({"a": 50, "b": 31, "c": 2}, months=4).sample(frac=1.0, random_state=2)
    parts, report = split_frame(frame, TEMPORAL)
    rows = [row for name in SPLITS for row in parts[name]["source_row"]]
    assert len(rows) == len(set(rows)) == len(frame)
    assert set(rows) == set(frame["source_row"])
    assert report.sizes == {name: len(parts[name]) for name in SPLITS}


def test_temporal_split_keeps_repeat_bookings_and_counts_them() -> None:
    """A text booked in train and again in a later month stays in valid/test: it is what the office asks about."""
    frame = rows_for({"a": 60, "b": 60}, months=3)
    frame.loc[:, "text"] = np.where(np.arange(len(frame)) % 4 == 0, "monthly rent", frame["text"])
    parts, report = split_frame(frame, TEMPORAL)
    assert sum(report.sizes.values()) == len(frame)
    for name in ("valid", "test"):
        repeats = parts[name]["text"].isin(set(parts["train"]["text"])).sum()
        assert repeats > 0 and report.repeated_from_train[name] == repeats
    assert report.leakage_removed == {"valid": 0, "test": 0}


def test_temporal_split_reports_codes_only_in_train_and_codes_new_in_later_months() -> None:
    """Rare codes absent from the recent months are reported, not forced into them; new codes are reported too."""
    frame = pd.concat(
        [
            rows_for({"a": 30, "b": 30}, months=3),
            rows_for({"rare": 2}).assign(month="2024-01-01", text=lambda f: "rare " + f["text"]),
            rows_for({"new": 3}).assign(month="2024-03-01", text=lambda f: "new " + f["text"]),
            rows_for({"newer": 1}).assign(month="2024-02-01", text=lambda f: "newer " + f["text"]),
        ],
        ignore_index=True,
    )
    parts, report = split_frame(frame, TEMPORAL)
    assert report.train_only_classes == ["rare"]
    assert set(parts["train"]["code"]) == {"a", "b", "rare"}
    assert report.unseen_in_train == {"valid": ["newer"], "test": ["new"]}


@pytest.mark.parametrize(
    ("months", "settings", "needed"),
    [
        (2, TEMPORAL, 3),
        (3, SplitSettings(strategy="temporal", test_months=2, valid_months=1), 4),
        (4, SplitSettings(strategy="temporal", test_months=1, valid_months=4), 6),
    ],
)
def test_temporal_split_with_too_few_months_says_how_many_and_what_to_change(
    months: int, settings: SplitSettings, needed: int
) -> None:
    listed = str([f"2024-{m:02d}" for m in range(1, months + 1)])
    with pytest.raises(SplitError) as error:
        split_frame(rows_for({"a": 10, "b": 10}, months=months), settings)
    message = str(error.value)
    assert f"needs {needed} labelled months" in message, message
    assert f"test_months={settings.test_months} + valid_months={settings.valid_months} + at least 1" in message
    assert f"there are {months}: {listed}" in message, message
    for fix in ("`test_months` / `valid_months` in the ledger_dataset config", "`split_strategy: stratified`"):
        assert fix in message, message


def model_text_month(counts: dict[str, int], month: str) -> pa.Table:
    """One `model_text` partition as ledger_dataset reads it; no counts: a month without labelled rows."""
    frame = rows_for(counts).assign(month=month, text=lambda f: f"{month} " + f["text"].astype(str))
    return pa.Table.from_pandas(frame[list(MODEL_TEXT_COLUMNS)], preserve_index=False)


def test_a_month_partition_without_labelled_rows_is_not_a_month_of_the_temporal_split() -> None:
    """An uncoded month (its model_text partition is empty) neither counts toward the months needed nor becomes
    the test month: the latest months that have rows do."""
    labelled = {"2024-01-01": {"a": 9, "b": 9}, "2024-02-01": {"a": 4, "b": 4}}
    uncoded = model_text_month({}, "2024-03-01")
    rows = concat_model_tables([*(model_text_month(c, m) for m, c in labelled.items()), uncoded])
    with pytest.raises(SplitError, match=r"there are 2: \['2024-01', '2024-02'\]"):
        split_rows(rows["code"], rows["month"], rows["text"], TEMPORAL)

    april = model_text_month({"a": 3, "b": 3}, "2024-04-01")
    rows = concat_model_tables([*(model_text_month(c, m) for m, c in labelled.items()), uncoded, april])
    _, _, report = split_rows(rows["code"], rows["month"], rows["text"], TEMPORAL)
    assert report.months == {"train": ["2024-01"], "valid": ["2024-02"], "test": ["2024-04"]}
    assert report.sizes == {"train": 18, "valid": 8, "test": 6}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (rows_for({}), "no labelled rows"),
        (rows_for({"81100": 20}), "only one account code"),
    ],
)
def test_unsplittable_data_is_a_clear_error(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(SplitError, match=message):
        split_frame(frame, SplitSettings())


def reference_split(frame: pd.DataFrame, settings: SplitSettings) -> dict[str, pd.DataFrame]:
    """The split as first written, on pandas and Python sets. Stratified: per class in sorted code order, its rows
    (in row order) shuffled by one generator; identical texts then removed from valid and test. Temporal: by month
    only, nothing removed."""
    assignment = np.zeros(len(frame), dtype="int8")
    if settings.strategy == "temporal":
        months = sorted(frame["month"].unique())
        first_valid = len(months) - settings.test_months - settings.valid_months
        assignment[frame["month"].isin(months[first_valid:]).to_numpy()] = 1
        assignment[frame["month"].isin(months[-settings.test_months :]).to_numpy()] = 2
        return {
            name: frame.iloc[np.flatnonzero(assignment == index)].reset_index(drop=True)
            for index, name in enumerate(SPLITS)
        }
    rng = np.random.default_rng(settings.seed)
    codes = frame["code"].to_numpy()
    for code in np.unique(codes):
        positions = np.flatnonzero(codes == code)
        if len(positions) < settings.min_class_rows:
            continue
        rng.shuffle(positions)
        n_test = max(1, int(round(len(positions) * settings.test_size)))
        n_valid = min(max(1, int(round(len(positions) * settings.valid_size))), len(positions) - n_test - 1)
        assignment[positions[:n_test]] = 2
        assignment[positions[n_test : n_test + n_valid]] = 1
    parts = {name: frame.iloc[np.flatnonzero(assignment == index)] for index, name in enumerate(SPLITS)}
    train_texts = set(parts["train"]["text"])
    for name in ("valid", "test"):
        parts[name] = parts[name].loc[~parts[name]["text"].isin(train_texts)]
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


@pytest.mark.parametrize("strategy", ["stratified", "temporal"])
@pytest.mark.parametrize("seed", [0, 42])
def test_split_matches_the_reference_row_for_row(strategy: str, seed: int) -> None:
    """The Arrow split puts the same rows in the same splits in the same order as the pandas reference, with rare
    classes, texts repeated across rows (removed in stratified, kept and counted in temporal) and codes whose rows
    are not contiguous."""
    frame = rows_for({"81100": 300, "83000": 120, "14600": 40, "84800": 2, "20800": 1, "82200": 57}, months=4)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame.loc[:, "text"] = np.where(np.arange(len(frame)) % 7 == 0, "repeated text", frame["text"])
    settings = SplitSettings(strategy=strategy, valid_size=0.15, test_size=0.2, seed=seed)  # type: ignore[arg-type]
    parts, report = split_frame(frame, settings)
    expected = reference_split(frame, settings)
    for name in SPLITS:
        pd.testing.assert_frame_equal(parts[name], expected[name])
    assert report.sizes == {name: len(part) for name, part in expected.items()}
    removed, kept = (
        (report.leakage_removed, report.repeated_from_train)
        if strategy == "stratified"
        else (report.repeated_from_train, report.leakage_removed)
    )
    assert sum(removed.values()) > 0 and kept == {"valid": 0, "test": 0}
    counts = pd.DataFrame({name: expected[name]["code"].value_counts() for name in SPLITS}).fillna(0).astype("int64")
    pd.testing.assert_frame_equal(report.label_counts.sort_index(), counts.sort_index(), check_names=False)
    assert report.label_counts["train"].is_monotonic_decreasing
