"""A month's feature rows + the classifier's top-k -> the prediction table a clerk works from (pure pandas).

Every row keeps its identity (source file and row, voucher key) so a proposal can be traced back to the line
in the office's export, carries the evidence beside it (the client's precedent and similar past lines, see
`ml/candidates/evidence.py`) and the reason it needs review, if it does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from acctax_assets.ledger.parsing import TEXT
from acctax_assets.ledger.schema import LABEL_COLUMN, SOURCE_FILE, SOURCE_ROW
from acctax_assets.ml.candidates.evidence import StrongPrecedent
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.confidence import ReviewThreshold

IDENTITY_COLUMNS: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW, "voucher_key", "journal_key_count")
CONTEXT_COLUMNS: tuple[str, ...] = ("date", "company_name", "party_name", "item", "total_amount")
# Without any of these the model sees only amounts and codes: its proposal is a guess whatever its confidence.
DESCRIPTIVE_COLUMNS: tuple[str, ...] = ("party_name", "desc", "item")


# Proposals kept per row: the clerk sees the best code and two alternatives.
TOP_K = 3
# A confident proposal against a strong precedent: reviewed with this reason (a reviewed one gets a note instead).
DISAGREES_WITH_PRECEDENT = "disagrees_with_precedent"


@dataclass(frozen=True)
class Predictions:
    """Class ids and probabilities, best first: `ids[i, 0]` is row i's proposal, `probs[i, 0]` its confidence."""

    ids: np.ndarray
    probs: np.ndarray
    seconds: float

    @classmethod
    def empty(cls) -> Predictions:
        return cls(ids=np.zeros((0, 1), dtype=np.int64), probs=np.zeros((0, 1), dtype=np.float32), seconds=0.0)

    @classmethod
    def top(cls, probabilities: np.ndarray, trained_ids: np.ndarray, seconds: float, k: int = TOP_K) -> Predictions:
        """The k most probable trained slots per row of a (rows x slots) probability matrix, best first: only
        `trained_ids` are ranked, so an untrained slot is never proposed whatever its probability."""
        trained = probabilities[:, trained_ids]
        order = np.argsort(-trained, axis=1, kind="stable")[:, : min(k, len(trained_ids))]
        return cls(
            ids=trained_ids[order].astype(np.int64),
            probs=np.take_along_axis(trained, order, axis=1).astype(np.float32),
            seconds=seconds,
        )

    @property
    def rows_per_second(self) -> float:
        return len(self.ids) / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class PredictionScores:
    """How the proposals compare with the clerk's codes, for months that already have them."""

    labelled_rows: int
    accuracy: float
    f1_weighted: float
    f1_macro: float
    unknown_codes: tuple[str, ...]
    review_errors_caught: float


def empty_text(features: pd.DataFrame) -> pd.Series:
    """Rows whose descriptive fields are all blank."""
    present = [column for column in DESCRIPTIVE_COLUMNS if column in features.columns]
    blank = pd.Series(True, index=features.index)
    for column in present:
        blank &= features[column].astype(TEXT).str.strip().fillna("").eq("")
    return blank


def prediction_table(
    features: pd.DataFrame,
    predictions: Predictions,
    label_slots: LabelSlots,
    threshold: ReviewThreshold,
    served_model: str,
    evidence: pd.DataFrame | None = None,
    strong: StrongPrecedent | None = None,
) -> pd.DataFrame:
    """One row per feature row, in the same order: identity, context, proposal, alternatives, review flag, and
    the model that proposed it (`served_model`, e.g. "ensemble 2025… (registry v3)").

    With `evidence` (`BookingEvidence.explain`, one row per feature row) its columns are kept beside the proposal,
    and a proposal against a `strong` precedent is reviewed: a row already in review gets `; disagrees with
    precedent 81100 (14/15)` appended to its reason, a confident one goes to review as `disagrees_with_precedent`."""
    if len(features) != len(predictions.ids):
        raise ValueError(f"{len(features)} feature rows but {len(predictions.ids)} predictions")
    if evidence is not None and len(evidence) != len(features):
        raise ValueError(f"{len(features)} feature rows but evidence for {len(evidence)}")
    columns = [c for c in (*IDENTITY_COLUMNS, *CONTEXT_COLUMNS) if c in features.columns]
    table = features[columns].reset_index(drop=True).copy()
    codes = np.asarray(label_slots.codes, dtype=object)
    for rank in range(predictions.ids.shape[1]):
        prefix = "predicted" if rank == 0 else f"top{rank + 1}"
        table[f"{prefix}_code"] = pd.array(codes[predictions.ids[:, rank]], dtype="string")
        table[f"{prefix}_confidence"] = predictions.probs[:, rank].astype("float64")
        if rank == 0:
            table["predicted_name"] = pd.array(
                [label_slots.names.get(code, "") for code in codes[predictions.ids[:, 0]]], dtype="string"
            )
    blank = empty_text(features).to_numpy()
    low = threshold.needs_review(predictions.probs[:, 0])
    reason = pd.Series(np.where(blank, "empty_text", np.where(low, "low_confidence", "")), dtype="string")
    review = low | blank
    if evidence is not None:
        for column in evidence.columns:
            table[column] = evidence[column].reset_index(drop=True)
        disagrees = (strong or StrongPrecedent()).disagrees(evidence, table["predicted_code"])
        note = "; disagrees with precedent " + (
            table["precedent_code"]
            + " ("
            + table["precedent_count"].astype("string")
            + "/"
            + table["precedent_total"].astype("string")
            + ")"
        )
        reason = reason.mask(disagrees & review, reason + note).mask(disagrees & ~review, DISAGREES_WITH_PRECEDENT)
        review = review | disagrees
    table["needs_review"] = review
    table["review_reason"] = reason.reset_index(drop=True)
    table["served_model"] = pd.array([served_model] * len(table), dtype="string")
    labels = (
        features[LABEL_COLUMN].astype("string").reset_index(drop=True)
        if LABEL_COLUMN in features
        else pd.Series(pd.NA, index=table.index, dtype="string")
    )
    table["true_code"] = labels
    table["correct"] = (labels == table["predicted_code"]).astype("boolean")
    return table.rename(columns={"predicted_confidence": "confidence"})


def prediction_scores(table: pd.DataFrame, label_slots: LabelSlots) -> PredictionScores | None:
    """Scores over labelled rows (None for an unlabelled month). Codes the adapter never saw count as errors."""
    labelled = table[table["true_code"].notna()]
    if labelled.empty:
        return None
    # Imported here: the Dagster code location imports this module and stays free of scikit-learn.
    from sklearn.metrics import accuracy_score, f1_score

    truth, proposed = labelled["true_code"].astype(str), labelled["predicted_code"].astype(str)
    wrong = ~labelled["correct"].astype(bool)
    return PredictionScores(
        labelled_rows=len(labelled),
        accuracy=float(accuracy_score(truth, proposed)),
        f1_weighted=float(f1_score(truth, proposed, average="weighted", zero_division=0)),
        f1_macro=float(f1_score(truth, proposed, average="macro", zero_division=0)),
        unknown_codes=tuple(sorted(set(truth) - set(label_slots.codes))),
        review_errors_caught=float((wrong & labelled["needs_review"]).sum() / wrong.sum()) if wrong.any() else 1.0,
    )
