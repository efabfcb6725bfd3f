"""The clerk's answer comes back through real files: the platform's export, edited and landed beside the original
or under its name, or the accounting program's final export, supersedes the unlabelled lines; every label says
where it came from; nothing is lost or rejected as a duplicate."""

import os
from pathlib import Path

import pandas as pd
import pytest

from acctax_assets.ledger.cleaning import CleaningResult, CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.export import office_layout, write_export
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_files
from acctax_assets.ml.data.serialization import model_text
from acctax_assets.ml.serving.predictions import prediction_table
from acctax_assets_tests.support.ledger_files import UNCODED_COLUMNS, ledger_rows, write_ledger
from acctax_assets_tests.support.ml_frames import LABEL_SLOTS, SERVED, THRESHOLD, predictions_for

MONTH = "2024-01-01"
# Five lines of January; proposals 81100 (slot 0) for all, confidences put lines 2 and 4 in the review queue.
CONFIDENCE = [0.99, 0.2, 0.99, 0.3, 0.99]


def uncoded_month(landing: Path, keyed: bool = True) -> Path:
    rows = ledger_rows(5)
    for number, row in enumerate(rows):
        row.update(party_name=f"거래처 {number}", supply_amount=f"{(number + 1) * 1000}", vat_amount="0")
        row["total_amount"] = row["supply_amount"]
        if not keyed:
            row.update(voucher_key="", journal_key_count="")
    return write_ledger(landing / "ledger_2024-01.csv", rows, columns=UNCODED_COLUMNS)


def clean(landing: Path, *paths: Path) -> tuple[pd.DataFrame, CleaningResult]:
    raw = combine(read_ledger_files(sorted(paths), load_column_map(), landing))
    result = clean_ledger(raw, MONTH, CleaningRules())
    assert len(result.cleaned) + len(result.rejected) == len(raw), "every raw row is cleaned or rejected"
    return raw, result


def proposals_export(landing: Path, original: Path, tmp_path: Path) -> pd.DataFrame:
    """The month's export as the platform writes it, read back as the clerk opens it (text cells)."""
    raw, result = clean(landing, original)
    features = build_features(result.cleaned)
    predictions = prediction_table(features, predictions_for(5, CONFIDENCE), LABEL_SLOTS, THRESHOLD, SERVED)
    path = write_export(office_layout(raw, predictions, result.rejected), tmp_path / "exports" / "p.csv", "csv")
    return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)


def land(frame: pd.DataFrame, path: Path, later_than: Path | None = None) -> Path:
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    if later_than is not None:
        stamp = later_than.stat().st_mtime + 60
        os.utime(path, (stamp, stamp))
    return path


@pytest.mark.parametrize("beside", [True, False], ids=["beside the original", "under its name"])
def test_a_reviewed_export_labels_the_month_with_the_clerks_codes(tmp_path: Path, beside: bool) -> None:
    landing = tmp_path / "landing"
    original = uncoded_month(landing)
    answer = proposals_export(landing, original, tmp_path)
    assert answer["검토필요"].tolist() == ["N", "Y", "N", "Y", "N"]
    answer.loc[1, "계정과목코드"] = "83000"  # reviewed and corrected
    answer.loc[4, "계정과목코드"] = "82200"  # auto-accepted, corrected later (an error that slipped through)
    target = landing / ("ledger_2024-01_reviewed.csv" if beside else "ledger_2024-01.csv")
    files = {original, land(answer, target, later_than=original)}
    _, result = clean(landing, *files)
    cleaned = result.cleaned.sort_values("source_row")
    assert cleaned["acct_code"].tolist() == ["81100", "83000", "81100", "81100", "82200"]
    assert cleaned["label_source"].tolist() == ["unreviewed", "corrected", "unreviewed", "confirmed", "corrected"]
    assert cleaned["proposed_code"].tolist() == ["81100"] * 5, "the proposal stays beside the clerk's code"
    assert cleaned["needs_review"].tolist() == [False, True, False, True, False]
    assert set(cleaned["source_file"]) == {target.name}
    assert "duplicate" not in set(result.rejected["reject_reason"])
    if beside:
        assert result.rejected["reject_reason"].tolist() == ["superseded"] * 5
        assert result.superseded_by == {target.name: 5}
        assert result.rejected["reject_detail"].iloc[0] == f"superseded by {target.name} row 2"
    else:
        assert result.rejected.empty and result.superseded_by == {}
    features = build_features(result.cleaned)
    assert {"label_source", "proposed_code", "needs_review"} <= set(features.columns)


@pytest.mark.parametrize("keyed", [True, False], ids=["voucher keys", "no keys"])
def test_a_final_export_with_codes_supersedes_the_unlabelled_lines(tmp_path: Path, keyed: bool) -> None:
    landing = tmp_path / "landing"
    original = uncoded_month(landing, keyed)
    rows = ledger_rows(5)
    for number, row in enumerate(rows):
        row.update(party_name=f"거래처 {number}", supply_amount=f"{(number + 1) * 1000}", vat_amount="0")
        row.update(total_amount=row["supply_amount"], acct_code="83000" if number == 2 else "81100")
        if not keyed:
            row.update(voucher_key="", journal_key_count="")
    final = write_ledger(landing / "더존_최종_2024-01.csv", rows)
    _, result = clean(landing, original, final)
    assert result.cleaned["source_file"].tolist() == [final.name] * 5
    assert result.cleaned["acct_code"].tolist() == ["81100", "81100", "83000", "81100", "81100"]
    assert set(result.cleaned["label_source"]) == {"coded"}, "an accounting program's export cannot say who reviewed"
    assert result.rejected["reject_reason"].tolist() == ["superseded"] * 5
    assert result.superseded_by == {final.name: 5}


def test_re_sorted_deleted_and_added_lines_are_matched_by_content(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    original = uncoded_month(landing)
    answer = proposals_export(landing, original, tmp_path)
    answer = answer.iloc[[4, 2, 0, 1]].reset_index(drop=True)  # re-sorted, line 4 deleted
    answer["원본행"] = ["2", "3", "4", "5"]  # and the row numbers no longer fit
    added = answer.iloc[[0]].assign(거래처명="새 거래처", 전표키="2024-01-09999", 원본행="")
    answer = pd.concat([answer, added], ignore_index=True)
    _, result = clean(landing, original, land(answer, landing / "reviewed_2024-01.csv", later_than=original))
    assert result.superseded_by == {"reviewed_2024-01.csv": 4}
    assert result.answers_unmatched == {"reviewed_2024-01.csv": 1}, "the added line is kept and counted"
    kept = result.cleaned.set_index("party_name")
    assert pd.isna(kept.loc["거래처 3", "acct_code"]), "the deleted line stays, unlabelled, for the next proposal"
    assert kept.loc["새 거래처", "acct_code"] == "81100"
    assert len(result.cleaned) == 6


def test_the_later_answer_wins_and_the_change_is_counted(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    original = uncoded_month(landing)
    first = proposals_export(landing, original, tmp_path)
    first_path = land(first, landing / "reviewed_a_2024-01.csv", later_than=original)
    second = first.copy()
    second.loc[0, "계정과목코드"] = "83000"
    second_path = land(second, landing / "reviewed_b_2024-01.csv", later_than=first_path)
    _, result = clean(landing, original, first_path, second_path)
    assert result.cleaned["source_file"].tolist() == [second_path.name] * 5
    assert result.cleaned["acct_code"].iloc[0] == "83000" and result.answers_changed == 1
    changed = result.rejected[result.rejected["reject_detail"].str.contains("->", regex=False)]
    assert changed["reject_detail"].tolist() == [f"superseded by {second_path.name} row 2 (code 81100 -> 83000)"]
    assert result.superseded_by == {second_path.name: 10}


def test_a_malformed_code_in_the_answer_is_quarantined_and_the_line_stays_to_propose(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    original = uncoded_month(landing)
    answer = proposals_export(landing, original, tmp_path)
    answer.loc[1, "계정과목코드"] = "8110"
    _, result = clean(landing, original, land(answer, landing / "reviewed_2024-01.csv", later_than=original))
    bad = result.rejected[result.rejected["reject_reason"] == "invalid_label"]
    assert bad["reject_detail"].str.contains("8110").all() and len(bad) == 1
    assert result.superseded_by == {"reviewed_2024-01.csv": 4}
    assert result.cleaned["acct_code"].isna().sum() == 1, "its original line is still there, unlabelled"


def test_another_months_export_does_not_touch_this_month(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    original = uncoded_month(landing)
    answer = proposals_export(landing, original, tmp_path)
    answer["전표일자"] = "20240215"
    answer["원본파일"] = "ledger_2024-02.csv"
    _, result = clean(landing, original, land(answer, landing / "reviewed.csv", later_than=original))
    assert result.superseded_by == {}
    assert set(result.rejected["reject_reason"]) == {"date_outside_month"}
    assert result.cleaned["acct_code"].isna().all() and len(result.cleaned) == 5


@pytest.mark.parametrize(("policy", "trained"), [("keep", 5), ("drop", 2)])
def test_unreviewed_lines_are_trained_on_as_configured(tmp_path: Path, policy: str, trained: int) -> None:
    landing = tmp_path / "landing"
    original = uncoded_month(landing)
    answer = proposals_export(landing, original, tmp_path)
    _, result = clean(landing, original, land(answer, landing / "reviewed_2024-01.csv", later_than=original))
    text = model_text(build_features(result.cleaned), MONTH, ["party_name", "total_amount"], policy)
    assert len(text) == trained, "3 lines were auto-accepted and never reviewed"
