"""Review threshold, calibration, review trade-off and frequency bands on hand-checkable cases."""

import math

import numpy as np
import pandas as pd
import pytest

from acctax_assets.ml.evaluation.confidence import (
    REVIEW_SHARES,
    ReviewPolicy,
    band_report,
    frequency_bands,
    reliability_table,
    review_threshold,
    review_tradeoff,
    share_threshold,
    tradeoff_curve,
    valid_threshold,
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


# Ten rows, hand-checkable: ascending confidence, three errors (at 0.3, 0.4 and 0.6).
TEN_CONFIDENCE = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
TEN_CORRECT = [True, False, False, True, False, True, True, True, True, True]


def test_tradeoff_on_ten_rows_reviews_the_least_confident_share() -> None:
    table = review_tradeoff(TEN_CONFIDENCE, TEN_CORRECT, shares=(0.0, 0.2, 0.3, 0.5, 1.0)).set_index("review_share")
    assert table["rows_reviewed"].tolist() == [0, 2, 3, 5, 10]
    assert table.loc[0.2, "confidence_below"] == 0.4, "at 20 % the rows at 0.2 and 0.3 are reviewed"
    assert table.loc[0.2, "errors_caught"] == pytest.approx(1 / 3)
    assert table.loc[0.2, "accuracy_without_review"] == pytest.approx(6 / 8)
    assert table.loc[0.3, "accuracy_without_review"] == pytest.approx(6 / 7)
    assert table.loc[0.5, "errors_caught"] == 1.0 and table.loc[0.5, "accuracy_without_review"] == 1.0
    assert table.loc[0.0, "confidence_below"] == 0.0 and table.loc[0.0, "accuracy_without_review"] == 0.7
    assert math.isinf(table.loc[1.0, "confidence_below"])
    assert REVIEW_SHARES[:3] == (0.0, 0.05, 0.1) and REVIEW_SHARES[-1] == 1.0 and len(REVIEW_SHARES) == 21


def test_tradeoff_curve_chooses_each_threshold_on_valid_and_applies_it_to_test() -> None:
    curve = tradeoff_curve(
        TEN_CONFIDENCE, TEN_CORRECT, [0.1, 0.35, 0.45, 0.9], [False, True, True, False], shares=(0.2, 0.5)
    ).set_index("review_share")
    assert curve.loc[0.2, "threshold"] == 0.4 and curve.loc[0.5, "threshold"] == 0.7
    assert curve.loc[0.2, "valid_auto_accuracy"] == pytest.approx(0.75)
    assert curve.loc[0.2, "test_review_share"] == 0.5, "test rows at 0.1 and 0.35 fall below 0.4"
    assert curve.loc[0.2, "test_errors_caught"] == 0.5 and curve.loc[0.2, "test_auto_accuracy"] == 0.5
    assert curve.loc[0.5, "test_review_share"] == 0.75 and curve.loc[0.5, "test_auto_accuracy"] == 0.0


def test_share_threshold_keeps_tied_rows_together() -> None:
    assert share_threshold([0.5, 0.5, 0.5, 0.9], 0.25) == 0.5, "the tied rows cannot be split: none is reviewed"
    assert share_threshold([0.1, 0.2, 0.3, 0.4], 0.5) == 0.3
    with pytest.raises(ValueError, match="review share"):
        share_threshold([0.1], 1.5)


# Twenty rows: confidence 0.05 ... 1.0; the ten most confident are right, then six errors among the rest.
TWENTY_CONFIDENCE = np.round(np.arange(1, 21) * 0.05, 2)
TWENTY_CORRECT = np.array([False, False, True, False, False, True, False, True, True, False] + [True] * 10)


def test_a_target_beyond_review_max_share_keeps_its_threshold_and_says_what_it_takes() -> None:
    chosen = ReviewPolicy(target_accuracy=0.97, min_auto_rows=1, max_share=0.4).threshold(
        TWENTY_CONFIDENCE, TWENTY_CORRECT
    )
    assert chosen.threshold == 0.55 and chosen.review_share == 0.5, "the office's target is still served"
    assert chosen.shortfall is not None
    warning = chosen.warning
    assert "needs 50.0% of rows reviewed" in warning and "review_max_share 40%" in warning
    assert "the rest 91.7% right and catch 83.3% of errors" in warning, "what reviewing review_max_share gives"
    assert "90% accuracy needs 35.0% reviewed" in warning
    assert "so 50.0% of rows go to review" in warning
    assert "model_settings.review_share" in warning and "model_settings.review_target_accuracy" in warning


def test_a_target_within_review_max_share_needs_no_warning() -> None:
    chosen = ReviewPolicy(target_accuracy=0.9, min_auto_rows=1, max_share=0.4).threshold(
        TWENTY_CONFIDENCE, TWENTY_CORRECT
    )
    assert chosen.threshold == 0.4 and chosen.review_share == pytest.approx(0.35) and chosen.warning is None


def test_an_unreachable_target_says_every_row_goes_to_review() -> None:
    chosen = ReviewPolicy(target_accuracy=1.0, min_auto_rows=11, max_share=0.4).threshold(
        TWENTY_CONFIDENCE, TWENTY_CORRECT
    )
    assert not chosen.reachable and "no confidence level keeps auto-accepted rows 100.0% right" in chosen.warning
    assert "so 100.0% of rows go to review" in chosen.warning


def test_review_share_overrides_the_target_with_the_valid_quantile() -> None:
    rows = pd.DataFrame(
        {
            "split": ["valid"] * 20 + ["test"],
            "label": [1] * 21,
            "predicted": [1 if right else 0 for right in TWENTY_CORRECT] + [1],
            "confidence": [*TWENTY_CONFIDENCE, 0.01],
        }
    )
    chosen = valid_threshold(rows, ReviewPolicy(target_accuracy=0.97, min_auto_rows=1, max_share=0.4, share=0.25))
    assert chosen.threshold == 0.3 and chosen.review_share == 0.25 and chosen.requested_share == 0.25
    assert chosen.error_capture == pytest.approx(4 / 6) and chosen.auto_accuracy == pytest.approx(13 / 15)
    assert chosen.warning is None and "review_share 25% is set" in chosen.describe()
    assert ReviewPolicy(0.97, share=0.0).threshold(TWENTY_CONFIDENCE, TWENTY_CORRECT).review_share == 0.0
    assert ReviewPolicy(0.97, share=1.0).threshold(TWENTY_CONFIDENCE, TWENTY_CORRECT).review_share == 1.0


@pytest.mark.parametrize("settings", [{"max_share": 1.5}, {"share": -0.1}, {"target_accuracy": 0.0}])
def test_review_policy_rejects_impossible_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="review_"):
        ReviewPolicy(**{"target_accuracy": 0.97, **settings})


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
