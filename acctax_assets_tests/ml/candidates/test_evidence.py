"""Evidence beside every proposal, on hand-made histories: the client's precedent (codes, counts, latest booking,
ties, no history), the similar past lines (same client first, another client's when it has none), the review rule
against a strong precedent, the hit rates on a labelled month, the export's 근거, and a model version whose
precedent stored no evidence."""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from dagster import build_asset_context, instance_for_test

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.defs.ledger_predictions import PredictionConfig, ledger_predictions
from acctax_assets.defs.metadata_format import as_mapping
from acctax_assets.defs.ml_resources import ModelRegistryResource, ModelSettings
from acctax_assets.defs.precedent_classifier import PrecedentConfig, precedent_classifier
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.export import office_layout
from acctax_assets.ml.candidates.evidence import (
    NO_HISTORY,
    NO_PRECEDENT_STORED,
    BookingEvidence,
    NeighbourIndex,
    StrongPrecedent,
    evidence_hit_rates,
)
from acctax_assets.ml.candidates.precedent import MODEL_FILE, PrecedentLookup
from acctax_assets.ml.data.dataset import build_dataset, save_dataset
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.data.splits import SplitSettings
from acctax_assets.ml.serving.model_registry import CHAMPION, ModelRegistry, RegisteredCandidate
from acctax_assets.ml.serving.predictions import DISAGREES_WITH_PRECEDENT, prediction_table
from acctax_assets.ml.serving.served_model import served_evidence
from acctax_assets_tests.support.ledger_files import ledger_rows
from acctax_assets_tests.support.ml_frames import LABEL_SLOTS, SERVED, THRESHOLD, month_of, predictions_for
from acctax_assets_tests.support.stored_candidates import CODES, HISTORY, stored_baseline, stored_history, text


def test_the_precedent_names_the_top_two_codes_their_counts_and_the_latest_booking(tmp_path: Path) -> None:
    evidence = BookingEvidence.load(stored_history(tmp_path / "precedent"))
    frame = evidence.explain([text("A", "카페", "새 메모"), text("B", "카페"), text("A", "카페", "새 메모")])
    assert frame["precedent"].iloc[0] == (
        "this client + counterparty: 81100 복리후생비 4/5, 82600 도서인쇄비 1/5, last 2024-04"
    ), "the latest booking of the pair, whichever code it had"
    assert frame["precedent"].iloc[1] == "this client + counterparty: 82200 차량유지비 1/1, last 2024-05", (
        "another client's bookings of the same counterparty are not this client's precedent"
    )
    assert frame[["precedent_code", "precedent_count", "precedent_total"]].iloc[0].tolist() == ["81100", 4, 5]
    assert frame["precedent"].iloc[2] == frame["precedent"].iloc[0], "rows keep their text's evidence"


def test_a_new_counterparty_falls_back_to_the_same_memo_item_words_else_no_history(tmp_path: Path) -> None:
    evidence = BookingEvidence.load(stored_history(tmp_path / "precedent"))
    frame = evidence.explain([text("A", "새주유소", "주유 차량"), text("C", "카페", "직원 간식", "커피")])
    assert frame["precedent"].iloc[0] == "this client, same memo/item: 82200 차량유지비 1/1, last 2024-02", (
        "the same words in another order are the same memo"
    )
    assert frame["precedent"].iloc[1] == NO_HISTORY, "client C never booked: no precedent, whoever else did"
    assert pd.isna(frame["precedent_code"].iloc[1]) and frame["precedent_total"].iloc[1] == 0


def test_a_tie_lists_the_lower_slot_first_and_a_date_in_the_text_is_used(tmp_path: Path) -> None:
    dated = [
        (f"{text('A', '서점')} | date:2024-03-{day:02d}", slot, "2024-03")
        for day, slot in ((5, 3), (18, 0), (9, 3), (2, 0))
    ]
    evidence = BookingEvidence.load(stored_history(tmp_path / "precedent", dated))
    shown = evidence.explain([f"{text('A', '서점')} | date:2024-04-01"])["precedent"].iloc[0]
    assert shown == "this client + counterparty: 81100 복리후생비 2/4, 82600 도서인쇄비 2/4, last 2024-03-18"


def test_similar_lines_come_from_the_same_client_first_else_from_another(tmp_path: Path) -> None:
    evidence = BookingEvidence.load(stored_history(tmp_path / "precedent"))
    frame = evidence.explain([text("A", "카페", "직원 간식", "커피"), text("C", "문구점", "복사지")])
    same = frame["similar_lines"].iloc[0].split("; ")
    assert len(same) == 3 and all(not line.startswith("other client") for line in same)
    assert same[0] in ("2024-03 81100 카페 · 직원 간식 · 커피 (1.00)", "2024-01 81100 카페 · 직원 간식 · 커피 (1.00)")
    assert frame["neighbour_code"].iloc[0] == "81100"
    other = frame["similar_lines"].iloc[1].split("; ")
    assert other[0] == "other client B: 2024-01 83000 문구점 · 복사지 (1.00)"
    assert frame["neighbour_code"].iloc[1] == "83000"


def test_only_the_most_recent_lines_of_a_client_are_indexed(tmp_path: Path) -> None:
    index = NeighbourIndex.fit(
        [t for t, _, _ in HISTORY], [s for _, s, _ in HISTORY], [m for _, _, m in HISTORY], per_client=2, pool=1
    )
    assert index.matrix.shape[0] == 4, "two lines per client"
    assert sorted(index.dates[slice(*index.spans["A"])].tolist()) == ["2024-03", "2024-04"]
    assert index.dates[index.pool].tolist() == ["2024-05"], "the pool holds the most recent indexed line"
    assert [n.date for n in index.similar([text("A", "카페", "직원 간식", "커피")])[0]] == ["2024-03", "2024-04"]


def evidence_frame(codes: list[str | None], counts: list[int], totals: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "precedent": pd.array([f"p{i}" for i in range(len(codes))], dtype="string"),
            "precedent_code": pd.array(codes, dtype="string"),
            "precedent_count": counts,
            "precedent_total": totals,
            "similar_lines": pd.array([NO_HISTORY] * len(codes), dtype="string"),
            "neighbour_code": pd.array(codes, dtype="string"),
        }
    )


def test_a_proposal_against_a_strong_precedent_goes_to_review_saying_so(tmp_path: Path) -> None:
    _, features, _ = month_of(tmp_path, ledger_rows(5))
    # Every proposal is 81100; confidences: confident, low, confident, confident, confident.
    evidence = evidence_frame(["82200", "82200", "82200", "82200", "81100"], [14, 14, 4, 2, 9], [15, 15, 6, 2, 9])
    table = prediction_table(
        features, predictions_for(5, [0.99, 0.5, 0.99, 0.99, 0.99]), LABEL_SLOTS, THRESHOLD, SERVED, evidence
    )
    assert table["review_reason"].tolist() == [
        DISAGREES_WITH_PRECEDENT,
        "low_confidence; disagrees with precedent 82200 (14/15)",
        "",
        "",
        "",
    ], "4/6 is under 90 %, 2 bookings are under 5, and agreeing is never a reason"
    assert table["needs_review"].tolist() == [True, True, False, False, False]
    assert table["precedent"].tolist() == ["p0", "p1", "p2", "p3", "p4"], "the evidence stands beside the proposal"
    lenient = prediction_table(
        features,
        predictions_for(5, [0.99, 0.5, 0.99, 0.99, 0.99]),
        LABEL_SLOTS,
        THRESHOLD,
        SERVED,
        evidence,
        StrongPrecedent(min_bookings=2, min_share=0.6),
    )
    assert lenient["needs_review"].tolist() == [True, True, True, True, False]


def test_evidence_hit_rates_on_a_tiny_labelled_month(tmp_path: Path) -> None:
    rows = ledger_rows(4)
    rows[1].update(acct_code="82200", acct_name="차량유지비")
    _, features, _ = month_of(tmp_path, rows)
    # Proposals 81100; truth 81100, 82200, 81100, 81100; rows 0-2 are reviewed (two low confidences, one precedent).
    evidence = evidence_frame(["81100", "82200", None, "81100"], [1, 5, 0, 1], [1, 5, 0, 1])
    evidence["neighbour_code"] = pd.array(["83000", "82200", "81100", "81100"], dtype="string")
    table = prediction_table(
        features, predictions_for(4, [0.5, 0.99, 0.5, 0.99]), LABEL_SLOTS, THRESHOLD, SERVED, evidence
    )
    assert table["needs_review"].tolist() == [True, True, True, False]
    assert evidence_hit_rates(table) == {
        "review_rows": 3,
        "precedent": pytest.approx(2 / 3, abs=1e-4),
        "neighbour": pytest.approx(2 / 3, abs=1e-4),
        "proposal": pytest.approx(2 / 3, abs=1e-4),
        "rows_with_precedent": 2,
        "rows_with_neighbour": 3,
    }
    assert evidence_hit_rates(table.assign(true_code=pd.array([pd.NA] * 4, dtype="string"))) is None


def test_the_export_carries_the_evidence_in_its_own_column(tmp_path: Path) -> None:
    rows = ledger_rows(3)
    rows[1]["date"] = "not a date"
    raw, features, rejected = month_of(tmp_path, rows)
    evidence = evidence_frame(["81100", None], [3, 0], [3, 0])
    evidence["precedent"] = pd.array(["this client + counterparty: 81100 복리후생비 3/3, last 2023-12", NO_HISTORY])
    evidence["similar_lines"] = pd.array(["2023-12 81100 스타벅스 강남점 · 직원 간식 · 커피 (1.00)", NO_HISTORY])
    table = prediction_table(features, predictions_for(2, [0.99, 0.99]), LABEL_SLOTS, THRESHOLD, SERVED, evidence)
    layout = office_layout(raw, table, rejected)
    assert layout["근거"].iloc[0] == (
        "precedent: this client + counterparty: 81100 복리후생비 3/3, last 2023-12; "
        "similar: 2023-12 81100 스타벅스 강남점 · 직원 간식 · 커피 (1.00)"
    )
    assert pd.isna(layout["근거"].iloc[1]), "a rejected line has no proposal and no evidence"
    assert layout["근거"].iloc[2] == f"precedent: {NO_HISTORY}; similar: {NO_HISTORY}"
    assert "근거" not in office_layout(raw, table.drop(columns=["precedent", "similar_lines"]), rejected)


def entry(kind: str, version: str, path: Path, dataset: str, registry_version: str) -> RegisteredCandidate:
    return RegisteredCandidate(registry_version, kind, version, path, dataset, (), {})


def test_the_served_model_reads_the_precedent_of_its_dataset_version(tmp_path: Path) -> None:
    stored = stored_history(tmp_path / "precedent" / "p2")
    champion = entry("baseline", "b2", tmp_path / "baseline", "d2", "5")
    versions = [
        entry("precedent", "p1", tmp_path / "precedent" / "p1", "d1", "1"),
        entry("precedent", "p2", stored, "d2", "4"),
        champion,
    ]
    evidence = served_evidence(champion, versions)
    assert evidence.history is not None
    assert evidence.explain([text("A", "카페")])["precedent_code"].tolist() == ["81100"]
    assert served_evidence(entry("precedent", "p2", stored, "d2", "4"), []).history is not None, (
        "a served precedent is its own evidence"
    )


def test_a_model_version_without_a_stored_precedent_says_so_instead_of_failing(tmp_path: Path) -> None:
    champion = entry("baseline", "b1", tmp_path / "baseline", "d1", "2")
    none_registered = served_evidence(champion, [champion]).explain([text("A", "카페"), text("B", "가게")])
    assert none_registered["precedent"].str.startswith(NO_PRECEDENT_STORED).all()
    assert none_registered["similar_lines"].str.startswith(NO_PRECEDENT_STORED).all()
    assert none_registered["precedent_code"].isna().all() and none_registered["precedent_total"].eq(0).all()

    # A precedent stored before evidence existed: its lookup only, fitted without dates, no similar-lines index.
    old = tmp_path / "precedent" / "old"
    old.mkdir(parents=True)
    lookup = PrecedentLookup.fit([t for t, _, _ in HISTORY], [s for _, s, _ in HISTORY], CODES.max_classes)
    del lookup.phrases, lookup.dates
    joblib.dump(lookup, old / MODEL_FILE)
    CODES.save(old / LABEL_SLOTS_FILE)
    evidence = served_evidence(champion, [entry("precedent", "old", old, "d1", "1")])
    assert evidence.history is None and evidence.missing == NO_PRECEDENT_STORED
    gone = served_evidence(champion, [entry("precedent", "gone", tmp_path / "gone", "d1", "1")])
    assert gone.history is None and "no longer exists" in gone.missing
    table = prediction_table(
        month_of(tmp_path, ledger_rows(1))[1],
        predictions_for(1, [0.99]),
        LABEL_SLOTS,
        THRESHOLD,
        SERVED,
        evidence.explain([text("A", "카페")]),
    )
    assert table["needs_review"].tolist() == [False], "no evidence, no precedent review"


def test_precedent_classifier_stores_its_evidence_with_the_candidate(tmp_path: Path) -> None:
    texts = [t for t, _, _ in HISTORY] * 3
    frame = pd.DataFrame(
        {
            "text": texts,
            "code": [CODES.codes[s] for _, s, _ in HISTORY] * 3,
            "name": ["n"] * len(texts),
            "month": [f"{m}-01" for _, _, m in HISTORY] * 3,
            "source_file": ["f.csv"] * len(texts),
            "source_row": range(len(texts)),
        }
    )
    dataset, label_slots, _ = build_dataset(frame, LabelSlots(max_classes=6), SplitSettings(strategy="temporal"))
    folder = tmp_path / "ledger_dataset" / "d1"
    save_dataset(dataset, folder)
    label_slots.save(folder / LABEL_SLOTS_FILE)
    TextSpec(("company_name", "party_name", "total_amount", "desc", "item")).save(folder)
    output = precedent_classifier(build_asset_context(), PrecedentConfig(), SavedDataset(folder))
    model = output.value
    assert model.neighbours is not None and output.metadata["similar_lines_indexed"].value == len(HISTORY) * 3
    assert output.metadata["evidence_dates"].value == "month (the model text has no date feature)"
    stored = tmp_path / "precedent" / "v1"
    stored.mkdir(parents=True)
    model.save(stored)
    shown = BookingEvidence.load(stored).explain([text("A", "카페")])["precedent"].iloc[0]
    assert shown.startswith("this client + counterparty: ") and shown.endswith("last 2024-04")
    assert np.allclose(
        model.lookup.probabilities(texts[:3]),
        PrecedentLookup.fit(
            texts, [label_slots.ids([c])[0] for c in frame["code"]], label_slots.max_classes
        ).probabilities(texts[:3]),
    ), "the dates and the phrase table leave the candidate's own probabilities as they were"


def test_ledger_predictions_reviews_against_the_precedent_and_reports_hit_rates(tmp_path: Path) -> None:
    """The asset end to end on a registered baseline champion and the precedent of its dataset version: the
    baseline books 커피 as 81100, the stored history five times as 82200."""
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    baseline = stored_baseline(tmp_path / "baseline" / "v1")
    history = [("party:카페 | item:커피", 1, "2023-12")] * 5
    precedent = stored_history(tmp_path / "precedent" / "v1", history)
    registry.register("precedent", "v1", precedent, "d1", {}, None)
    registry.set_alias(CHAMPION, registry.register("baseline", "v1", baseline.path, "d1", {}, None))
    _, features, _ = month_of(tmp_path, ledger_rows(2))
    with instance_for_test() as instance:
        output = ledger_predictions(
            build_asset_context(partition_key="2024-01-01", instance=instance),
            PredictionConfig(),
            features,
            LedgerSettings(home=str(tmp_path / "home")),
            ModelSettings(),
            ModelRegistryResource(tracking_uri=registry.tracking_uri),
        )
    table, metadata = output.value, output.metadata
    assert table["predicted_code"].tolist() == ["81100"] * 2
    assert table["precedent"].tolist() == ["same memo/item: 82200 차량유지비 5/5, last 2023-12"] * 2
    assert table["needs_review"].all() and metadata["review_rows"].value == 2
    assert set(table["review_reason"]) <= {
        DISAGREES_WITH_PRECEDENT,
        "low_confidence; disagrees with precedent 82200 (5/5)",
    }
    assert metadata["precedent_disagreements"].value == 2
    assert as_mapping(metadata["evidence_hit_rate_review"]) == {
        "review_rows": 2,
        "precedent": 0.0,
        "neighbour": 0.0,
        "proposal": 1.0,
        "rows_with_precedent": 2,
        "rows_with_neighbour": 2,
    }
