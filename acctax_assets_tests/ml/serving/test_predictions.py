"""The prediction table (identity, proposal, alternatives, review reason) and its scores, without a model."""

from pathlib import Path

import pytest

from acctax_assets.ml.evaluation.confidence import ReviewPolicy
from acctax_assets.ml.serving.predictions import Predictions, prediction_scores, prediction_table
from acctax_assets_tests.support.ledger_files import UNCODED_COLUMNS, ledger_rows
from acctax_assets_tests.support.ml_frames import LABEL_SLOTS, SERVED, THRESHOLD, month_of, predictions_for


def test_prediction_table_keeps_identity_proposal_alternatives_and_review_reason(tmp_path: Path) -> None:
    rows = ledger_rows(3)
    rows[2].update(party_name="", desc="", item="")
    _, features, _ = month_of(tmp_path, rows)
    table = prediction_table(features, predictions_for(3, [0.97, 0.5, 0.99]), LABEL_SLOTS, THRESHOLD, SERVED)
    assert table["source_row"].tolist() == [2, 3, 4] and table["voucher_key"].tolist()[0] == "2024-01-00001"
    assert table["predicted_code"].tolist() == ["81100"] * 3 and table["predicted_name"].iloc[0] == "복리후생비"
    assert table["top2_code"].iloc[0] == "82200" and table["top3_confidence"].iloc[0] == pytest.approx(
        0.03 * 0.4, rel=1e-3
    )
    assert table["confidence"].iloc[1] == pytest.approx(0.5)
    assert table["needs_review"].tolist() == [False, True, True]
    assert table["review_reason"].tolist() == ["", "low_confidence", "empty_text"], (
        "blank text is reviewed even when confident"
    )
    assert table["correct"].tolist() == [True, True, True]
    assert table["served_model"].tolist() == [SERVED] * 3


def test_a_review_share_set_by_the_office_decides_the_queue(tmp_path: Path) -> None:
    _, features, _ = month_of(tmp_path, ledger_rows(4))
    share = ReviewPolicy(target_accuracy=0.99, share=0.5).threshold([0.2, 0.4, 0.6, 0.8], [False, True, True, True])
    assert share.threshold == 0.6, "half of the valid rows: those below the third least confident"
    table = prediction_table(features, predictions_for(4, [0.55, 0.6, 0.3, 0.95]), LABEL_SLOTS, share, SERVED)
    assert table["needs_review"].tolist() == [True, False, True, False]


def test_scores_count_codes_the_adapter_never_saw_as_errors(tmp_path: Path) -> None:
    rows = ledger_rows(4)
    rows[3].update(acct_code="99999", acct_name="신규계정")
    _, features, _ = month_of(tmp_path, rows)
    table = prediction_table(features, predictions_for(4, [0.99, 0.99, 0.2, 0.2]), LABEL_SLOTS, THRESHOLD, SERVED)
    scores = prediction_scores(table, LABEL_SLOTS)
    assert scores is not None and scores.labelled_rows == 4
    assert scores.accuracy == 0.75 and scores.unknown_codes == ("99999",)
    assert scores.review_errors_caught == 1.0


def test_unlabelled_rows_have_no_scores(tmp_path: Path) -> None:
    _, features, _ = month_of(tmp_path, ledger_rows(2), columns=UNCODED_COLUMNS)
    table = prediction_table(features, predictions_for(2, [0.9, 0.9]), LABEL_SLOTS, THRESHOLD, SERVED)
    assert table["true_code"].isna().all() and table["correct"].isna().all()
    assert prediction_scores(table, LABEL_SLOTS) is None


def test_empty_month_gives_an_empty_table_with_the_full_schema(tmp_path: Path) -> None:
    _, features, _ = month_of(tmp_path, ledger_rows(2, date="20230101"))
    assert features.empty
    table = prediction_table(features, Predictions.empty(), LABEL_SLOTS, THRESHOLD, SERVED)
    assert table.empty and {"predicted_code", "confidence", "needs_review", "source_file"} <= set(table.columns)
