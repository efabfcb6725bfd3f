"""The clerk's verdict on a month's proposals, on hand-made cleaned lines whose corrections are known."""

import numpy as np
import pandas as pd
import pytest

from acctax_assets.ml.evaluation.feedback import (
    FeedbackColumnsError,
    codes_in,
    feedback_figures,
    history_table,
    share_text,
)
from acctax_assets_tests.support.feedback_lines import KNOWN_CORRECTIONS, NA, cleaned


def test_a_month_with_known_corrections_gives_exact_shares() -> None:
    figures = feedback_figures(cleaned(KNOWN_CORRECTIONS))
    assert figures.lines == 11
    assert figures.counts() == {
        "proposed_lines": 9,
        "reviewed_lines": 4,
        "changed_reviewed": 2,
        "auto_accepted_lines": 5,
        "slipped_errors": 1,
    }
    assert figures.changed_share_reviewed == 0.5
    assert figures.changed_share_auto == 0.2
    assert figures.slipped_share == pytest.approx(1 / 9)
    assert figures.coded_before_proposal == 1
    assert share_text(figures.changed_reviewed, figures.reviewed_lines) == "50.0 % (2 of 4)"


def test_new_codes_are_the_corrected_to_codes_the_model_could_not_propose() -> None:
    figures = feedback_figures(cleaned(KNOWN_CORRECTIONS))
    assert figures.corrected_to == ("81300", "82600", "99999")
    assert figures.new_codes({"81100", "81300", "82600"}) == ("99999",)
    # The coded line's 83000 was never a correction of a proposal.
    assert figures.new_codes(set()) == ("81300", "82600", "99999")


def test_an_all_unreviewed_month_changed_nothing_and_has_no_reviewed_share() -> None:
    figures = feedback_figures(
        cleaned([("81100", False, "81100", "unreviewed"), ("81300", False, "81300", "unreviewed")])
    )
    assert figures.has_proposals and figures.auto_accepted_lines == 2
    assert figures.changed_share_auto == 0.0 and figures.slipped_errors == 0
    assert figures.changed_share_reviewed is None, "no line was reviewed: no share, not 0 %"
    assert share_text(figures.changed_reviewed, figures.reviewed_lines) == "n/a (0 of 0)"
    assert figures.corrected_to == ()


def test_lines_nobody_said_were_wrong_count_as_unchanged() -> None:
    figures = feedback_figures(
        cleaned(
            [
                ("81100", True, NA, NA),  # queued, not answered yet
                ("81100", True, "81300", "corrected"),
                ("81100", False, "81300", "unreviewed"),  # unreviewed means the proposal stands, whatever the code
            ]
        )
    )
    assert (figures.reviewed_lines, figures.changed_reviewed) == (2, 1)
    assert (figures.auto_accepted_lines, figures.slipped_errors) == (1, 0)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"acct_code": pd.array(["81100", NA], dtype="string")}),
        cleaned([(NA, NA, "81100", "coded"), (NA, NA, NA, NA)]),
        cleaned([("81100", False, "81100", "coded")]),
    ],
    ids=["no proposal column", "no proposal on any line", "proposals only on lines coded before"],
)
def test_a_month_without_proposals(frame: pd.DataFrame) -> None:
    figures = feedback_figures(frame)
    assert not figures.has_proposals
    assert figures.changed_share_reviewed is None and figures.changed_share_auto is None
    assert figures.slipped_share is None


def test_proposals_without_what_the_clerk_did_name_the_fix() -> None:
    frame = cleaned(KNOWN_CORRECTIONS).drop(columns=["label_source", "needs_review"])
    with pytest.raises(
        FeedbackColumnsError, match=r"\['needs_review', 'label_source'\].*re-materialize cleaned_ledger"
    ):
        feedback_figures(frame)


def test_codes_in_earlier_months() -> None:
    months = [pd.Series(["81100", None, " 81300 "]), pd.Series(pd.array(["", "82600"], dtype="string"))]
    assert codes_in(months) == {"81100", "81300", "82600"}


def test_history_in_month_order_with_percentages() -> None:
    march = feedback_figures(cleaned(KNOWN_CORRECTIONS)).counts()
    unreviewed = feedback_figures(cleaned([("81100", False, "81100", "unreviewed")])).counts()
    table = history_table({"2024-03-01": march, "2024-02-01": unreviewed, "2024-04-01": {"proposed_lines": 0}})
    assert table["month"].tolist() == ["2024-02", "2024-03"], "months without proposals are not plotted"
    assert table["changed_reviewed_%"].iloc[1] == 50.0 and np.isnan(table["changed_reviewed_%"].iloc[0])
    assert table["changed_auto_%"].tolist() == [0.0, 20.0]
    assert table["slipped_of_proposed_%"].iloc[1] == 11.1
