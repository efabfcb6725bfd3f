"""Raw ledger -> typed, validated, deduplicated rows plus the rejected rows with their reason.

Invariant: every raw row lands in exactly one of the two outputs (duplicates are rejected rows with
reason `duplicate`, the structure lines of a printed report with their kind: `summary_row`, `balance_row` …).
A row that breaks several rules gets the first reason in REJECT_REASONS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from acctax_assets.ledger.account_codes import Chart, account_codes, label_rule
from acctax_assets.ledger.answers import ORIGIN_ROW, label_sources, lines_by_file, supersede
from acctax_assets.ledger.line_kinds import STRUCTURE_KINDS
from acctax_assets.ledger.parsing import (
    TEXT,
    Distinct,
    blank_to_na,
    parse_amounts,
    parse_codes,
    parse_dates,
    per_value,
)
from acctax_assets.ledger.schema import (
    AMOUNT_COLUMNS,
    ANSWER_COLUMNS,
    BALANCE_COLUMN,
    CANONICAL_COLUMNS,
    DOCUMENT_TYPES,
    DR_CR,
    LABEL_COLUMN,
    LABEL_NAME_COLUMN,
    LABEL_SOURCE,
    LINE_KIND,
    LINE_MARKER,
    LINEAGE_COLUMNS,
    PARSE_ERROR,
    SIDE_AMOUNT_COLUMNS,
    SIDE_AMOUNT_HEADERS,
    SOURCE_FILE,
    SOURCE_LABELLED,
    SOURCE_MTIME,
    SOURCE_ROW,
    TAXPAYER_TYPES,
    VAT_TYPES,
)

REJECT_REASON = "reject_reason"
REJECT_DETAIL = "reject_detail"
REJECT_REASONS: tuple[str, ...] = (
    # First: a structure line of a report (line_kinds.STRUCTURE_KINDS: balances, subtotals, repeated headers,
    # title and page lines) is not a voucher line whatever else is wrong with it.
    *STRUCTURE_KINDS,
    "malformed_line",
    "missing_date",
    "invalid_date",
    "date_outside_month",
    "missing_amount",
    "invalid_amount",
    # 차변/대변 ledgers: a line filling both sides, or whose own 차대구분 names the side its amount is not on.
    "ambiguous_side",
    "side_mismatch",
    "amount_outlier",
    "amount_mismatch",
    "missing_label",
    "invalid_label",
    # A line the clerk's answer (a reviewed export, a final export with codes) replaced.
    "superseded",
    "duplicate",
)
# Rejected by design rather than bad data: printed reports carry structure lines, and copies of a file get
# dropped twice. They are counted and reported, never toward the share of invalid rows.
EXPECTED_REJECTS: tuple[str, ...] = (*STRUCTURE_KINDS, "superseded", "duplicate")
# Coded columns turned into words; the original code is kept in `<column>_code`.
CODE_TABLES: dict[str, dict[str, str]] = {
    "document_type": DOCUMENT_TYPES,
    "vat_type": VAT_TYPES,
    "taxpayer_type": TAXPAYER_TYPES,
}
_ID_COLUMNS = ("vat_id_company", "vat_id_party")
# Amounts as a 계정별원장 prints them: parsed like AMOUNT_COLUMNS, kept as nullable integers (a line fills one side;
# files of the other form have none).
_PRINTED_AMOUNTS = (*SIDE_AMOUNT_COLUMNS, BALANCE_COLUMN)
_KEY_COLUMNS = ("voucher_key", "journal_key_count")
# Codes a reviewed export carries beside the clerk's (schema.ANSWER_HEADERS).
_ANSWER_CODES = ("proposed_code", "original_code", "top2_code", "top3_code")


@dataclass(frozen=True)
class CleaningRules:
    """Validation thresholds and the office's chart of accounts (the column map's `chart:`, which decides the
    codes' length); the Dagster resource exposes the thresholds as validated config."""

    max_abs_amount: int = 100_000_000_000
    amount_tolerance: int = 10
    chart: Chart = field(default_factory=Chart)


@dataclass(frozen=True)
class CleaningResult:
    cleaned: pd.DataFrame
    rejected: pd.DataFrame
    # Lines each answer file superseded (a reviewed export or a final export with codes), the answer's lines
    # matched to no earlier line (kept as new lines) per file, and codes a later answer changed.
    superseded_by: dict[str, int] = field(default_factory=dict)
    answers_unmatched: dict[str, int] = field(default_factory=dict)
    answers_changed: int = 0

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        counts = self.rejected[REJECT_REASON].value_counts()
        return {reason: int(counts.get(reason, 0)) for reason in REJECT_REASONS if counts.get(reason, 0)}


def _flags(mask: pd.Series | np.ndarray) -> np.ndarray:
    """A row mask as a numpy bool array, missing as False."""
    if isinstance(mask, np.ndarray):
        return mask
    return mask.to_numpy(dtype=bool, na_value=False)


class _Verdicts:
    """First-failing-rule bookkeeping: reason and human detail per raw row.

    Reasons are kept as numbers and details only for the rows they concern, and both are turned into text for
    the rejected rows at the end: writing text into million-row columns rule by rule cost more than the rules.
    """

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.reason = np.full(len(index), -1, dtype=np.int8)
        self.details: list[tuple[np.ndarray, np.ndarray]] = []

    def reject(self, mask: pd.Series | np.ndarray, reason: str, detail: Callable[[pd.Series], pd.Series] | str) -> None:
        """Give `reason` to rows in `mask` that have none yet; `detail` is computed for those rows only."""
        new = _flags(mask) & (self.reason < 0)
        if not new.any():
            return
        self.reason[new] = REJECT_REASONS.index(reason)
        rows = np.flatnonzero(new)
        texts = (
            np.full(len(rows), detail, dtype=object)
            if isinstance(detail, str)
            else detail(pd.Series(new, index=self.index)).astype(TEXT).to_numpy(dtype=object, na_value=pd.NA)
        )
        self.details.append((rows, texts))

    @property
    def accepted(self) -> np.ndarray:
        return self.reason < 0

    def of(self, rows: np.ndarray) -> tuple[pd.api.extensions.ExtensionArray, pd.api.extensions.ExtensionArray]:
        """Reason and detail texts of `rows` (ascending positions of rejected rows)."""
        details = np.full(len(rows), pd.NA, dtype=object)
        for positions, texts in self.details:
            details[np.searchsorted(rows, positions)] = texts
        reasons = np.array(REJECT_REASONS, dtype=object)[self.reason[rows]]
        return pd.array(reasons, dtype=TEXT), pd.array(details, dtype=TEXT)


def _as_words(codes: pd.Series, table: dict[str, str]) -> pd.Series:
    """Map codes to words; an unknown code stays visible as `other_<code>` rather than vanishing."""
    words = codes.map(table)
    return words.where(words.notna() | codes.isna(), "other_" + codes).astype(TEXT)


def _side(values: pd.Series) -> pd.Series:
    """Debit/credit in words; an unknown side is `other`."""
    side = blank_to_na(values).str.lower()
    return side.map(DR_CR).where(side.isna() | side.map(DR_CR).notna(), "other").astype(TEXT)


def _digits(values: pd.Series) -> pd.Series:
    """Registration numbers as their digits: `123-45-67890` -> `1234567890`."""
    return blank_to_na(values).str.replace(r"\D", "", regex=True)


def _quoted(column: str, values: pd.Series, suffix: str = "") -> Callable[[pd.Series], pd.Series]:
    """Detail builder `column=<value><suffix>` for the rejected rows only (building it for all rows is slow)."""
    return lambda rows: column + "=" + values[rows].astype(TEXT).fillna("") + suffix


def _typed(raw: pd.DataFrame, chart: Chart) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """Typed canonical columns plus per-amount-column invalid masks (an absent amount column is all NA and
    never invalid). Columns that repeat a few values are parsed once per distinct value. The running balance
    has no invalid mask: it is kept for the clerk, never read, so an unreadable one is NA rather than a reject."""
    typed: dict[str, pd.Series] = {}
    invalid: dict[str, pd.Series] = {}
    for column in AMOUNT_COLUMNS:
        values = raw[column] if column in raw.columns else pd.Series("", index=raw.index, dtype=TEXT)
        typed[column], invalid[column] = parse_amounts(values)
    for column in _PRINTED_AMOUNTS:
        if column in raw.columns:
            typed[column], unparseable = parse_amounts(raw[column])
        else:
            typed[column] = pd.Series(pd.NA, index=raw.index, dtype="Int64")
            unparseable = pd.Series(False, index=raw.index)
        if column in SIDE_AMOUNT_COLUMNS:
            invalid[column] = unparseable
    for column in raw.columns:
        if column in LINEAGE_COLUMNS or column in AMOUNT_COLUMNS or column in _PRINTED_AMOUNTS:
            continue
        if column == "date":
            typed[column] = parse_dates(raw[column])
        elif column in CODE_TABLES:
            distinct = Distinct.of(raw[column])
            codes = parse_codes(distinct.values)
            typed[f"{column}_code"] = distinct.spread(codes)
            typed[column] = distinct.spread(_as_words(codes, CODE_TABLES[column]))
        elif column == "dr_cr":
            typed[column] = per_value(_side, raw[column])
        elif column in _ID_COLUMNS:
            typed[column] = per_value(_digits, raw[column])
        elif column == "voucher_key":
            typed[column] = parse_codes(raw[column])
        elif column in (LABEL_COLUMN, LABEL_NAME_COLUMN):
            continue  # read together below: either may carry the other's part
        elif column in ("party_code", *_KEY_COLUMNS, *_ANSWER_CODES):
            typed[column] = per_value(parse_codes, raw[column])
        elif column == "needs_review":
            typed[column] = blank_to_na(raw[column]).str.upper().map({"Y": True, "N": False}).astype("boolean")
        elif column == ORIGIN_ROW:
            typed[column] = pd.to_numeric(blank_to_na(raw[column]), errors="coerce").astype("Int64")
        else:
            typed[column] = blank_to_na(raw[column])
    if LABEL_COLUMN in raw.columns or LABEL_NAME_COLUMN in raw.columns:
        accounts = account_codes(raw.get(LABEL_COLUMN), raw.get(LABEL_NAME_COLUMN), chart)
        typed[LABEL_COLUMN], typed[LABEL_NAME_COLUMN] = accounts.code, accounts.name
    absent = pd.Series(pd.NA, index=raw.index, dtype=TEXT)
    for column in (*CANONICAL_COLUMNS, *(f"{c}_code" for c in CODE_TABLES), "proposed_code"):
        typed.setdefault(column, absent)
    typed.setdefault("needs_review", pd.Series(pd.NA, index=raw.index, dtype="boolean"))
    return typed, invalid


def _printed_sides(raw: pd.DataFrame) -> Callable[[pd.Series], pd.Series]:
    """Detail builder `차변=1,000 대변=500`: both sides as the file printed them, for the rejected rows only."""

    def detail(rows: pd.Series) -> pd.Series:
        printed = [
            SIDE_AMOUNT_HEADERS[c] + "=" + (raw.loc[rows, c].astype(TEXT).fillna("") if c in raw.columns else "")
            for c in SIDE_AMOUNT_COLUMNS
        ]
        return printed[0] + " " + printed[1]

    return detail


def _filled(amounts: pd.Series) -> np.ndarray:
    """Which lines carry an amount on a side: a 0 printed on the side a line does not use is empty."""
    return _flags(amounts.notna() & (amounts != 0))


def _copy_groups(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """For each of `rows`, a group number shared by the rows whose values in `frame` equal its own (missing
    equals missing)."""
    return frame.iloc[rows].groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()


@dataclass
class Copies:
    """Per raw row: whether it is a later copy (`duplicate`) or a copy an answer replaced (`superseded`: a labelled
    copy wins over an unlabelled one, the later landed answer over an earlier one), and the row that stays."""

    duplicate: np.ndarray
    superseded: np.ndarray
    kept: np.ndarray
    raw: pd.DataFrame
    changed: int = 0

    def detail(self, prefix: str) -> Callable[[pd.Series], pd.Series]:
        def describe(rows: pd.Series) -> pd.Series:
            origin = self.kept[rows.to_numpy()]
            files, numbers = self.raw[SOURCE_FILE].iloc[origin], self.raw[SOURCE_ROW].iloc[origin]
            return prefix + files.astype(TEXT) + " row " + numbers.astype(TEXT)

        return describe


def _duplicates(typed: dict[str, pd.Series], candidates: np.ndarray, raw: pd.DataFrame, labelled: np.ndarray) -> Copies:
    """Copies among accepted rows: by voucher key + line when a key exists, else by content in another file; the
    label and the columns of a reviewed export (schema.ANSWER_COLUMNS) are not content, so a final export with
    codes is a copy of the month's unlabelled lines.

    In each group of copies one row stays: a labelled one before an unlabelled one, the latest landed file's among
    labelled ones, else the first. The others are `superseded` when the one that stays carries a code they lack
    or another code, else `duplicate`. Without a key, identical lines of one export are separate payments (the same
    amount to the same supplier twice on one day): only a copy in another file or sheet (an export landed twice, a
    re-export, an answer) counts; dropping repeats within a file lost 16 % of a real ledger's lines. Content is
    compared only among rows that share their date and amounts with another row: the others have no copy, and
    comparing all columns of a keyless million-row month costs seconds."""
    count = len(candidates)
    group = np.full(count, -1)
    keyed = candidates & typed["voucher_key"].notna().to_numpy()
    if keyed.any():
        keys = pd.DataFrame({c: typed[c] for c in _KEY_COLUMNS})
        group[keyed] = _copy_groups(keys, np.flatnonzero(keyed))
    unkeyed = np.flatnonzero(candidates & ~keyed)
    if len(unkeyed):
        screen = pd.DataFrame({c: typed[c] for c in ("date", *AMOUNT_COLUMNS)}).iloc[unkeyed]
        shared = unkeyed[screen.duplicated(keep=False).to_numpy()]
        if len(shared):
            ignored = {LABEL_COLUMN, LABEL_NAME_COLUMN, LABEL_SOURCE, *ANSWER_COLUMNS}
            content = pd.DataFrame({c: v for c, v in typed.items() if c not in ignored})
            group[shared] = _copy_groups(content, shared) + (group.max() + 1)
    member = np.flatnonzero(group >= 0)
    kept = np.arange(count)
    coded = typed[LABEL_COLUMN].notna().to_numpy() & labelled
    codes = typed[LABEL_COLUMN].fillna("").astype(object).to_numpy()
    if len(member):
        mtime = raw[SOURCE_MTIME].to_numpy(dtype=float) if SOURCE_MTIME in raw.columns else np.zeros(count)
        order = pd.DataFrame(
            {"group": group[member], "coded": coded[member], "code": np.where(coded, codes, None)[member]}
        )
        # The latest landed answer wins only where the answers disagree; identical copies keep the first.
        disagree = order.groupby("group")["code"].transform("nunique").to_numpy() > 1
        order["landed"] = np.where(disagree & order["coded"].to_numpy(), mtime[member], 0.0)
        order["position"] = member
        order = order.sort_values(["group", "coded", "landed", "position"], ascending=[True, False, False, True])
        kept[order["position"].to_numpy()] = (
            order.groupby("group", sort=False)["position"].transform("first").to_numpy()
        )
    files = raw[SOURCE_FILE].to_numpy()
    # A keyless twin in the file of the row that stays is a separate payment, not a copy.
    twin = ~keyed & (files[kept] == files)
    kept = np.where(twin, np.arange(count), kept)
    copy = kept != np.arange(count)
    replaced = copy & coded[kept] & (~coded | (codes != codes[kept]))
    changed = int((replaced & coded).sum())
    return Copies(duplicate=copy & ~replaced, superseded=replaced, kept=kept, raw=raw, changed=changed)


def within_file_twins(cleaned: pd.DataFrame) -> int:
    """Cleaned lines identical to an earlier line of the same file (source row aside): kept as separate payments
    (see `_duplicates`) and counted, so an office that expected none sees them. Compared in full only among lines
    sharing file, date and amounts."""
    screen = [SOURCE_FILE, "date", *AMOUNT_COLUMNS]
    candidates = cleaned[cleaned[screen].duplicated(keep=False).to_numpy()]
    if candidates.empty:
        return 0
    return int(candidates.drop(columns=[SOURCE_ROW]).duplicated().sum())


def running_balances(raw: pd.DataFrame) -> dict[str, int]:
    """How many raw rows, of how many files, print a running balance (잔액). Cleaning keeps it as `balance_amount`
    and never reads an amount from it: it is reported so the clerk knows it was seen, not used."""
    if BALANCE_COLUMN not in raw.columns:
        return {"rows": 0, "files": 0}
    printed = blank_to_na(raw[BALANCE_COLUMN]).notna()
    return {"rows": int(printed.sum()), "files": int(raw.loc[printed, SOURCE_FILE].nunique())}


def clean_ledger(raw: pd.DataFrame, month: str, rules: CleaningRules) -> CleaningResult:
    """Validate, type and deduplicate one month of raw rows (`month` is the partition key YYYY-MM-01)."""
    typed, invalid = _typed(raw, rules.chart)
    verdicts = _Verdicts(raw.index)
    if LINE_KIND in raw.columns:
        for kind in STRUCTURE_KINDS:
            verdicts.reject(
                raw[LINE_KIND] == kind,
                kind,
                lambda rows, kind=kind: f"{kind.replace('_', ' ')} marked " + raw.loc[rows, LINE_MARKER],
            )
    verdicts.reject(raw[PARSE_ERROR] != "", "malformed_line", lambda rows: raw.loc[rows, PARSE_ERROR])

    date = typed["date"]
    raw_date = blank_to_na(raw["date"])
    verdicts.reject(raw_date.isna(), "missing_date", "date is empty")
    verdicts.reject(date.isna(), "invalid_date", _quoted("date", raw["date"]))
    period = pd.Period(month, freq="M")
    verdicts.reject(
        date.dt.to_period("M") != period, "date_outside_month", _quoted("date", raw["date"], f" not in {period}")
    )

    supply, vat, total = (typed[c] for c in AMOUNT_COLUMNS)
    # A 계정별원장/분개장 line fills one of 차변/대변: the side filled is its direction (dr_cr) and, on a line
    # without a supply amount or total, its amount, sign as printed. Where a file has both forms, supply/total
    # win and the sides only give the direction: they may hold another figure (a VAT-inclusive posting).
    on_debit, on_credit = (_filled(typed[c]) for c in SIDE_AMOUNT_COLUMNS)
    printed = _flags(supply.notna() | total.notna() | invalid["supply_amount"] | invalid["total_amount"])
    unread_side = _flags(invalid["debit_amount"] | invalid["credit_amount"])
    no_amount = ~printed & ~on_debit & ~on_credit & ~unread_side
    sides = _printed_sides(raw)
    if any(c in raw.columns for c in SIDE_AMOUNT_COLUMNS):
        # Lines of a file that prints 차변/대변 show both cells; lines of another file in the month say what is empty.
        side_cells = pd.Series(False, index=raw.index)
        for column in SIDE_AMOUNT_COLUMNS:
            if column in raw.columns:
                side_cells |= blank_to_na(raw[column]).notna()
        sided_file = _flags(side_cells.groupby(raw[SOURCE_FILE], sort=False).transform("any"))
        verdicts.reject(
            no_amount & sided_file, "missing_amount", lambda rows: sides(rows) + " (neither side has an amount)"
        )
    verdicts.reject(no_amount, "missing_amount", "supply_amount and total_amount are empty")
    for column, unparseable in invalid.items():
        if unparseable.any():
            verdicts.reject(unparseable, "invalid_amount", _quoted(column, raw[column]))
    if on_debit.any() or on_credit.any():
        verdicts.reject(on_debit & on_credit, "ambiguous_side", lambda rows: sides(rows) + " (a line fills one side)")
        side = pd.Series(np.where(on_debit, "debit", np.where(on_credit, "credit", None)), index=raw.index).astype(TEXT)
        # The file's own 차대구분 must name the same side; a code it does not know (`other`) gives way to the amount.
        stated = typed["dr_cr"]
        verdicts.reject(
            stated.isin(("debit", "credit")) & side.notna() & (stated != side),
            "side_mismatch",
            lambda rows: "dr_cr=" + raw.loc[rows, "dr_cr"].astype(TEXT) + " but " + sides(rows),
        )
        typed["dr_cr"] = side.fillna(stated)
        side_amount = typed["debit_amount"].where(on_debit, typed["credit_amount"])
        total = total.mask(~printed & (on_debit ^ on_credit), side_amount)
    # An empty VAT is 0; an empty supply amount is total - VAT, an empty total supply + VAT.
    vat = vat.fillna(0)
    supply = supply.fillna(total - vat)
    total = total.fillna(supply + vat)
    for column, values in (("supply_amount", supply), ("vat_amount", vat), ("total_amount", total)):
        verdicts.reject(
            values.abs() > rules.max_abs_amount,
            "amount_outlier",
            _quoted(column, values, f" beyond ±{rules.max_abs_amount}"),
        )
    gap = (supply + vat - total).abs()
    verdicts.reject(gap > rules.amount_tolerance, "amount_mismatch", _quoted("supply+vat-total", supply + vat - total))

    labelled = raw[SOURCE_LABELLED].astype(bool)
    # A code that names of an unlabelled file happen to carry is no label: too few of its names carry one.
    label = typed[LABEL_COLUMN] = typed[LABEL_COLUMN].where(labelled)
    verdicts.reject(labelled & label.isna(), "missing_label", "acct_code is empty")
    wrong, detail = label_rule(label, raw[SOURCE_FILE], rules.chart)
    verdicts.reject(labelled & wrong, "invalid_label", detail)

    typed["supply_amount"], typed["vat_amount"], typed["total_amount"] = supply, vat, total
    supersession = supersede(typed, raw, verdicts.accepted)
    verdicts.reject(supersession.superseded, "superseded", supersession.detail(raw, typed[LABEL_COLUMN]))
    copies = _duplicates(typed, verdicts.accepted, raw, labelled.to_numpy(dtype=bool))
    verdicts.reject(copies.superseded, "superseded", copies.detail("superseded by "))
    verdicts.reject(copies.duplicate, "duplicate", copies.detail("duplicate of "))
    typed[LABEL_SOURCE] = label_sources(typed, labelled)

    accepted = verdicts.accepted
    # Every column is taken once, in its final order; nothing to take when every row is accepted.
    kept = slice(None) if accepted.all() else np.flatnonzero(accepted)
    typed[SOURCE_FILE] = raw[SOURCE_FILE].astype(TEXT)
    typed[SOURCE_ROW] = raw[SOURCE_ROW].astype("int64")
    typed[SOURCE_LABELLED] = labelled
    canonical = list(CANONICAL_COLUMNS)
    codes = [f"{c}_code" for c in CODE_TABLES]
    lineage = [SOURCE_FILE, SOURCE_ROW, SOURCE_LABELLED]
    others = [c for c in typed if c not in canonical + codes + lineage]
    cleaned = pd.DataFrame(
        {column: typed[column].array[kept] for column in canonical + codes + others + lineage},
        index=pd.RangeIndex(accepted.sum()),
    )
    for column in AMOUNT_COLUMNS:
        cleaned[column] = cleaned[column].astype("int64")

    rejected_rows = np.flatnonzero(~accepted)
    rejected = raw.iloc[rejected_rows].reset_index(drop=True)
    rejected[REJECT_REASON], rejected[REJECT_DETAIL] = verdicts.of(rejected_rows)
    winners = np.concatenate([supersession.by[supersession.superseded], copies.kept[copies.superseded]])
    return CleaningResult(
        cleaned=cleaned,
        rejected=rejected,
        superseded_by=lines_by_file(raw, winners),
        answers_unmatched=supersession.unmatched,
        answers_changed=supersession.changed + copies.changed,
    )
