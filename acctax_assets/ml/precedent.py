"""The precedent candidate: how this client booked this counterparty before (pure numpy/scipy, no Dagster).

What a clerk does first, and on real payment ledgers a strong yardstick (a lookup of past bookings beat the
served model on one of them). Each row's class distribution is the counts of past bookings at the most specific
level it has, smoothed towards the level below, so an unseen pair falls back gracefully:

    client + counterparty  ->  counterparty  ->  memo/item words  ->  client  ->  every booking

p_level = (counts_level + smoothing * p_below) / (rows_level + smoothing); a level the row has no value for, or
whose value was never seen, passes p_below through. A tie at one level is broken by the level below (then by the
lower slot id). A ledger without a counterparty column, or with a single client, simply has those levels empty:
the share of rows decided at each level is reported. Written here because it is a few sparse products, and a
scikit-learn model would hide the back-off that makes it explainable to a clerk ("booked 81100 the last 7 times").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd

from acctax_assets.ml.eval_outputs import EVAL_SPLITS, CandidateFolder, EvalOutputs, save_candidate_files
from acctax_assets.ml.label_registry import LabelRegistry
from acctax_assets.ml.serialization import KEY_ALIASES, TextSpec, text_fields

if TYPE_CHECKING:
    from scipy import sparse

MODEL_FILE = "precedent.joblib"
LEVELS: tuple[str, ...] = ("client+counterparty", "counterparty", "memo/item words", "client", "all bookings")
COMPANY_KEY = KEY_ALIASES["company_name"]
PARTY_KEY = KEY_ALIASES["party_name"]
WORD_KEYS: tuple[str, ...] = (KEY_ALIASES["desc"], "item")
WORD = re.compile(r"\w+")


def row_keys(text: str) -> tuple[str | None, str | None, list[str], str | None]:
    """(client+counterparty, counterparty, memo/item words, client) of one model text; None where absent."""
    fields = text_fields(text)
    client, party = fields.get(COMPANY_KEY), fields.get(PARTY_KEY)
    words = sorted({f"{key}:{w.lower()}" for key in WORD_KEYS for w in WORD.findall(fields.get(key, ""))})
    pair = f"{client}\x1f{party}" if client is not None and party is not None else None
    return pair, party, words, client


@dataclass
class CountTable:
    """Booking counts per key value: a key -> row index, and a (keys x slots) sparse count matrix."""

    index: dict[str, int]
    counts: sparse.csr_matrix

    @classmethod
    def fit(cls, keys: Sequence[list[str]], labels: np.ndarray, slots: int) -> CountTable:
        # Imported here: the Dagster code location imports this module for PrecedentRef and stays free of scipy.
        from scipy import sparse

        index: dict[str, int] = {}
        rows, columns = [], []
        for row_keys_, label in zip(keys, labels, strict=True):
            for key in row_keys_:
                rows.append(index.setdefault(key, len(index)))
                columns.append(label)
        counts = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float64), (rows, columns)), shape=(len(index), slots), dtype=np.float64
        )
        return cls(index, counts)

    def gather(self, keys: Sequence[list[str]]) -> sparse.csr_matrix:
        """(rows x slots) summed counts of each row's known keys."""
        from scipy import sparse

        rows, columns = [], []
        for position, row_keys_ in enumerate(keys):
            for key in row_keys_:
                found = self.index.get(key)
                if found is not None:
                    rows.append(position)
                    columns.append(found)
        incidence = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, columns)), shape=(len(keys), len(self.index)), dtype=np.float64
        )
        return incidence @ self.counts


@dataclass
class PrecedentLookup:
    """Fitted count tables of every level, over the registry's slots."""

    tables: list[CountTable]
    prior: np.ndarray
    smoothing: float
    trained_ids: np.ndarray

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[int], slots: int, smoothing: float = 1.0) -> PrecedentLookup:
        values = np.asarray(labels, dtype=np.int64)
        if len(values) == 0:
            raise ValueError("the precedent lookup needs at least one labelled row")
        keys = _level_keys(texts)
        prior = np.bincount(values, minlength=slots).astype(np.float64)
        return cls(
            tables=[CountTable.fit(level, values, slots) for level in keys],
            prior=prior / prior.sum(),
            smoothing=smoothing,
            trained_ids=np.flatnonzero(prior),
        )

    def score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows x slots) probabilities, and the index in LEVELS of the most specific level that decided each row."""
        keys = _level_keys(texts)
        probabilities = np.tile(self.prior, (len(texts), 1))
        decided = np.full(len(texts), len(LEVELS) - 1, dtype=np.int64)
        # From the most general level up: each more specific level is smoothed towards the one below it.
        for level in reversed(range(len(self.tables))):
            counts = self.tables[level].gather(keys[level]).toarray()
            totals = counts.sum(axis=1, keepdims=True)
            probabilities = (counts + self.smoothing * probabilities) / (totals + self.smoothing)
            decided = np.where(totals[:, 0] > 0, level, decided)
        return probabilities.astype(np.float32), decided

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self.score(texts)[0]


def _level_keys(texts: Sequence[str]) -> list[list[list[str]]]:
    """Per level (client+counterparty, counterparty, words, client), every row's keys (none, one, or its words)."""
    parsed = [row_keys(text) for text in texts]
    return [
        [[pair] if pair is not None else [] for pair, _, _, _ in parsed],
        [[party] if party is not None else [] for _, party, _, _ in parsed],
        [words for _, _, words, _ in parsed],
        [[client] if client is not None else [] for _, _, _, client in parsed],
    ]


def level_shares(decided: np.ndarray) -> dict[str, float]:
    """Share of rows decided at each level (what the lookup could use on this ledger)."""
    counts = np.bincount(decided, minlength=len(LEVELS))
    total = max(int(counts.sum()), 1)
    return {name: round(float(n) / total, 4) for name, n in zip(LEVELS, counts, strict=True)}


def evaluate_precedent(
    lookup: PrecedentLookup, splits: dict[str, tuple[Sequence[str], Sequence[int]]]
) -> tuple[EvalOutputs, dict[str, dict[str, float]]]:
    """Per-row outputs on valid/test and, per split, the share of rows decided at each level."""
    probabilities, labels, levels = {}, {}, {}
    for split in EVAL_SPLITS:
        texts, split_labels = splits[split]
        probabilities[split], decided = lookup.score(list(texts))
        labels[split] = np.asarray(split_labels, dtype=np.int64)
        levels[split] = level_shares(decided)
    return EvalOutputs(labels=labels, probabilities=probabilities), levels


@dataclass(frozen=True)
class PrecedentModel:
    """What `precedent_classifier` returns and its IO manager stores."""

    lookup: PrecedentLookup
    registry: LabelRegistry
    metrics: dict[str, Any]
    eval_outputs: EvalOutputs
    text_spec: TextSpec

    def save(self, folder: Path) -> None:
        joblib.dump(self.lookup, folder / MODEL_FILE)
        save_candidate_files(folder, self.registry, self.metrics, self.eval_outputs, self.text_spec)


class PrecedentRef(CandidateFolder):
    """A stored precedent lookup version, as downstream receives it."""

    def load(self) -> PrecedentLookup:
        return joblib.load(self.path / MODEL_FILE)


def level_table(levels: dict[str, dict[str, float]]) -> str:
    return pd.DataFrame(levels).rename_axis("decided by").to_markdown()
