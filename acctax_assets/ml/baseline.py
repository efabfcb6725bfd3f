"""The baseline the LoRA adapter must beat: TF-IDF over character n-grams + logistic regression (scikit-learn).

Character n-grams need no tokenizer and cope with Korean compounds (스타벅스강남점 shares 스타벅 with
스타벅스 역삼점). It trains on the same train split and is scored on the same test split as the adapter,
with the same report, so the two numbers are comparable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.metrics import classification_report

MODEL_FILE = "model.joblib"
BASELINE_METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class BaselineSettings:
    ngram_min: int = 1
    ngram_max: int = 3
    max_features: int = 200_000
    c: float = 10.0
    max_iter: int = 300
    balanced: bool = True


def train_baseline(texts: Sequence[str], labels: Sequence[int], settings: BaselineSettings) -> Pipeline:
    """Fitted pipeline; `balanced` weights classes by inverse frequency, like the adapter's weighted loss."""
    if len(set(labels)) < 2:
        raise ValueError(f"the baseline needs at least 2 classes in train, got {len(set(labels))}")
    pipeline = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(settings.ngram_min, settings.ngram_max),
                                      max_features=settings.max_features, sublinear_tf=True, dtype=np.float32)),
            ("logreg", LogisticRegression(C=settings.c, max_iter=settings.max_iter,
                                          class_weight="balanced" if settings.balanced else None)),
        ]
    )
    return pipeline.fit(list(texts), list(labels))


def evaluate_baseline(pipeline: Pipeline, texts: Sequence[str], labels: Sequence[int], registry: LabelRegistry) -> dict[str, Any]:
    """The adapter's report (metrics.classification_report) for the baseline's predictions, plus rows/s."""
    started = time.perf_counter()
    predicted = pipeline.predict(list(texts))
    seconds = time.perf_counter() - started
    report = classification_report(labels, predicted, registry)
    report["rows_per_second"] = len(texts) / seconds if seconds > 0 else 0.0
    return report


@dataclass(frozen=True)
class BaselineModel:
    """What `baseline_classifier` returns and its IO manager stores."""

    pipeline: Pipeline
    registry: LabelRegistry
    metrics: dict[str, Any]

    def save(self, folder: Path) -> None:
        joblib.dump(self.pipeline, folder / MODEL_FILE)
        self.registry.save(folder / REGISTRY_FILE)
        (folder / BASELINE_METRICS_FILE).write_text(json.dumps(self.metrics, ensure_ascii=False, indent=2), encoding="utf-8")


@dataclass(frozen=True)
class BaselineRef:
    """A stored baseline version, as downstream receives it."""

    path: Path

    @property
    def version(self) -> str:
        return self.path.name

    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / BASELINE_METRICS_FILE).read_text(encoding="utf-8"))

    def load(self) -> Pipeline:
        return joblib.load(self.path / MODEL_FILE)
