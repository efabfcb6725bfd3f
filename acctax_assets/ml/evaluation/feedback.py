"""What the clerk did with a month's proposals: the production figure of the served model (pandas only).

A reviewed export (or the month's final export) comes back through landing, and `cleaned_ledger` carries for each
line the proposal as exported (`proposed_code`), whether it was queued for review (`needs_review`), the final code
(`acct_code`) and who decided it (`label_source`). From those:

- lines with proposals: `proposed_code` present, except lines coded before any proposal (`label_source` `coded`):
  their code was the clerk's own, so the proposal was never the answer and says nothing about the model;
- reviewed: the proposal was in the review queue; auto-accepted: it was not (a proposal without the flag counts as
  not queued, since the export marks only queued lines);
- changed: the final code differs from the proposal. An unreviewed line (`label_source` `unreviewed`) keeps the
  proposal by definition, and a line without a final code has not been said to be wrong, so both count as unchanged;
- errors slipped through: auto-accepted lines changed later, known once the clerk or a later final export corrected
  them; the figure can only grow as later exports of the month land.

The validation split measures the model before it serves; these figures measure it on the months it served.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd

from acctax_assets.errors import AcctaxError
from acctax_assets.ledger.schema import LABEL_COLUMN, LABEL_SOURCE

PROPOSED = "proposed_code"
QUEUED = "needs_review"
FINAL = LABEL_COLUMN
SOURCE = LABEL_SOURCE
CODED_BEFORE = "coded"
UNREVIEWED = "unreviewed"
# Counts recorded in each month's metadata: enough to recompute every share of the history without the month's rows.
COUNTS: tuple[str, ...] = (
    "proposed_lines",
    "reviewed_lines",
    "changed_reviewed",
    "auto_accepted_lines",
    "slipped_errors",
)


class FeedbackColumnsError(AcctaxError):
    """The cleaned ledger carries proposals but not the columns that say what the clerk did with them."""


def share_text(part: int, whole: int) -> str:
    """A share as the office reads it, with its counts: "12.5 % (5 of 40)"; "n/a (0 of 0)" for no lines."""
    return f"{100 * part / whole:.1f} % ({part} of {whole})" if whole else f"n/a ({part} of 0)"


@dataclass(frozen=True)
class ProposalFeedback:
    """One month's verdict on its proposals; shares are None where their set of lines is empty."""

    lines: int
    proposed_lines: int
    reviewed_lines: int
    changed_reviewed: int
    auto_accepted_lines: int
    slipped_errors: int
    coded_before_proposal: int
    corrected_to: tuple[str, ...]

    @property
    def has_proposals(self) -> bool:
        return self.proposed_lines > 0

    @property
    def changed_share_reviewed(self) -> float | None:
        return self.changed_reviewed / self.reviewed_lines if self.reviewed_lines else None

    @property
    def changed_share_auto(self) -> float | None:
        """Errors that slipped through the queue, as a share of the lines it let through."""
        return self.slipped_errors / self.auto_accepted_lines if self.auto_accepted_lines else None

    @property
    def slipped_share(self) -> float | None:
        """Errors that slipped through, as a share of all lines with proposals."""
        return self.slipped_errors / self.proposed_lines if self.proposed_lines else None

    def new_codes(self, known_codes: Collection[str]) -> tuple[str, ...]:
        """The corrected-to codes outside `known_codes` (the codes the serving model could propose): no threshold
        or review queue could have got those lines right."""
        known = set(known_codes)
        return tuple(code for code in self.corrected_to if code not in known)

    def counts(self) -> dict[str, int]:
        return {key: int(getattr(self, key)) for key in COUNTS}


def _codes(column: pd.Series) -> pd.Series:
    return column.astype("string").str.strip().replace("", pd.NA)


def feedback_figures(cleaned: pd.DataFrame) -> ProposalFeedback:
    """The month's figures from its cleaned lines. A ledger without `proposed_code` never went through proposals
    and yields zero proposed lines."""
    if PROPOSED not in cleaned.columns:
        return ProposalFeedback(len(cleaned), 0, 0, 0, 0, 0, 0, ())
    missing = [column for column in (QUEUED, FINAL, SOURCE) if column not in cleaned.columns]
    if missing:
        raise FeedbackColumnsError(
            f"cleaned_ledger has proposed_code but not {missing}, so what the clerk did with the proposals is unknown. "
            "Fix: re-materialize cleaned_ledger for the month with the current code (it records needs_review, "
            "acct_code and label_source beside each proposal)"
        )
    proposed = _codes(cleaned[PROPOSED])
    source = cleaned[SOURCE].astype("string")
    coded_before = source.eq(CODED_BEFORE).fillna(False)
    has_proposal = proposed.notna() & ~coded_before
    final = _codes(cleaned[FINAL])
    unreviewed = source.eq(UNREVIEWED).fillna(False)
    changed = (has_proposal & ~unreviewed & final.notna() & final.ne(proposed)).fillna(False)
    queued = cleaned[QUEUED].astype("boolean").fillna(False) & has_proposal
    auto = has_proposal & ~queued
    return ProposalFeedback(
        lines=len(cleaned),
        proposed_lines=int(has_proposal.sum()),
        reviewed_lines=int(queued.sum()),
        changed_reviewed=int((changed & queued).sum()),
        auto_accepted_lines=int(auto.sum()),
        slipped_errors=int((changed & auto).sum()),
        coded_before_proposal=int((proposed.notna() & coded_before).sum()),
        corrected_to=tuple(sorted(set(final[changed].astype(str)))),
    )


def codes_in(frames: Collection[pd.Series]) -> set[str]:
    """Every final code in some months' `acct_code` columns (the fallback for what a model could propose: the
    codes booked before the month)."""
    return {code for column in frames for code in _codes(column).dropna().astype(str)}


def history_table(months: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """One row per month with proposals (by partition key, in month order): its counts and the shares changed, as
    percentages (NaN where the month had no reviewed or no auto-accepted lines)."""
    rows = [
        {"month": month[:7], **{key: int(counts[key]) for key in COUNTS}}
        for month, counts in sorted(months.items())
        if int(counts.get("proposed_lines", 0)) > 0
    ]
    table = pd.DataFrame(rows, columns=["month", *COUNTS])

    def percent(part: str, whole: str) -> pd.Series:
        return (100 * table[part] / table[whole].where(table[whole] > 0)).astype("float64").round(1)

    table["changed_reviewed_%"] = percent("changed_reviewed", "reviewed_lines")
    table["changed_auto_%"] = percent("slipped_errors", "auto_accepted_lines")
    table["slipped_of_proposed_%"] = percent("slipped_errors", "proposed_lines")
    return table
