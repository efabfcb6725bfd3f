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
# Proposal columns and their headers in the exported file.
PROPOSAL_HEADERS: dict[str, str] = {
    "predicted_code": KOREAN_HEADERS[LABEL_COLUMN],
    "predicted_name": KOREAN_HEADERS[LABEL_NAME_COLUMN],
    "confidence": "추천신뢰도",
    "needs_review": "검토필요",
    "review_reason": "검토사유",
    "top2_code": "대안계정코드2",
    "top2_confidence": "대안신뢰도2",
    "top3_code": "대안계정코드3",
    "top3_confidence": "대안신뢰도3",
    "served_model": "추천모델",
    "evidence": "근거",
}
# The prediction table's evidence columns, joined into the one 근거 cell a clerk reads beside the proposal.
EVIDENCE_PARTS: dict[str, str] = {"precedent": "precedent", "similar_lines": "similar"}
# The clerk's own codes, when the month had them, stay beside the proposal instead of being overwritten.
ORIGINAL_LABEL_HEADERS: dict[str, str] = {LABEL_COLUMN: "원계정과목코드", LABEL_NAME_COLUMN: "원계정과목"}
LINEAGE_HEADERS: dict[str, str] = {SOURCE_FILE: "원본파일", SOURCE_ROW: "원본행"}


def office_layout(raw: pd.DataFrame, predictions: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    """Raw rows in file/row order with Korean headers and the proposal; rejected rows get `review_reason`
    `rejected:<reason>` and no proposal. Raises if a raw row is neither predicted nor rejected."""
    predictions = predictions.assign(**_evidence(predictions))
    proposals = predictions[[*KEY, *[c for c in PROPOSAL_HEADERS if c in predictions.columns]]]
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
