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
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np

from acctax_assets.ml.eval_outputs import EVAL_SPLITS, EvalOutputs
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.metrics import classification_report
from acctax_assets.ml.serialization import TextSpec

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

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
    max_train_rows: int | None = 200_000
    seed: int = 42


def stratified_subset(labels: Sequence[int], max_rows: int | None, seed: int) -> np.ndarray:
    """Row indices of at most ~`max_rows` train rows, the same share of every class and at least one row of each.

    The baseline is a yardstick: its logistic regression grows with rows x classes (an office's 2.8 M train rows
    x 250 codes ran for hours on 2 cores), while its macro F1 barely moves past a few hundred thousand rows.
    Written here because scikit-learn's stratified splitters refuse classes with a single row, which ledgers have.
    """
    values = np.asarray(labels)
    if max_rows is None or len(values) <= max_rows:
        return np.arange(len(values))
    share = max_rows / len(values)
    rng = np.random.default_rng(seed)
    kept = []
    for label in np.unique(values):
        rows = np.flatnonzero(values == label)
        kept.append(rng.permutation(rows)[: max(1, int(round(len(rows) * share)))])
    return np.sort(np.concatenate(kept))


def train_baseline(texts: Sequence[str], labels: Sequence[int], settings: BaselineSettings) -> Pipeline:
    """Fitted pipeline; `balanced` weights classes by inverse frequency, like the adapter's weighted loss."""
    if len(set(labels)) < 2:
        raise ValueError(f"the baseline needs at least 2 classes in train, got {len(set(labels))}")
    # Imported here: the Dagster code location imports this module for BaselineRef and stays free of scikit-learn.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(settings.ngram_min, settings.ngram_max),
                    max_features=settings.max_features,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
            (
                "logreg",
                LogisticRegression(
                    C=settings.c, max_iter=settings.max_iter, class_weight="balanced" if settings.balanced else None
                ),
            ),
        ]
    )
    return pipeline.fit(list(texts), list(labels))


def slot_probabilities(pipeline: Pipeline, texts: Sequence[str], max_classes: int) -> np.ndarray:
    """predict_proba placed in registry slots (rows x max_classes, float32): the same layout as the adapter's, so
    the two can be mixed; classes absent from train keep probability 0 and are never proposed."""
    probabilities = np.zeros((len(texts), max_classes), dtype=np.float32)
    if len(texts):
        probabilities[:, pipeline.classes_] = pipeline.predict_proba(list(texts))
    return probabilities


def evaluate_baseline(
    pipeline: Pipeline, splits: dict[str, tuple[Sequence[str], Sequence[int]]], registry: LabelRegistry
) -> tuple[dict[str, dict[str, Any]], EvalOutputs]:
    """The adapter's report (metrics.classification_report) per split, plus rows/s, and the per-row outputs."""
    reports, probabilities, labels = {}, {}, {}
    for split in EVAL_SPLITS:
        texts, split_labels = splits[split]
        started = time.perf_counter()
        probabilities[split] = slot_probabilities(pipeline, texts, registry.max_classes)
        seconds = time.perf_counter() - started
        labels[split] = np.asarray(split_labels, dtype=np.int64)
        reports[split] = classification_report(labels[split], probabilities[split].argmax(axis=1), registry)
        reports[split]["rows_per_second"] = len(texts) / seconds if seconds > 0 else 0.0
    return reports, EvalOutputs(labels=labels, probabilities=probabilities)


@dataclass(frozen=True)
class BaselineModel:
    """What `baseline_classifier` returns and its IO manager stores."""

    pipeline: Pipeline
    registry: LabelRegistry
    metrics: dict[str, Any]
    eval_outputs: EvalOutputs
    text_spec: TextSpec

    def save(self, folder: Path) -> None:
        joblib.dump(self.pipeline, folder / MODEL_FILE)
        self.registry.save(folder / REGISTRY_FILE)
        self.eval_outputs.save(folder)
        self.text_spec.save(folder)
        (folder / BASELINE_METRICS_FILE).write_text(
            json.dumps(self.metrics, ensure_ascii=False, indent=2), encoding="utf-8"
        )


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

    def registry(self) -> LabelRegistry:
        return LabelRegistry.from_json((self.path / REGISTRY_FILE).read_text(encoding="utf-8"))

    def eval_outputs(self) -> EvalOutputs:
        return EvalOutputs.load(self.path)

    def text_spec(self) -> TextSpec:
        return TextSpec.load(self.path)
