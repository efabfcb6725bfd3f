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

The same fit is the evidence shown beside every served proposal (`ml/candidates/evidence.py`), so the candidate and the
evidence never disagree about what the history says: each count table also keeps, per key, the latest booking
date, and `phrases` counts the codes per client + exact memo/item words (the evidence's fallback when the pair is
new; scoring never reads it, so the candidate's own probabilities are those of the five levels above). A lookup
stored before these existed unpickles with both as None (their class defaults) and has no evidence.
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

from acctax_assets.ml.candidates.stored import load_stored
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import KEY_ALIASES, TextSpec, text_fields
from acctax_assets.ml.evaluation.outputs import EVAL_SPLITS, EvalOutputs, FittedFolder, save_candidate_files

if TYPE_CHECKING:
    from scipy import sparse

    from acctax_assets.ml.candidates.evidence import NeighbourIndex

MODEL_FILE = "precedent.joblib"
# The similar-lines index stored beside the lookup (ml/candidates/evidence.py); absent in versions stored before evidence.
NEIGHBOURS_FILE = "neighbours.joblib"
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


# The `date:` field of a model text (dates are serialized as YYYY-MM-DD).
DATE_FIELD = r"(?:^| \| )date:(\d{4}-\d{2}-\d{2})(?: \| |$)"


def booking_dates(texts: Sequence[str], months: Sequence[str]) -> list[str]:
    """Each row's booking date as precisely as the dataset knows it: the `date:` field (YYYY-MM-DD) when `date` is a
    text feature, else the row's month (YYYY-MM; the default text features leave the day out, and ledger_dataset
    rows carry only text, code and month). One Arrow regex over the column: millions of rows at an office."""
    found = pd.Series(list(texts), dtype="string[pyarrow]").str.extract(DATE_FIELD, expand=False)
    month = pd.Series(list(months), dtype="string[pyarrow]").str.slice(0, 7)
    return found.fillna(month).astype(str).tolist()


@dataclass
class CountTable:
    """Booking counts per key value: a key -> row index, a (keys x slots) sparse count matrix, and per key the
    position in `PrecedentLookup.dates` of its latest booking (None when fitted without dates)."""

    index: dict[str, int]
    counts: sparse.csr_matrix
    latest: np.ndarray | None = None

    @classmethod
    def fit(
        cls, keys: Sequence[list[str]], labels: np.ndarray, slots: int, dates: np.ndarray | None = None
    ) -> CountTable:
        # Imported here: the Dagster code location imports this module for PrecedentRef and stays free of scipy.
        from scipy import sparse

        index: dict[str, int] = {}
        rows, columns, positions = [], [], []
        for position, (row_keys_, label) in enumerate(zip(keys, labels, strict=True)):
            for key in row_keys_:
                rows.append(index.setdefault(key, len(index)))
                columns.append(label)
                positions.append(position)
        counts = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float64), (rows, columns)), shape=(len(index), slots), dtype=np.float64
        )
        latest = None
        if dates is not None:
            latest = np.full(len(index), -1, dtype=np.int32)
            np.maximum.at(latest, np.asarray(rows, dtype=np.int64), dates[np.asarray(positions, dtype=np.int64)])
        return cls(index, counts, latest)

    def bookings(self, key: str | None) -> tuple[np.ndarray, np.ndarray, int]:
        """(slots, counts, latest date position) of one key's past bookings, most booked first (ties: lower slot);
        empty arrays and -1 for a key never seen."""
        found = self.index.get(key) if key is not None else None
        if found is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), -1
        row = self.counts.getrow(found)
        slots, counts = row.indices.astype(np.int64), row.data.astype(np.int64)
        order = np.lexsort((slots, -counts))
        latest = int(self.latest[found]) if self.latest is not None else -1
        return slots[order], counts[order], latest

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
    """Fitted count tables of every level, over the label slots."""

    tables: list[CountTable]
    prior: np.ndarray
    smoothing: float
    trained_ids: np.ndarray
    phrases: CountTable | None = None
    dates: np.ndarray | None = None

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        slots: int,
        smoothing: float = 1.0,
        dates: Sequence[str] | None = None,
    ) -> PrecedentLookup:
        """`dates`: each row's booking date (`booking_dates`), kept per key as its latest booking."""
        values = np.asarray(labels, dtype=np.int64)
        if len(values) == 0:
            raise ValueError("the precedent lookup needs at least one labelled row")
        parsed = [row_keys(text) for text in texts]
        # Dates as positions in their sorted distinct values: the latest booking of a key is its largest position.
        distinct, positions = None, None
        if dates is not None:
            distinct, inverse = np.unique(np.asarray(dates, dtype=str), return_inverse=True)
            positions = inverse.astype(np.int32)
        prior = np.bincount(values, minlength=slots).astype(np.float64)
        return cls(
            tables=[CountTable.fit(level, values, slots, positions) for level in _level_keys(parsed)],
            prior=prior / prior.sum(),
            smoothing=smoothing,
            trained_ids=np.flatnonzero(prior),
            phrases=CountTable.fit([_phrase_keys(row) for row in parsed], values, slots, positions),
            dates=distinct,
        )

    def score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows x slots) probabilities, and the index in LEVELS of the most specific level that decided each row."""
        keys = _level_keys([row_keys(text) for text in texts])
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


def phrase_key(client: str | None, words: list[str]) -> str | None:
    """Client + the exact set of memo/item words (None without words): the evidence's key when the pair is new."""
    return f"{client or ''}\x1f{' '.join(words)}" if words else None


def _phrase_keys(parsed: tuple[str | None, str | None, list[str], str | None]) -> list[str]:
    key = phrase_key(parsed[3], parsed[2])
    return [key] if key is not None else []


def _level_keys(parsed: Sequence[tuple[str | None, str | None, list[str], str | None]]) -> list[list[list[str]]]:
    """Per level (client+counterparty, counterparty, words, client), every row's keys (none, one, or its words)."""
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
    label_slots: LabelSlots
    metrics: dict[str, Any]
    eval_outputs: EvalOutputs
    text_spec: TextSpec
    neighbours: NeighbourIndex | None = None

    def save(self, folder: Path) -> None:
        joblib.dump(self.lookup, folder / MODEL_FILE)
        if self.neighbours is not None:
            joblib.dump(self.neighbours, folder / NEIGHBOURS_FILE)
        save_candidate_files(folder, self.label_slots, self.metrics, self.eval_outputs, self.text_spec)


class PrecedentRef(FittedFolder):
    """A stored precedent lookup version, as downstream receives it."""

    def load(self) -> PrecedentLookup:
        return load_stored(self.path / MODEL_FILE)


def level_table(levels: dict[str, dict[str, float]]) -> str:
    return pd.DataFrame(levels).rename_axis("decided by").to_markdown()
