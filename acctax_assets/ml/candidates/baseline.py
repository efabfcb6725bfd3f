"""The TF-IDF candidate: a linear model over the ledger's fields, its settings chosen on the valid split.

It is the yardstick every other candidate must beat, so it is built as a practitioner would build it, not as a
strawman (a plain char n-gram TF-IDF over the whole model text lost to a lookup of past bookings on a real ledger):

- Fields, not one string: `co_type:NULL | doc:NULL` placeholders carry nothing and are dropped; each field gives
  a whole-value token (`party=스타벅스 강남점` — the identity a clerk recognises), its words, and crosses that
  say how *this* client books *this* counterparty, and at which amount (`co×party`, `party×amount`,
  `co×party×amount`, `party×memo`).
- Character n-grams over the descriptive fields (counterparty, memo, item), which cope with Korean compounds and
  unseen branch names (스타벅스강남점 shares 스타벅 with 스타벅스 역삼점).
- Amounts as tokens of sign and order of magnitude (and of the serialized mantissa), so a rent and a coffee at
  the same landlord-café differ.
- A linear SVM (liblinear): on a real ledger it fits many times faster than a multinomial logistic regression over
  the same features, for the same accuracy (benchmarks/README.md, Figures without a script). Its margins become
  probabilities by a softmax whose scale is fitted on the valid split (negative log-likelihood), so the
  candidate can be mixed and thresholded like the others.

The settings (character n-gram range, word n-grams, class weighting, C) are chosen from a small grid on valid
only, in two stages (features at a middle C, then C and weighting for the chosen features): the full product cost
4x the fits for the same choice on the ledgers we measured. The served pipeline is then refitted with the chosen
settings on every labelled row (train + valid + test): the months just before the ones to propose are the most
informative, and the figures of the comparison stay those of the train-only fit.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np

from acctax_assets.ml.candidates.stored import load_stored
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import KEY_ALIASES, TextSpec, text_fields
from acctax_assets.ml.evaluation.metrics import classification_report
from acctax_assets.ml.evaluation.outputs import EVAL_SPLITS, EvalOutputs, FittedFolder, save_candidate_files

if TYPE_CHECKING:
    from scipy.sparse import spmatrix
    from sklearn.pipeline import FeatureUnion

MODEL_FILE = "model.joblib"
SEARCH_FILE = "settings_search.csv"

# Keys (as serialized) of amounts, of the fields read as characters, and of the crosses.
AMOUNT_KEYS = frozenset(KEY_ALIASES[c] for c in ("supply_amount", "vat_amount", "total_amount"))
COMPANY_KEY = KEY_ALIASES["company_name"]
PARTY_KEY = KEY_ALIASES["party_name"]
MEMO_KEY = KEY_ALIASES["desc"]
CHAR_KEYS = (PARTY_KEY, MEMO_KEY, "item", KEY_ALIASES["business_type"], KEY_ALIASES["business_item"])
AMOUNT_SHAPE = re.compile(r"^([+-])(\d)\.\d+e(-?\d+)$")
WORD = re.compile(r"\w+")


def _amount_tokens(key: str, value: str) -> list[str]:
    shape = AMOUNT_SHAPE.match(value)
    if shape is None:
        return [f"{key}={value}"]
    sign, _, exponent = shape.groups()
    return [f"{key}={sign}e{exponent}", f"{key}={value}"]


def _magnitude(fields: dict[str, str]) -> str | None:
    for key in sorted(AMOUNT_KEYS):
        if key in fields:
            return _amount_tokens(key, fields[key])[0].split("=", 1)[1]
    return None


def field_tokens(text: str, word_ngrams: int = 1) -> list[str]:
    """The whole-value, word, amount and cross tokens of one model text (module level: pickled with the model)."""
    fields = text_fields(text)
    tokens: list[str] = []
    for key, value in fields.items():
        if key in AMOUNT_KEYS:
            tokens += _amount_tokens(key, value)
            continue
        tokens.append(f"{key}={value}")
        words = [w.lower() for w in WORD.findall(value)]
        tokens += [f"{key}:{w}" for w in words]
        if word_ngrams > 1:
            tokens += [f"{key}:{a}_{b}" for a, b in itertools.pairwise(words)]
    party = fields.get(PARTY_KEY)
    if party is not None:
        if COMPANY_KEY in fields:
            tokens.append(f"co×party={fields[COMPANY_KEY]}×{party}")
        if MEMO_KEY in fields:
            tokens.append(f"party×memo={party}×{fields[MEMO_KEY]}")
        magnitude = _magnitude(fields)
        if magnitude is not None:
            tokens.append(f"party×amount={party}×{magnitude}")
            if COMPANY_KEY in fields:
                tokens.append(f"co×party×amount={fields[COMPANY_KEY]}×{party}×{magnitude}")
    return tokens


def unigram_tokens(text: str) -> list[str]:
    return field_tokens(text, 1)


def bigram_tokens(text: str) -> list[str]:
    return field_tokens(text, 2)


def descriptive_text(text: str) -> str:
    """The descriptive fields' values, for character n-grams (identities and amounts have their own tokens)."""
    fields = text_fields(text)
    return " ".join(fields[key] for key in CHAR_KEYS if key in fields)


@dataclass(frozen=True)
class BaselineSettings:
    """One point of the grid (and the fixed parts: feature cap, iterations, sample size, seed)."""

    char_ngram_min: int = 2
    char_ngram_max: int = 4
    word_ngrams: int = 1
    c: float = 1.0
    balanced: bool = False
    max_features: int = 300_000
    max_iter: int = 2_000
    max_train_rows: int | None = 200_000
    seed: int = 42

    @property
    def features(self) -> tuple[int, int, int]:
        return (self.char_ngram_min, self.char_ngram_max, self.word_ngrams)

    def describe(self) -> str:
        return (
            f"char {self.char_ngram_min}-{self.char_ngram_max}, word n-grams 1-{self.word_ngrams}, C={self.c:g}, "
            f"class weights {'balanced' if self.balanced else 'none'}"
        )


@dataclass(frozen=True)
class SettingsGrid:
    """The values tried on valid (README: baseline_classifier)."""

    char_ngrams: tuple[tuple[int, int], ...] = ((2, 4), (1, 3))
    word_ngrams: tuple[int, ...] = (1, 2)
    c: tuple[float, ...] = (0.3, 1.0, 3.0)
    balanced: tuple[bool, ...] = (False, True)

    def feature_points(self, base: BaselineSettings) -> Iterator[BaselineSettings]:
        for low, high in self.char_ngrams:
            for words in self.word_ngrams:
                yield replace(base, char_ngram_min=low, char_ngram_max=high, word_ngrams=words)

    def model_points(self, chosen: BaselineSettings) -> Iterator[BaselineSettings]:
        for c in self.c:
            for balanced in self.balanced:
                yield replace(chosen, c=c, balanced=balanced)


def _union(settings: BaselineSettings) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            (
                "fields",
                TfidfVectorizer(
                    analyzer=bigram_tokens if settings.word_ngrams > 1 else unigram_tokens,
                    sublinear_tf=True,
                    lowercase=False,
                    dtype=np.float32,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=descriptive_text,
                    analyzer="char_wb",
                    ngram_range=(settings.char_ngram_min, settings.char_ngram_max),
                    max_features=settings.max_features,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class SoftmaxLinearSVC:
    """A fitted LinearSVC whose margins become probabilities as softmax(scale * margin). Written here because
    scikit-learn's CalibratedClassifierCV refits the model per fold and calibrates one-vs-rest per class; one
    scale fitted on valid costs nothing and keeps every row's ranking."""

    def __init__(self, svc: Any, scale: float = 1.0) -> None:
        self.svc = svc
        self.scale = scale

    @property
    def classes_(self) -> np.ndarray:
        return self.svc.classes_

    def margins(self, features: spmatrix) -> np.ndarray:
        scores = np.asarray(self.svc.decision_function(features), dtype=np.float64)
        return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores

    def predict_proba(self, features: spmatrix) -> np.ndarray:
        return softmax_rows(self.scale * self.margins(features))

    def predict(self, features: spmatrix) -> np.ndarray:
        return self.classes_[self.margins(features).argmax(axis=1)]


def fit_scale(margins: np.ndarray, labels: np.ndarray) -> float:
    """The softmax scale that minimises the negative log-likelihood of `labels` (column indices) on valid."""
    from scipy.optimize import minimize_scalar

    if len(labels) == 0:
        return 1.0
    rows = np.arange(len(labels))

    def nll(log_scale: float) -> float:
        scaled = math.exp(log_scale) * margins
        shifted = scaled - scaled.max(axis=1, keepdims=True)
        return float((np.log(np.exp(shifted).sum(axis=1)) - shifted[rows, labels]).mean())

    return float(math.exp(minimize_scalar(nll, bounds=(-4.0, 5.0), method="bounded").x))


@dataclass
class TextClassifier:
    """Features and the scaled SVM: texts in, probabilities over the trained class ids out."""

    features: FeatureUnion
    model: SoftmaxLinearSVC
    settings: BaselineSettings

    @property
    def classes_(self) -> np.ndarray:
        return self.model.classes_

    @property
    def vocabulary(self) -> int:
        return sum(len(vectorizer.vocabulary_) for _, vectorizer in self.features.transformer_list)

    def margins(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.margins(self.features.transform(list(texts)))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[self.margins(texts).argmax(axis=1)]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return softmax_rows(self.model.scale * self.margins(texts))


def train_baseline(texts: Sequence[str], labels: Sequence[int], settings: BaselineSettings) -> TextClassifier:
    """Fitted pipeline (features + SVM with softmax scale 1) for one point of the grid."""
    if len(set(labels)) < 2:
        raise ValueError(f"the baseline needs at least 2 classes in train, got {len(set(labels))}")
    # Imported here: the Dagster code location imports this module for BaselineRef and stays free of scikit-learn.
    from sklearn.svm import LinearSVC

    features = _union(settings)
    matrix = features.fit_transform(list(texts))
    svc = LinearSVC(
        C=settings.c, class_weight="balanced" if settings.balanced else None, max_iter=settings.max_iter
    ).fit(matrix, np.asarray(labels))
    return TextClassifier(features, SoftmaxLinearSVC(svc), settings)


def calibrate(pipeline: TextClassifier, texts: Sequence[str], labels: Sequence[int]) -> TextClassifier:
    """Fit the softmax scale on held-out rows whose label the model was trained on."""
    known = np.isin(np.asarray(labels), pipeline.classes_)
    if known.any():
        margins = pipeline.margins([t for t, k in zip(texts, known, strict=True) if k])
        pipeline.model.scale = fit_scale(margins, np.searchsorted(pipeline.classes_, np.asarray(labels)[known]))
    return pipeline


def _valid_score(pipeline: TextClassifier, texts: Sequence[str], labels: np.ndarray, metric: str) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = pipeline.predict(texts)
    scores = {
        "valid_accuracy": float(accuracy_score(labels, predicted)),
        "valid_f1_macro": float(f1_score(labels, predicted, average="macro", zero_division=0)),
    }
    return {**scores, "score": scores[f"valid_{metric}"]}


def search_settings(
    train: tuple[Sequence[str], Sequence[int]],
    valid: tuple[Sequence[str], Sequence[int]],
    base: BaselineSettings,
    grid: SettingsGrid,
    metric: str,
    log: Any = None,
) -> tuple[BaselineSettings, TextClassifier, list[dict[str, Any]]]:
    """The grid point with the best valid `metric` (accuracy or f1_macro; ties: the earlier point, i.e. the
    simpler features and the smaller C), its train-only pipeline, and every point tried with its valid figures."""
    texts, labels = list(valid[0]), np.asarray(valid[1])
    tried: list[dict[str, Any]] = []
    best: tuple[float, BaselineSettings, TextClassifier] | None = None

    def attempt(settings: BaselineSettings, stage: str) -> None:
        nonlocal best
        started = time.perf_counter()
        pipeline = train_baseline(train[0], train[1], settings)
        scores = _valid_score(pipeline, texts, labels, metric)
        tried.append({"stage": stage, **asdict(settings), **scores, "seconds": time.perf_counter() - started})
        if log is not None:
            log(f"baseline {stage}: {settings.describe()}: valid {metric} {scores['score']:.4f}")
        if best is None or scores["score"] > best[0]:
            best = (scores["score"], settings, pipeline)

    for settings in grid.feature_points(base):
        attempt(settings, "features")
    assert best is not None
    chosen_features = best[1]
    for settings in grid.model_points(chosen_features):
        if settings != chosen_features:
            attempt(settings, "model")
    return best[1], best[2], tried


def stratified_subset(labels: Sequence[int], max_rows: int | None, seed: int) -> np.ndarray:
    """Row indices of at most ~`max_rows` train rows, the same share of every class and at least one row of each.

    The baseline is a yardstick: its linear model grows with rows x classes (an office's 2.8 M train rows
    x 250 codes ran for hours on 2 cores), while its figures barely move past a few hundred thousand rows.
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


def slot_probabilities(pipeline: TextClassifier, texts: Sequence[str], max_classes: int) -> np.ndarray:
    """predict_proba placed in label slots (rows x max_classes, float32): the same layout as the adapter's, so
    the two can be mixed; classes absent from train keep probability 0 and are never proposed."""
    probabilities = np.zeros((len(texts), max_classes), dtype=np.float32)
    if len(texts):
        probabilities[:, pipeline.classes_] = pipeline.predict_proba(list(texts))
    return probabilities


def evaluate_baseline(
    pipeline: TextClassifier, splits: dict[str, tuple[Sequence[str], Sequence[int]]], label_slots: LabelSlots
) -> tuple[dict[str, dict[str, Any]], EvalOutputs]:
    """The adapter's report (metrics.classification_report) per split, plus rows/s, and the per-row outputs."""
    reports, probabilities, labels = {}, {}, {}
    for split in EVAL_SPLITS:
        texts, split_labels = splits[split]
        started = time.perf_counter()
        probabilities[split] = slot_probabilities(pipeline, texts, label_slots.max_classes)
        seconds = time.perf_counter() - started
        labels[split] = np.asarray(split_labels, dtype=np.int64)
        reports[split] = classification_report(labels[split], probabilities[split].argmax(axis=1), label_slots)
        reports[split]["rows_per_second"] = len(texts) / seconds if seconds > 0 else 0.0
    return reports, EvalOutputs(labels=labels, probabilities=probabilities)


@dataclass(frozen=True)
class BaselineModel:
    """What `baseline_classifier` returns and its IO manager stores: the served (refitted) pipeline, the figures
    and per-row outputs of the train-only fit, and the settings search."""

    pipeline: TextClassifier
    label_slots: LabelSlots
    metrics: dict[str, Any]
    eval_outputs: EvalOutputs
    text_spec: TextSpec
    search: list[dict[str, Any]]

    def save(self, folder: Path) -> None:
        import pandas as pd

        joblib.dump(self.pipeline, folder / MODEL_FILE)
        save_candidate_files(folder, self.label_slots, self.metrics, self.eval_outputs, self.text_spec)
        pd.DataFrame(self.search).to_csv(folder / SEARCH_FILE, index=False)


class BaselineRef(FittedFolder):
    """A stored baseline version, as downstream receives it."""

    def load(self) -> TextClassifier:
        return load_stored(self.path / MODEL_FILE)
