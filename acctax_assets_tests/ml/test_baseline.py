"""The TF-IDF baseline learns separable texts and reports like the adapter, over the registry's slots."""

import numpy as np
import pytest

from acctax_assets.ml.baseline import BaselineSettings, evaluate_baseline, stratified_subset, train_baseline
from acctax_assets_tests.support.ml_frames import REGISTRY


def test_baseline_learns_separable_texts_and_reports_like_the_adapter() -> None:
    words = {0: ["커피", "간식", "식대"], 1: ["주유", "세차", "주차"], 2: ["복사지", "토너", "볼펜"]}
    rng = np.random.default_rng(0)
    labels = [int(i % 3) for i in range(120)]
    texts = [f"party:가게{rng.integers(50)} | item:{rng.choice(words[label])}" for label in labels]
    pipeline = train_baseline(texts[:90], labels[:90], BaselineSettings(max_iter=200))
    reports, outputs = evaluate_baseline(
        pipeline, {"valid": (texts[90:105], labels[90:105]), "test": (texts[105:], labels[105:])}, REGISTRY
    )
    report = reports["test"]
    assert report["accuracy"] == 1.0 and report["per_class"][0]["code"] == "81100" and report["rows_per_second"] > 0
    probabilities = outputs.probabilities["test"]
    assert probabilities.shape == (15, REGISTRY.max_classes)
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
