"""Splits: stratified or temporal, deterministic for a seed, no text in both train and test, and a clear error for
data that cannot be split."""

import numpy as np
import pandas as pd
import pytest

from acctax_assets.ml.splits import SPLITS, SplitError, SplitSettings, split_frame
from acctax_assets_tests.support.ml_frames import rows_for


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


def test_temporal_split_uses_the_latest_month_as_test() -> None:
    frame = rows_for({"a": 90, "b": 90}, months=3)
    parts, report = split_frame(frame, SplitSettings(strategy="temporal"))
    assert set(parts["test"]["month"]) == {"2024-03-01"}
    assert "2024-03-01" not in set(parts["train"]["month"]) | set(parts["valid"]["month"])
    assert report.sizes["valid"] > 0


def test_temporal_split_reports_codes_unseen_in_train() -> None:
    frame = pd.concat(
        [
            rows_for({"a": 40, "b": 40}),
            rows_for({"c": 10}).assign(month="2024-02-01", text=lambda f: "new " + f["text"]),
        ]
    )
    _, report = split_frame(frame, SplitSettings(strategy="temporal"))
    assert report.unseen_in_train["test"] == ["c"]


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


def test_temporal_split_needs_more_months() -> None:
    with pytest.raises(SplitError, match="temporal split needs more than 1"):
        split_frame(rows_for({"a": 10, "b": 10}), SplitSettings(strategy="temporal"))


def reference_split(frame: pd.DataFrame, settings: SplitSettings) -> dict[str, pd.DataFrame]:
    """The split as first written, on pandas and Python sets: per class in sorted code order, its rows (in row
    order) shuffled by one generator; identical texts then removed from valid and test."""
    rng = np.random.default_rng(settings.seed)
    codes = frame["code"].to_numpy()
    assignment = np.zeros(len(frame), dtype="int8")
    rows = np.arange(len(frame))
    valid_size, test_size = settings.valid_size, settings.test_size
    if settings.strategy == "temporal":
        test_months = sorted(frame["month"].unique())[-settings.temporal_test_months :]
        assignment[frame["month"].isin(test_months).to_numpy()] = 2
        rows = np.flatnonzero(assignment != 2)
        valid_size, test_size = valid_size / (1 - test_size), 0.0
    for code in np.unique(codes[rows]):
        positions = rows[codes[rows] == code]
        if len(positions) < settings.min_class_rows:
            continue
        rng.shuffle(positions)
        n_test = max(1, int(round(len(positions) * test_size))) if test_size > 0 else 0
        n_valid = min(max(1, int(round(len(positions) * valid_size))), len(positions) - n_test - 1)
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
    classes, texts repeated across rows (leakage) and codes whose rows are not contiguous."""
    frame = rows_for({"81100": 300, "83000": 120, "14600": 40, "84800": 2, "20800": 1, "82200": 57}, months=4)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame.loc[:, "text"] = np.where(np.arange(len(frame)) % 7 == 0, "repeated text", frame["text"])
    settings = SplitSettings(strategy=strategy, valid_size=0.15, test_size=0.2, seed=seed)  # type: ignore[arg-type]
    parts, report = split_frame(frame, settings)
    expected = reference_split(frame, settings)
    for name in SPLITS:
        pd.testing.assert_frame_equal(parts[name], expected[name])
    assert report.sizes == {name: len(part) for name, part in expected.items()}
    assert sum(report.leakage_removed.values()) > 0
    counts = pd.DataFrame({name: expected[name]["code"].value_counts() for name in SPLITS}).fillna(0).astype("int64")
    pd.testing.assert_frame_equal(report.label_counts.sort_index(), counts.sort_index(), check_names=False)
    assert report.label_counts["train"].is_monotonic_decreasing
