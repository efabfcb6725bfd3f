"""The TF-IDF baseline learns separable texts and reports like the adapter, over the registry's slots."""

from dataclasses import asdict

import numpy as np
import pytest

from acctax_assets.ml.candidates.baseline import (
    BaselineSettings,
    SettingsGrid,
    calibrate,
    descriptive_text,
    evaluate_baseline,
    field_tokens,
    search_settings,
    stratified_subset,
    train_baseline,
)
from acctax_assets_tests.support.ml_frames import LABEL_SLOTS


def test_baseline_learns_separable_texts_and_reports_like_the_adapter() -> None:
    words = {0: ["커피", "간식", "식대"], 1: ["주유", "세차", "주차"], 2: ["복사지", "토너", "볼펜"]}
    rng = np.random.default_rng(0)
    labels = [int(i % 3) for i in range(120)]
    texts = [f"party:가게{rng.integers(50)} | item:{rng.choice(words[label])}" for label in labels]
    pipeline = train_baseline(texts[:90], labels[:90], BaselineSettings(max_iter=200))
    reports, outputs = evaluate_baseline(
        pipeline, {"valid": (texts[90:105], labels[90:105]), "test": (texts[105:], labels[105:])}, LABEL_SLOTS
    )
    report = reports["test"]
    assert report["accuracy"] == 1.0 and report["per_class"][0]["code"] == "81100" and report["rows_per_second"] > 0
    probabilities = outputs.probabilities["test"]
    assert probabilities.shape == (15, LABEL_SLOTS.max_classes)
    assert np.allclose(probabilities.sum(axis=1), 1.0) and (probabilities[:, 3:] == 0).all()
    assert (outputs.predicted("test") == np.asarray(labels[105:])).all()
    with pytest.raises(ValueError, match="at least 2 classes"):
        train_baseline(texts[:3], [0, 0, 0], BaselineSettings())


def test_the_training_sample_keeps_every_class_in_proportion_and_is_reproducible() -> None:
    labels = [0] * 9000 + [1] * 900 + [2] * 99 + [3]
    rows = stratified_subset(labels, 1000, seed=1)
    kept = np.bincount(np.asarray(labels)[rows], minlength=4)
    assert kept.tolist() == [900, 90, 10, 1], "the same share of every class, a singleton class kept"
    assert (rows == stratified_subset(labels, 1000, seed=1)).all() and (np.diff(rows) > 0).all()
    assert len(stratified_subset(labels, None, seed=1)) == len(labels) == len(stratified_subset(labels, 20_000, 1))


def test_fields_drop_empty_placeholders_and_carry_identity_crosses_and_amounts() -> None:
    tokens = field_tokens("co:한빛 | co_type:NULL | party:스타벅스 강남점 | doc:NULL | amt:+4.5e3 | memo:커피 구입")
    assert not [t for t in tokens if "NULL" in t or t.startswith(("co_type", "doc"))], "placeholders carry nothing"
    assert {"party=스타벅스 강남점", "party:강남점", "amt=+e3", "amt=+4.5e3", "co×party=한빛×스타벅스 강남점"} <= set(
        tokens
    )
    assert {"party×amount=스타벅스 강남점×+e3", "party×memo=스타벅스 강남점×커피 구입"} <= set(tokens)
    assert "memo:커피_구입" in field_tokens("memo:커피 구입", word_ngrams=2)
    assert descriptive_text("co:한빛 | party:스타벅스 | amt:+4.5e3 | memo:커피") == "스타벅스 커피"


def grid_data() -> tuple[tuple[list[str], list[int]], tuple[list[str], list[int]], tuple[list[str], list[int]]]:
    """The label follows the party in train and valid; in 'test' it follows the memo (never looked at by the search)."""
    rng = np.random.default_rng(3)

    def rows(n: int, by_memo: bool) -> tuple[list[str], list[int]]:
        labels = [int(i % 3) for i in range(n)]
        party = [int(label if not by_memo else rng.integers(3)) for label in labels]
        memo = [int(rng.integers(3) if not by_memo else label) for label in labels]
        return [f"party:가게{p} | memo:항목{m}" for p, m in zip(party, memo, strict=True)], labels

    return rows(90, False), rows(30, False), rows(30, True)


def test_settings_are_chosen_on_valid_only_and_every_point_is_reported() -> None:
    train, valid, test = grid_data()
    grid = SettingsGrid(char_ngrams=((2, 4), (1, 3)), word_ngrams=(1,), c=(0.3, 1.0), balanced=(False, True))
    chosen, pipeline, tried = search_settings(train, valid, BaselineSettings(), grid, "accuracy")
    assert len(tried) == 2 + 3, "2 feature points, then C x weighting around the chosen features (one is shared)"
    assert [t["stage"] for t in tried] == ["features", "features", "model", "model", "model"]
    best = max(tried, key=lambda t: t["score"])
    assert chosen.describe() == BaselineSettings(**{k: best[k] for k in asdict(chosen)}).describe()
    assert (pipeline.predict(valid[0]) == np.asarray(valid[1])).mean() == best["valid_accuracy"]
    again, _, _ = search_settings(train, valid, BaselineSettings(), grid, "accuracy")
    assert again == chosen, "test rows are never an input of the search"
    calibrate(pipeline, *valid)
    probabilities = pipeline.predict_proba(test[0])
    assert np.allclose(probabilities.sum(axis=1), 1.0) and pipeline.model.scale > 0
    assert (probabilities.argmax(axis=1) == pipeline.predict(test[0])).all(), "the softmax scale keeps the ranking"
