"""The clerk's answer coming back into landing: it supersedes the month's earlier copies of the same lines, and every
label says where it came from.

Two kinds of answer arrive for a month whose lines the platform has already read without codes:
- the platform's own export after the clerk's review (any file name; recognised by its `원본파일`/`원본행` columns,
  schema.ANSWER_HEADERS): each line names the line it answers. When the clerk re-sorted, deleted or added lines
  the names no longer fit, so a line whose named original does not hold its date and amount is matched by
  content instead, and a line matched to nothing is kept as a new line and counted;
- the month's final export from the accounting program, with codes and without those columns: its lines are
  copies of the unlabelled ones, found as duplicates are (`cleaning._duplicates`), where a labelled copy now wins
  over an unlabelled one.
Of two answers to the same line, the later landed file wins (`source_mtime`) and a changed code is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from acctax_assets.ledger.parsing import TEXT
from acctax_assets.ledger.schema import LABEL_COLUMN, SOURCE_FILE, SOURCE_MTIME, SOURCE_ROW

ORIGIN_FILE = "origin_file"
ORIGIN_ROW = "origin_row"
# What must agree between an answer line and the line it names (or, failing that, the line it is matched to).
_IDENTITY = ("date", "total_amount")
_CONTENT = ("date", "total_amount", "party_name", "desc", "item")


@dataclass
class Supersession:
    """Per raw row: whether a later answer supersedes it, and which row (position) does; what could not be matched
    and how many codes a later answer changed."""

    superseded: np.ndarray
    by: np.ndarray
    unmatched: dict[str, int] = field(default_factory=dict)
    changed: int = 0

    def detail(self, raw: pd.DataFrame, codes: pd.Series) -> Callable[[pd.Series], pd.Series]:
        """The reject detail of superseded rows: `superseded by <file> row <n>` (and the code change, if any)."""

        def describe(rows: pd.Series) -> pd.Series:
            positions = np.flatnonzero(rows.to_numpy())
            winners = self.by[positions]
            text = (
                "superseded by "
                + raw[SOURCE_FILE].iloc[winners].astype(TEXT).to_numpy(dtype=object)
                + " row "
                + raw[SOURCE_ROW].iloc[winners].astype(TEXT).to_numpy(dtype=object)
            )
            before, after = codes.iloc[positions].to_numpy(dtype=object), codes.iloc[winners].to_numpy(dtype=object)
            change = np.array(
                [
                    f" (code {b} -> {a})" if isinstance(b, str) and isinstance(a, str) and a != b else ""
                    for b, a in zip(before, after, strict=True)
                ],
                dtype=object,
            )
            return pd.Series(text + change, index=rows.index[positions])

        return describe


def lines_by_file(raw: pd.DataFrame, positions: np.ndarray) -> dict[str, int]:
    """How many of `positions` (rows that superseded another) each file holds: the lines each answer superseded."""
    return raw[SOURCE_FILE].iloc[positions].value_counts().to_dict() if len(positions) else {}


def _keys(typed: dict[str, pd.Series], columns: tuple[str, ...]) -> np.ndarray:
    """One text per row joining `columns` (missing as ""), to compare rows by value."""
    joined = pd.Series("", index=typed[LABEL_COLUMN].index, dtype=object)
    for column in columns:
        if column in typed:
            joined = joined + "\x1f" + typed[column].astype(TEXT).fillna("").astype(object)
    return joined.to_numpy(dtype=object)


def supersede(typed: dict[str, pd.Series], raw: pd.DataFrame, candidates: np.ndarray) -> Supersession:
    """Which accepted rows a reviewed export's accepted lines supersede (see the module docstring)."""
    count = len(raw)
    result = Supersession(np.zeros(count, dtype=bool), np.full(count, -1))
    if ORIGIN_FILE not in typed or typed[ORIGIN_FILE].isna().all():
        return result
    answer = candidates & typed[ORIGIN_FILE].notna().to_numpy()
    plain = candidates & typed[ORIGIN_FILE].isna().to_numpy()
    named = pd.DataFrame(
        {
            SOURCE_FILE: typed[ORIGIN_FILE].astype(TEXT).astype(object),
            SOURCE_ROW: pd.to_numeric(typed[ORIGIN_ROW], errors="coerce"),
            "answer": np.arange(count),
        }
    )[answer]
    lines = pd.DataFrame(
        {
            SOURCE_FILE: raw[SOURCE_FILE].astype(object),
            SOURCE_ROW: raw[SOURCE_ROW].astype(float),
            "line": np.arange(count),
        }
    )[plain]
    pairs = named.astype({SOURCE_ROW: float}).merge(lines, on=[SOURCE_FILE, SOURCE_ROW], how="left")
    identity = _keys(typed, _IDENTITY)
    target = np.full(count, -1)
    found = pairs["line"].notna().to_numpy()
    answers, originals = pairs["answer"].to_numpy()[found], pairs["line"].to_numpy()[found].astype(int)
    fits = identity[answers] == identity[originals]
    target[answers[fits]] = originals[fits]
    unresolved = np.setdiff1d(np.flatnonzero(answer), answers[fits])
    if len(unresolved):
        content = _keys(typed, _CONTENT)
        pool: dict[object, list[int]] = {}
        for position in np.setdiff1d(np.flatnonzero(plain), target[target >= 0]):
            pool.setdefault(content[position], []).append(int(position))
        files = raw[SOURCE_FILE].to_numpy(dtype=object)
        for position in unresolved:
            matches = pool.get(content[position])
            if matches:
                target[position] = matches.pop(0)
            else:
                result.unmatched[files[position]] = result.unmatched.get(files[position], 0) + 1
    mtime = raw[SOURCE_MTIME].to_numpy(dtype=float) if SOURCE_MTIME in raw.columns else np.zeros(count)
    codes = typed[LABEL_COLUMN].fillna("").astype(object).to_numpy()
    for original in np.unique(target[target >= 0]):
        competing = np.flatnonzero(target == original)
        winner = competing[np.lexsort((competing, mtime[competing]))[-1]]
        for loser in [original, *(a for a in competing if a != winner)]:
            result.superseded[loser] = True
            result.by[loser] = winner
        result.changed += sum(1 for a in competing if a != winner and codes[a] and codes[a] != codes[winner])
    return result


def label_sources(typed: dict[str, pd.Series], labelled: pd.Series) -> pd.Series:
    """Per line, where its code came from (schema.LABEL_SOURCE): a line of a reviewed export with a proposal is
    `confirmed` (reviewed, kept), `corrected` (changed) or `unreviewed` (auto-accepted, kept); any other coded line
    is `coded` — including a final export from the accounting program, which cannot say whether a line was
    reviewed."""
    code = typed[LABEL_COLUMN]
    coded = labelled.to_numpy(dtype=bool) & code.notna().to_numpy()
    sources = np.where(coded, "coded", None).astype(object)
    proposed = typed.get("proposed_code")
    if proposed is not None and proposed.notna().any():
        original = typed.get("original_code", pd.Series(pd.NA, index=code.index))
        answered = coded & proposed.notna().to_numpy() & original.isna().to_numpy()
        kept = (code == proposed).fillna(False).to_numpy(dtype=bool)
        reviewed = typed["needs_review"].fillna(False).to_numpy(dtype=bool)
        sources = np.where(answered & kept & reviewed, "confirmed", sources)
        sources = np.where(answered & kept & ~reviewed, "unreviewed", sources)
        sources = np.where(answered & ~kept, "corrected", sources)
    return pd.Series(pd.array(sources, dtype=TEXT), index=code.index)
