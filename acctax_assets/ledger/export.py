"""A month's proposals written back in the office's own layout (pure pandas): every raw row as it was read,
under its 더존 header, plus the proposed 계정과목코드/계정과목, the review flag and the evidence (근거: the client's
precedent and similar past lines), ready to import.

Rows that cleaning rejected are kept too, flagged for review with the reject reason: the file the clerk
imports holds every line of the month, none silently missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from acctax_assets.atomic_writes import replace_file
from acctax_assets.ledger.schema import (
    ANSWER_HEADERS,
    KOREAN_HEADERS,
    LABEL_COLUMN,
    LABEL_NAME_COLUMN,
    LINEAGE_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    USUAL_HEADERS,
)

ExportFormat = Literal["csv", "xlsx"]
KEY = [SOURCE_FILE, SOURCE_ROW]
# Proposal columns and their headers in the exported file: the proposal goes under 계정과목코드/계정과목, where the
# clerk edits it, and stays as 추천계정코드 beside it, so the file that comes back says what the clerk changed
# (ledger/answers.py reads it back through schema.ANSWER_HEADERS).
PROPOSAL_HEADERS: dict[str, str] = {
    "predicted_code": KOREAN_HEADERS[LABEL_COLUMN],
    "predicted_name": KOREAN_HEADERS[LABEL_NAME_COLUMN],
    **{
        column: ANSWER_HEADERS[column]
        for column in (
            "proposed_code",
            "proposal_confidence",
            "needs_review",
            "review_reason",
            "top2_code",
            "top2_confidence",
            "top3_code",
            "top3_confidence",
            "served_model",
            "evidence",
        )
    },
}
# The prediction table's evidence columns, joined into the one 근거 cell a clerk reads beside the proposal.
EVIDENCE_PARTS: dict[str, str] = {"precedent": "precedent", "similar_lines": "similar"}
# The clerk's own codes, when the month had them, stay beside the proposal instead of being overwritten.
ORIGINAL_LABEL_HEADERS: dict[str, str] = {
    LABEL_COLUMN: ANSWER_HEADERS["original_code"],
    LABEL_NAME_COLUMN: ANSWER_HEADERS["original_name"],
}
LINEAGE_HEADERS: dict[str, str] = {SOURCE_FILE: ANSWER_HEADERS["origin_file"], SOURCE_ROW: ANSWER_HEADERS["origin_row"]}


def office_layout(raw: pd.DataFrame, predictions: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    """Raw rows in file/row order with Korean headers and the proposal; rejected rows get `review_reason`
    `rejected:<reason>` and no proposal. Raises if a raw row is neither predicted nor rejected."""
    proposals = predictions.assign(proposed_code=predictions["predicted_code"], **_evidence(predictions)).rename(
        columns={"confidence": "proposal_confidence"}
    )
    proposals = proposals[[*KEY, *[c for c in PROPOSAL_HEADERS if c in proposals.columns]]]
    reasons = (
        rejected[[*KEY, "reject_reason"]].drop_duplicates(KEY)
        if len(rejected)
        else pd.DataFrame(columns=[*KEY, "reject_reason"])
    )
    merged = raw.merge(proposals, on=KEY, how="left", validate="one_to_one").merge(
        reasons.astype({SOURCE_ROW: raw[SOURCE_ROW].dtype}), on=KEY, how="left", validate="one_to_one"
    )
    lost = merged["predicted_code"].isna() & merged["reject_reason"].isna()
    if lost.any():
        sample = merged.loc[lost, KEY].head(3).to_dict("records")
        raise ValueError(
            f"{int(lost.sum())} raw rows are neither in ledger_predictions nor in rejected_ledger_rows (e.g. {sample}). "
            "Fix: re-materialize cleaned_ledger, ledger_features and ledger_predictions for this month"
        )
    rejected_rows = merged["reject_reason"].notna()
    merged["needs_review"] = merged["needs_review"].astype("boolean").fillna(True)
    merged["review_reason"] = (
        merged["review_reason"]
        .astype("string")
        .mask(rejected_rows, "rejected:" + merged["reject_reason"].astype("string"))
    )
    merged["needs_review"] = merged["needs_review"].map({True: "Y", False: "N"})
    original = [c for c in raw.columns if c not in LINEAGE_COLUMNS]
    layout = merged[[*original, *[c for c in PROPOSAL_HEADERS if c in merged.columns], *KEY]].sort_values(
        KEY, kind="stable"
    )
    headers = {
        **{c: USUAL_HEADERS.get(c, c) for c in original},
        **ORIGINAL_LABEL_HEADERS,
        **PROPOSAL_HEADERS,
        **LINEAGE_HEADERS,
    }
    return layout.rename(columns=headers).reset_index(drop=True)


def _evidence(predictions: pd.DataFrame) -> dict[str, pd.Series]:
    """{"evidence": "precedent: …; similar: …"} when the table has evidence columns (tables made before evidence
    existed have none, and their export has no 근거 column)."""
    parts = [(label, column) for column, label in EVIDENCE_PARTS.items() if column in predictions.columns]
    if not parts:
        return {}
    joined = pd.Series("", index=predictions.index, dtype="string")
    for position, (label, column) in enumerate(parts):
        joined = joined + ("; " if position else "") + f"{label}: " + predictions[column].astype("string")
    return {"evidence": joined}


def write_export(frame: pd.DataFrame, path: Path, fmt: ExportFormat) -> Path:
    """CSV in UTF-8 with BOM (Excel and 더존 read it as Korean) or XLSX; written to a temp file and renamed."""

    def write(temp: Path) -> None:
        if fmt == "csv":
            frame.to_csv(temp, index=False, encoding="utf-8-sig")
        else:
            frame.to_excel(temp, index=False, engine="openpyxl")

    return replace_file(path, write)
