"""The TF-IDF baseline learns separable texts and reports like the adapter, over the registry's slots."""

import numpy as np
import pytest

from acctax_assets.ml.baseline import BaselineSettings, evaluate_baseline, train_baseline
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
