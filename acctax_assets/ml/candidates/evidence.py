"""Evidence beside every proposal (numpy/pandas/scikit-learn, no Dagster): what the client's own history says.

Both kinds come from the precedent candidate of the served dataset version, fitted once per training and stored
with it, so the lookup the other candidates must beat and the evidence a clerk reads are the same counts:

- the precedent: how this client booked this counterparty before (else the same memo/item words): the top two codes
  with their counts and the latest booking, e.g. `this client + counterparty: 81100 복리후생비 14/16, 82600
  도서인쇄비 2/16, last 2024-12`, or `no history`;
- similar lines: the one to three most similar past lines of the same client (another client's when the client has
  none), by scikit-learn's NearestNeighbors (cosine) over a character n-gram TF-IDF, with their codes and dates.

A proposal against a strong precedent (`StrongPrecedent`) goes to review, saying so: a clerk who booked a
counterparty 81100 fourteen times of fifteen wants to see the line the model books elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from acctax_assets.ml.candidates.precedent import (
    COMPANY_KEY,
    MODEL_FILE,
    NEIGHBOURS_FILE,
    PARTY_KEY,
    WORD_KEYS,
    CountTable,
    PrecedentLookup,
    phrase_key,
    row_keys,
)
from acctax_assets.ml.candidates.stored import load_stored
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import text_fields

if TYPE_CHECKING:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

NO_HISTORY = "no history"
NO_PRECEDENT_STORED = "no precedent stored for this model version"
NEIGHBOURS = 3
# What the precedent says, per level it was read at.
PAIR_LEVEL = "this client + counterparty"
PHRASE_LEVEL = "this client, same memo/item"
# A ledger without client names: the memo/item words of every booking.
WORDS_LEVEL = "same memo/item"
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "precedent",
    "precedent_code",
    "precedent_count",
    "precedent_total",
    "similar_lines",
    "neighbour_code",
)


def _search_text(fields: dict[str, str]) -> str:
    """Every field value but the client's (all of a client's lines share it), for character n-grams."""
    return " ".join(value for key, value in fields.items() if key != COMPANY_KEY)


def _shown_line(fields: dict[str, str]) -> str:
    """What a clerk recognises a past line by: counterparty, memo, item."""
    shown = [fields[key] for key in (PARTY_KEY, *WORD_KEYS) if key in fields]
    return " · ".join(shown) if shown else _search_text(fields)


@dataclass(frozen=True)
class Neighbour:
    line: str
    slot: int
    date: str
    similarity: float
    client: str | None


@dataclass
class NeighbourIndex:
    """The most recent labelled lines of each client as TF-IDF rows, searched by cosine NearestNeighbors.

    Memory is bounded by construction: only the `per_client` most recent lines of each client are indexed (an
    office's millions of lines would be a sparse matrix of several GB, and a clerk wants the latest bookings, not
    all of them: ~1 KB a line, so 1,000 lines x 500 clients is ~0.5 GB), and a client without history is matched
    against the `pool` most recent of those lines. Rows are sorted by client so each client's lines are one slice
    of one matrix; the brute-force NearestNeighbors over a slice is built when queried (it only stores its rows),
    so no line is held twice."""

    vectorizer: TfidfVectorizer
    matrix: sparse.csr_matrix
    spans: dict[str, tuple[int, int]]
    pool: np.ndarray
    slots: np.ndarray
    dates: np.ndarray
    lines: np.ndarray
    clients: np.ndarray

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        dates: Sequence[str],
        per_client: int = 1_000,
        pool: int = 20_000,
    ) -> NeighbourIndex:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not len(texts):
            raise ValueError("the similar-lines index needs at least one labelled row")
        fields = [text_fields(text) for text in texts]
        rows = pd.DataFrame(
            {
                "client": [f.get(COMPANY_KEY, "") for f in fields],
                "date": np.asarray(dates, dtype=str),
                "position": np.arange(len(texts)),
            }
        )
        # Most recent first (a later row of the same date counts as more recent), then each client's first lines.
        recent = rows.sort_values(["client", "date", "position"], ascending=[True, False, False], kind="stable")
        kept = recent.groupby("client", sort=False).head(per_client).reset_index(drop=True)
        positions = kept["position"].to_numpy()
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True, dtype=np.float32, max_features=200_000
        )
        matrix = vectorizer.fit_transform([_search_text(fields[p]) for p in positions]).tocsr()
        starts = kept.groupby("client", sort=False).indices
        newest = kept.sort_values(["date", "position"], ascending=False, kind="stable").index.to_numpy()[:pool]
        return cls(
            vectorizer=vectorizer,
            matrix=matrix,
            spans={client: (int(at.min()), int(at.max()) + 1) for client, at in starts.items()},
            pool=np.sort(newest),
            slots=np.asarray(labels, dtype=np.int64)[positions],
            dates=kept["date"].to_numpy(dtype=str),
            lines=np.asarray([_shown_line(fields[p]) for p in positions], dtype=str),
            clients=kept["client"].to_numpy(dtype=str),
        )

    def similar(self, texts: Sequence[str], k: int = NEIGHBOURS) -> list[list[Neighbour]]:
        """Per text, up to `k` past lines by decreasing cosine similarity (above 0): the same client's, or, for a
        client without indexed lines, the recent pool's (other clients')."""
        from sklearn.neighbors import NearestNeighbors

        fields = [text_fields(text) for text in texts]
        queries = self.vectorizer.transform([_search_text(f) for f in fields]).tocsr()
        found: list[list[Neighbour]] = [[] for _ in texts]
        groups = pd.Series(range(len(texts))).groupby([f.get(COMPANY_KEY, "") for f in fields]).indices
        for client, members in groups.items():
            span = self.spans.get(client)
            candidates = np.arange(*span) if span is not None else self.pool
            if not len(candidates):
                continue
            search = NearestNeighbors(n_neighbors=min(k, len(candidates)), metric="cosine", algorithm="brute")
            distances, nearest = search.fit(self.matrix[candidates]).kneighbors(queries[members])
            for member, row_distances, row_nearest in zip(members, distances, nearest, strict=True):
                found[member] = [
                    Neighbour(
                        line=str(self.lines[row]),
                        slot=int(self.slots[row]),
                        date=str(self.dates[row]),
                        similarity=float(1.0 - distance),
                        client=None if span is not None else str(self.clients[row]),
                    )
                    for distance, row in zip(row_distances, candidates[row_nearest], strict=True)
                    if distance < 1.0 - 1e-6
                ]
        return found


@dataclass(frozen=True)
class StrongPrecedent:
    """A precedent strong enough that a proposal against it needs a person: at least `min_bookings` bookings and
    `min_share` of them on one other code. The defaults are measured (benchmarks/evidence_hit_rate.py, figures in
    benchmarks/README.md): a looser rule sent many more confident rows to review and caught no more wrong ones."""

    min_bookings: int = 5
    min_share: float = 0.9

    def disagrees(self, evidence: pd.DataFrame, proposed: pd.Series) -> np.ndarray:
        total = evidence["precedent_total"].to_numpy(dtype=np.int64)
        top = evidence["precedent_count"].to_numpy(dtype=np.int64)
        strong = (total >= self.min_bookings) & (top >= self.min_share * np.maximum(total, 1))
        other = (evidence["precedent_code"].astype("string") != proposed.astype("string")).fillna(False)
        return strong & other.to_numpy(dtype=bool)


@dataclass(frozen=True)
class StoredHistory:
    """What a precedent candidate stores for evidence: its lookup's pair table and phrase table with their latest
    dates, its similar-lines index, and the label slots naming the codes."""

    pairs: CountTable
    phrases: CountTable
    dates: np.ndarray
    neighbours: NeighbourIndex
    label_slots: LabelSlots

    def code(self, slot: int) -> str:
        return self.label_slots.codes[slot]

    def precedent(self, text: str) -> dict[str, Any]:
        pair, _, words, client = row_keys(text)
        level, (slots, counts, latest) = PAIR_LEVEL, self.pairs.bookings(pair)
        if not len(slots):
            level = PHRASE_LEVEL if client is not None else WORDS_LEVEL
            slots, counts, latest = self.phrases.bookings(phrase_key(client, words))
        if not len(slots):
            return {"precedent": NO_HISTORY, "precedent_code": None, "precedent_count": 0, "precedent_total": 0}
        total = int(counts.sum())
        shown = ", ".join(
            f"{self.code(int(slot))} {self.label_slots.names.get(self.code(int(slot)), '')} {int(count)}/{total}"
            for slot, count in zip(slots[:2], counts[:2], strict=True)
        )
        last = f", last {self.dates[latest]}" if latest >= 0 else ""
        return {
            "precedent": f"{level}: {shown}{last}",
            "precedent_code": self.code(int(slots[0])),
            "precedent_count": int(counts[0]),
            "precedent_total": total,
        }

    def similar(self, neighbours: list[Neighbour]) -> dict[str, Any]:
        if not neighbours:
            return {"similar_lines": NO_HISTORY, "neighbour_code": None}
        shown = "; ".join(
            (f"other client {n.client}: " if n.client is not None else "")
            + f"{n.date} {self.code(n.slot)} {n.line} ({n.similarity:.2f})"
            for n in neighbours
        )
        return {"similar_lines": shown, "neighbour_code": self.code(neighbours[0].slot)}


EVIDENCE_DTYPES: dict[str, str] = {
    "precedent": "string",
    "precedent_code": "string",
    "precedent_count": "int64",
    "precedent_total": "int64",
    "similar_lines": "string",
    "neighbour_code": "string",
}


@dataclass(frozen=True)
class BookingEvidence:
    """The stored history of one precedent candidate, or (None) why there is none: `missing` is then what every
    row's evidence says."""

    history: StoredHistory | None
    missing: str = NO_PRECEDENT_STORED

    @classmethod
    def load(cls, folder: Path) -> BookingEvidence:
        """The evidence stored in a precedent candidate's folder; a version stored before evidence existed (no
        similar-lines index, a lookup without dates) has none, and says so instead of failing."""
        if not (folder / NEIGHBOURS_FILE).is_file() or not (folder / MODEL_FILE).is_file():
            return cls(None)
        lookup: PrecedentLookup = load_stored(folder / MODEL_FILE)
        if lookup.phrases is None or lookup.dates is None:
            return cls(None)
        label_slots = LabelSlots.read(folder / LABEL_SLOTS_FILE)
        return cls(
            StoredHistory(
                lookup.tables[0], lookup.phrases, lookup.dates, load_stored(folder / NEIGHBOURS_FILE), label_slots
            )
        )

    def explain(self, texts: Sequence[str]) -> pd.DataFrame:
        """One row per text (columns EVIDENCE_COLUMNS); each distinct text is explained once."""
        distinct, row_text = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
        history = self.history
        if history is None:
            rows = [
                {"precedent": self.missing, "precedent_count": 0, "precedent_total": 0, "similar_lines": self.missing}
            ] * len(distinct)
        else:
            similar = history.neighbours.similar(distinct.tolist()) if len(distinct) else []
            rows = [
                {**history.precedent(text), **history.similar(near)}
                for text, near in zip(distinct.tolist(), similar, strict=True)
            ]
        frame = pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS)).iloc[row_text].reset_index(drop=True)
        return frame.astype(EVIDENCE_DTYPES)


def evidence_hit_rates(table: pd.DataFrame) -> dict[str, float | int] | None:
    """On the labelled rows sent to review: how often the precedent's top code and the nearest line's code are the
    clerk's code (a row without that evidence counts as a miss), beside the proposal's own rate; None when the
    month has no labelled review row or no evidence."""
    if "precedent_code" not in table or "true_code" not in table:
        return None
    review = table[table["needs_review"].astype(bool) & table["true_code"].notna()]
    if review.empty:
        return None
    truth = review["true_code"].astype("string")

    def rate(column: str) -> float:
        return round(float((review[column].astype("string") == truth).fillna(False).mean()), 4)

    return {
        "review_rows": len(review),
        "precedent": rate("precedent_code"),
        "neighbour": rate("neighbour_code"),
        "proposal": rate("predicted_code"),
        "rows_with_precedent": int(review["precedent_code"].notna().sum()),
        "rows_with_neighbour": int(review["neighbour_code"].notna().sum()),
    }
