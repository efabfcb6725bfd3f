"""Prediction table, review reasons, scores, the office export and the baseline, without a model."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.export import office_layout, write_export
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file
from acctax_assets.ml.adapter import AdapterRef, compare_with_baseline
from acctax_assets.ml.baseline import BaselineSettings, evaluate_baseline, train_baseline
from acctax_assets.ml.evaluation import review_threshold
from acctax_assets.ml.predictions import Predictions
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry, RegistryMismatchError
from acctax_assets.ml.predictions import prediction_scores, prediction_table
from acctax_assets_tests.ledger_files import BASE_ROW, ledger_rows, write_ledger

REGISTRY = LabelRegistry(max_classes=8, codes=("81100", "82200", "83000"), names={"81100": "복리후생비", "82200": "차량유지비", "83000": "소모품비"})
THRESHOLD = review_threshold([0.95, 0.9, 0.85, 0.3], [True, True, True, False], target_accuracy=0.9, min_auto_rows=1)
SERVED = "ensemble 20250101T000000-abcd1234 (registry v3)"


def month_of(tmp_path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(raw, features, rejected) of one January file, through the real reader, cleaning and features."""
    landing = tmp_path / "landing"
    path = write_ledger(landing / "ledger_2024-01.csv", rows, columns=columns)
    raw = combine([read_ledger_file(path, load_column_map(), landing)])
    result = clean_ledger(raw, "2024-01-01", CleaningRules())
    return raw, build_features(result.cleaned), result.rejected


def predictions_for(count: int, confidence: list[float]) -> Predictions:
    ids = np.tile(np.array([[0, 1, 2]]), (count, 1))
    probs = np.array([[c, (1 - c) * 0.6, (1 - c) * 0.4] for c in confidence], dtype=np.float32)
    return Predictions(ids=ids, probs=probs, seconds=0.5)


def test_prediction_table_keeps_identity_proposal_alternatives_and_review_reason(tmp_path: Path) -> None:
    rows = ledger_rows(3)
    rows[2].update(party_name="", desc="", item="")
    _, features, _ = month_of(tmp_path, rows)
    table = prediction_table(features, predictions_for(3, [0.97, 0.5, 0.99]), REGISTRY, THRESHOLD, SERVED)
    assert table["source_row"].tolist() == [2, 3, 4] and table["voucher_key"].tolist()[0] == "2024-01-00001"
    assert table["predicted_code"].tolist() == ["81100"] * 3 and table["predicted_name"].iloc[0] == "복리후생비"
    assert table["top2_code"].iloc[0] == "82200" and table["top3_confidence"].iloc[0] == pytest.approx(0.03 * 0.4, rel=1e-3)
    assert table["confidence"].iloc[1] == pytest.approx(0.5)
    assert table["needs_review"].tolist() == [False, True, True]
    assert table["review_reason"].tolist() == ["", "low_confidence", "empty_text"], "blank text is reviewed even when confident"
    assert table["correct"].tolist() == [True, True, True]
    assert table["served_model"].tolist() == [SERVED] * 3


def test_scores_count_codes_the_adapter_never_saw_as_errors(tmp_path: Path) -> None:
    rows = ledger_rows(4)
    rows[3].update(acct_code="99999", acct_name="신규계정")
    _, features, _ = month_of(tmp_path, rows)
    table = prediction_table(features, predictions_for(4, [0.99, 0.99, 0.2, 0.2]), REGISTRY, THRESHOLD, SERVED)
    scores = prediction_scores(table, REGISTRY)
    assert scores is not None and scores.labelled_rows == 4
    assert scores.accuracy == 0.75 and scores.unknown_codes == ("99999",)
    assert scores.review_errors_caught == 1.0


def test_unlabelled_rows_have_no_scores(tmp_path: Path) -> None:
    columns = [c for c in BASE_ROW if c not in ("acct_code", "acct_name")]
    _, features, _ = month_of(tmp_path, ledger_rows(2), columns=columns)
    table = prediction_table(features, predictions_for(2, [0.9, 0.9]), REGISTRY, THRESHOLD, SERVED)
    assert table["true_code"].isna().all() and table["correct"].isna().all()
    assert prediction_scores(table, REGISTRY) is None


def test_empty_month_gives_an_empty_table_with_the_full_schema(tmp_path: Path) -> None:
    _, features, _ = month_of(tmp_path, ledger_rows(2, date="20230101"))
    assert features.empty
    table = prediction_table(features, Predictions.empty(), REGISTRY, THRESHOLD, SERVED)
    assert table.empty and {"predicted_code", "confidence", "needs_review", "source_file"} <= set(table.columns)


def test_office_export_keeps_every_raw_row_and_flags_rejected_ones(tmp_path: Path) -> None:
    rows = ledger_rows(4)
    rows[1]["date"] = "not a date"
    raw, features, rejected = month_of(tmp_path, rows)
    predictions = prediction_table(features, predictions_for(3, [0.99, 0.2, 0.99]), REGISTRY, THRESHOLD, SERVED)
    layout = office_layout(raw, predictions, rejected)
    assert len(layout) == len(raw) == 4
    assert layout["원본행"].tolist() == [2, 3, 4, 5]
    assert layout["계정과목코드"].tolist()[0] == "81100" and pd.isna(layout["계정과목코드"].iloc[1])
    assert layout["원계정과목코드"].tolist() == ["81100"] * 4, "the clerk's own codes are kept beside the proposal"
    assert layout["검토필요"].tolist() == ["N", "Y", "Y", "N"]
    assert layout["검토사유"].iloc[1] == "rejected:invalid_date" and layout["검토사유"].iloc[2] == "low_confidence"
    assert layout.columns[0] == "전표일자" and "거래처명" in layout.columns
    assert layout["추천모델"].iloc[0] == SERVED and pd.isna(layout["추천모델"].iloc[1]), "the proposing model is named; rejected rows have none"

    for fmt in ("csv", "xlsx"):
        path = write_export(layout, tmp_path / "exports" / f"proposals.{fmt}", fmt)
        back = pd.read_csv(path, encoding="utf-8-sig", dtype=str) if fmt == "csv" else pd.read_excel(path, dtype=str)
        assert back.shape == layout.shape and back["검토필요"].tolist() == ["N", "Y", "Y", "N"]
    assert path.read_bytes()[:2] == b"PK" and not list((tmp_path / "exports").glob(".*"))


def test_office_export_refuses_to_drop_rows(tmp_path: Path) -> None:
    raw, features, rejected = month_of(tmp_path, ledger_rows(3))
    predictions = prediction_table(features, predictions_for(3, [0.9] * 3), REGISTRY, THRESHOLD, SERVED).iloc[:2]
    with pytest.raises(ValueError, match="1 raw rows are neither"):
        office_layout(raw, predictions, rejected)


def test_adapter_registry_must_match_the_current_one(tmp_path: Path) -> None:
    REGISTRY.save(tmp_path / REGISTRY_FILE)
    adapter = AdapterRef(tmp_path)
    adapter.check_registry(REGISTRY.with_codes(["84800"]))
    swapped = LabelRegistry(max_classes=8, codes=("82200", "81100", "83000"))
    with pytest.raises(RegistryMismatchError, match="slot 0 is '81100' in the model but '82200' now"):
        adapter.check_registry(swapped)
    with pytest.raises(RegistryMismatchError, match="model has 8 slots, the registry 9"):
        adapter.check_registry(LabelRegistry(max_classes=9, codes=REGISTRY.codes))


def test_baseline_learns_separable_texts_and_reports_like_the_adapter() -> None:
    words = {0: ["커피", "간식", "식대"], 1: ["주유", "세차", "주차"], 2: ["복사지", "토너", "볼펜"]}
    rng = np.random.default_rng(0)
    labels = [int(i % 3) for i in range(120)]
    texts = [f"party:가게{rng.integers(50)} | item:{rng.choice(words[label])}" for label in labels]
    pipeline = train_baseline(texts[:90], labels[:90], BaselineSettings(max_iter=200))
    reports, outputs = evaluate_baseline(pipeline, {"valid": (texts[90:105], labels[90:105]), "test": (texts[105:], labels[105:])}, REGISTRY)
    report = reports["test"]
    assert report["accuracy"] == 1.0 and report["per_class"][0]["code"] == "81100" and report["rows_per_second"] > 0
    probabilities = outputs.probabilities["test"]
    assert probabilities.shape == (15, REGISTRY.max_classes)
    assert np.allclose(probabilities.sum(axis=1), 1.0) and (probabilities[:, 3:] == 0).all()
    assert (outputs.predicted("test") == np.asarray(labels[105:])).all()
    with pytest.raises(ValueError, match="at least 2 classes"):
        train_baseline(texts[:3], [0, 0, 0], BaselineSettings())


@pytest.mark.parametrize(
    "adapter_f1, baseline_f1, baseline_dataset, passed, phrase",
    [(0.8, 0.7, "v1", True, "beats"), (0.6, 0.7, "v1", False, "does not beat"), (0.7, 0.7, "v1", False, "does not beat"),
     (0.9, 0.7, "v0", False, "not comparable")],
)
def test_adapter_vs_baseline(adapter_f1: float, baseline_f1: float, baseline_dataset: str, passed: bool, phrase: str) -> None:
    verdict = compare_with_baseline({"f1_macro": adapter_f1}, {"test": {"f1_macro": baseline_f1}, "dataset_version": baseline_dataset}, "v1")
    assert verdict.passed is passed and phrase in verdict.reason
