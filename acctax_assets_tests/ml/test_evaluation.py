"""Review threshold, calibration, review trade-off and frequency bands on hand-checkable cases."""

import math

import numpy as np
import pandas as pd
import pytest

from acctax_assets.ml.evaluation import (
    band_report,
    frequency_bands,
    reliability_table,
    review_threshold,
    review_tradeoff,
)


def test_threshold_is_the_lowest_confidence_that_keeps_auto_accepted_rows_accurate() -> None:
    confidence = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    correct = [True, True, True, True, False, True, False, False]
    chosen = review_threshold(confidence, correct, target_accuracy=0.8, min_auto_rows=1)
    assert chosen.threshold == 0.6, "top 6 rows are 5/6 right; adding the 0.5 row drops to 5/7 < 0.8"
    assert chosen.auto_accuracy == pytest.approx(5 / 6)
    assert chosen.review_share == pytest.approx(2 / 8)
    assert chosen.error_capture == pytest.approx(2 / 3)
    assert chosen.needs_review(np.array([0.59, 0.6, 0.61])).tolist() == [True, False, False]


def test_threshold_is_derived_from_the_valid_rows_not_fixed() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0, 1, 2000)
    sharp = rng.uniform(0, 1, 2000) < confidence
    blunt = rng.uniform(0, 1, 2000) < confidence * 0.9
    sharp_threshold = review_threshold(confidence, sharp, 0.8).threshold
    blunt_threshold = review_threshold(confidence, blunt, 0.8).threshold
    assert 0.5 < sharp_threshold < blunt_threshold < 1.0, "a less accurate model must send more rows to review"
    assert review_threshold(confidence, sharp, 0.9).threshold > sharp_threshold, "a stricter target raises it"


def test_threshold_never_splits_tied_confidences() -> None:
    chosen = review_threshold([0.9, 0.9, 0.9, 0.5], [True, True, False, True], target_accuracy=0.9, min_auto_rows=1)
    assert not chosen.reachable, "accepting one of three tied rows is impossible; all three are 2/3 right"


def test_unreachable_target_sends_every_row_to_review() -> None:
    chosen = review_threshold([0.9, 0.8, 0.3], [False, True, False], target_accuracy=0.95, min_auto_rows=1)
    assert math.isinf(chosen.threshold) and chosen.review_share == 1.0
    assert chosen.needs_review(np.array([1.0, 0.0])).all()
    assert "every row goes to review" in chosen.describe()


def test_min_auto_rows_refuses_a_threshold_set_by_a_few_lucky_rows() -> None:
    confidence, correct = [0.99, 0.5, 0.4, 0.3], [True, False, False, False]
    assert review_threshold(confidence, correct, 0.9, min_auto_rows=1).threshold == 0.99
    assert not review_threshold(confidence, correct, 0.9, min_auto_rows=2).reachable


@pytest.mark.parametrize(
    "confidence, correct, target", [([1.2], [True], 0.9), ([0.5, 0.5], [True], 0.9), ([0.5], [True], 0.0)]
)
def test_threshold_rejects_bad_input(confidence: list[float], correct: list[bool], target: float) -> None:
    with pytest.raises(ValueError):
        review_threshold(confidence, correct, target)


def test_review_tradeoff_counts_errors_caught() -> None:
    table = review_tradeoff([0.1, 0.2, 0.8, 0.9], [False, True, False, True], shares=(0.0, 0.25, 0.5, 1.0))
    assert table["errors_caught"].tolist() == [0.0, 0.5, 0.5, 1.0]
    assert table["accuracy_without_review"].iloc[:3].tolist() == pytest.approx([0.5, 2 / 3, 0.5])
    assert np.isnan(table["accuracy_without_review"].iloc[3])


def test_reliability_table_and_ece() -> None:
    table, ece = reliability_table([0.05, 0.15, 0.95, 0.95], [False, False, True, False], bins=10)
    assert table["rows"].sum() == 4 and len(table) == 10
    top = table.iloc[9]
    assert top["rows"] == 2 and top["accuracy"] == 0.5 and top["gap"] == pytest.approx(-0.45)
    assert ece == pytest.approx((0.05 + 0.15 + 2 * 0.45) / 4)
    _, perfect = reliability_table([1.0, 0.0], [True, False])
    assert perfect == 0.0


def test_frequency_bands_by_cumulative_share() -> None:
    bands = frequency_bands({"A": 60, "B": 25, "C": 10, "D": 5, "E": 0})
    assert bands == {"A": "head", "B": "torso", "C": "torso", "D": "tail"}, (
        "a class is banded by the share of rows before it; E never trained"
    )


def test_band_report_macro_f1_and_accuracy_per_band() -> None:
    per_class = [
        {"code": "A", "recall": 0.9, "f1": 0.8, "support": 100},
        {"code": "B", "recall": 0.5, "f1": 0.4, "support": 20},
        {"code": "C", "recall": 0.0, "f1": 0.0, "support": 4},
        {"code": "D", "recall": 1.0, "f1": 0.6, "support": 6},
        {"code": "X", "recall": 0.0, "f1": 0.0, "support": 3},
        {"code": "P", "recall": 0.0, "f1": 0.0, "support": 0},
    ]
    report = band_report(per_class, {"A": "head", "B": "torso", "C": "tail", "D": "tail", "P": "tail"}).set_index(
        "band"
    )
    assert report.index.tolist() == ["head", "torso", "tail", "unseen"]
    assert report.loc["tail", "classes"] == 2, "P only appears as a prediction (support 0)"
    assert report.loc["tail", "accuracy"] == pytest.approx(6 / 10)
    assert report.loc["tail", "f1_macro"] == pytest.approx(0.3)
    assert report.loc["unseen", "rows"] == 3
    assert isinstance(report, pd.DataFrame)
