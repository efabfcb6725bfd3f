"""One month of synthetic 더존-style voucher lines, deterministic for (month, rows, seed).

The data is built to be *learnable but not trivial*: the same counterparty books to different accounts
depending on memo, item and the client company (a restaurant is 복리후생비 for staff meals and 접대비 for
client dinners; a manufacturer books factory costs to the 5xxxx twins), the label distribution is
long-tailed, some codes only appear from a later month, ~3 % of labels are swapped to a related account, and
~2 % of rows are dirty in named ways (`DemoMonth.defects`) so validation can be tested against ground truth.

Everything is vectorised over rows (numpy draws and lookups into small tables); loops only run over the
chart of accounts, counterparties and companies.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from acctax_assets.demo.tables import (
    ALL_DEFECTS_MIN_ROWS,
    CARD,
    CASH,
    CHART_OF_ACCOUNTS,
    CLERKS,
    CODE_INDEX,
    CODE_START_MONTH,
    CODES,
    DEFECT_KINDS,
    DEMO_COLUMNS,
    DIRTY_SHARE,
    ENTERTAINMENT_CODE,
    FACTORY_PREFIXES,
    HEAD_OFFICE_PREFIX,
    INVALID_AMOUNTS,
    INVALID_LABELS,
    INVOICE,
    LABEL_NOISE_SHARE,
    MEMO_TEAMS,
    MFG,
    MODES,
    NON_DEDUCTIBLE_VAT_TYPE,
    RELATED_ACCOUNTS,
    REMARK_COLUMN,
    REMARKS,
    RETURN_SHARE,
    RETURN_WORDS,
    SALES_MODES,
    SCENARIOS,
    SECTORS,
    SIMPLIFIED_PARTY_MODE,
    VAT_FREE_COMPANY_MODE,
    WRITER_COLUMN,
)
from acctax_assets.demo.world import demo_world
from acctax_assets.ledger.schema import KOREAN_HEADERS


@dataclass(frozen=True, eq=False)
class DemoMonth:
    """One month of demo ledger lines plus the ground truth of which rows were made dirty and how."""

    frame: pd.DataFrame
    defects: pd.Series


def _draw(weights: np.ndarray, group: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw option j for row i from the distribution weights[group[i]], for all rows in one searchsorted.

    The per-group CDFs are stacked as group + cdf so a single sorted array serves every group.
    """
    w = np.asarray(weights, dtype=float)
    totals = w.sum(axis=1, keepdims=True)
    w = np.where(totals > 0, w, 1.0)
    cdf = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    cdf[:, -1] = 1.0
    n_groups, n_options = cdf.shape
    flat = (cdf + np.arange(n_groups)[:, None]).ravel()
    pos = np.searchsorted(flat, group + u, side="right") - group * n_options
    return np.clip(pos, 0, n_options - 1)


def _pick(start: np.ndarray, count: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform k-th entry of each row's own word list (lists given by start/count)."""
    return start + (rng.random(len(start)) * count).astype(np.int64)


def parse_month(month: str) -> tuple[int, int]:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month must look like YYYY-MM, got {month!r}")
    return int(month[:4]), int(month[5:])


def _shift_month(year: int, mon: int, delta: int) -> tuple[int, int]:
    total = year * 12 + (mon - 1) + delta
    return total // 12, total % 12 + 1


def _available(month: str) -> np.ndarray:
    """Which codes may be booked in this month."""
    return np.array([CODE_START_MONTH.get(code, "0000-00") <= month for code in CODES])


def _related_weights(available: np.ndarray) -> np.ndarray:
    """code x code weights for label noise: uniform over related codes available this month, else itself."""
    n = len(CODES)
    weights = np.zeros((n, n))
    for code, related in RELATED_ACCOUNTS.items():
        i = CODE_INDEX[code]
        for other in related:
            j = CODE_INDEX[other]
            if available[j]:
                weights[i, j] = 1.0
        if not weights[i].any():
            weights[i, i] = 1.0
    for i in range(n):
        if not weights[i].any():
            weights[i, i] = 1.0
    return weights


def _signed_vat(supply: np.ndarray, taxable: np.ndarray) -> np.ndarray:
    """10 % VAT rounded half away from zero, in integers (no float money)."""
    vat = np.sign(supply) * ((np.abs(supply) + 5) // 10)
    return np.where(taxable, vat, 0)


def _defect_plan(rng: np.random.Generator, rows: int) -> np.ndarray:
    """The defect kind of each dirty row: every kind once when the month is big enough, the rest random."""
    n_dirty = int(round(rows * DIRTY_SHARE))
    kinds = np.array(DEFECT_KINDS, dtype=object)
    # Duplicates are the most common real defect; the rest share the remainder evenly.
    p = np.full(len(kinds), 0.7 / (len(kinds) - 1))
    p[0] = 0.3
    if rows >= ALL_DEFECTS_MIN_ROWS:
        n_dirty = max(n_dirty, len(kinds))
        return np.concatenate([kinds, rng.choice(kinds, size=n_dirty - len(kinds), p=p)])
    return rng.choice(kinds, size=n_dirty, p=p)


def generate_month(month: str, rows: int, seed: int) -> DemoMonth:
    """One month of voucher lines (`rows` in total, dirty rows included), deterministic for (month, rows, seed)."""
    year, mon = parse_month(month)
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    world = demo_world()
    rng = np.random.default_rng([seed, year, mon])
    plan = _defect_plan(rng, rows)
    n_dup = int((plan == "duplicate").sum())
    base = rows - n_dup

    # Vouchers of 1-3 lines; each voucher has one company, date, counterparty and payment.
    counts = rng.choice(np.array([1, 2, 3]), size=base, p=[0.72, 0.2, 0.08])
    ends = np.cumsum(counts)
    n_v = int(np.searchsorted(ends, base)) + 1
    counts = counts[:n_v]
    counts[-1] -= int(ends[n_v - 1] - base)

    days_in_month = calendar.monthrange(year, mon)[1]
    weekdays = np.array([calendar.weekday(year, mon, d) for d in range(1, days_in_month + 1)])
    day_p = np.select([weekdays == 5, weekdays == 6], [0.12, 0.05], 1.0)
    company = rng.choice(len(world.company_name), size=n_v, p=world.company_weight / world.company_weight.sum())
    day = rng.choice(days_in_month, size=n_v, p=day_p / day_p.sum()) + 1
    order = np.lexsort((company, day))  # voucher numbers follow date order, as in a real export
    company, day = company[order], day[order]
    sector = world.company_sector[company]

    available_code = _available(month)
    scen_weight = world.scenario_weight * available_code[world.scenario_code][None, :]
    head = _draw(scen_weight, sector, rng.random(n_v))
    category = world.scenario_category[head]
    size = world.category_size[category]
    rank = (size * rng.random(n_v) ** 2.5).astype(np.int64)  # each company has its favourite shops
    party = world.category_start[category] + (rank + world.favourite_offset[company, category]) % size
    mode = _draw(world.scenario_modes, head, rng.random(n_v))
    mode = np.where(world.party_simplified[party], SIMPLIFIED_PARTY_MODE[mode], mode)
    mode = np.where(world.company_vat_free[company], VAT_FREE_COMPANY_MODE[mode], mode)
    factory_u = rng.random(n_v)

    # Expand vouchers to lines.
    v = np.repeat(np.arange(n_v), counts)
    line = np.arange(base) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    scen = head[v]
    resample = (line > 1) & (rng.random(base) < 0.4)
    if resample.any():
        n_cat = world.n_categories
        by_sector_category = np.zeros((len(SECTORS) * n_cat, len(SCENARIOS)))
        for s in range(len(SECTORS)):
            for c in range(n_cat):
                by_sector_category[s * n_cat + c] = scen_weight[s] * (world.scenario_category == c)
        rv = v[resample]
        scen[resample] = _draw(by_sector_category, sector[rv] * n_cat + category[rv], rng.random(len(rv)))

    true_code = world.scenario_code[scen]
    row_company = company[v]
    twin = world.twin_code[true_code]
    factory = (
        (sector[v] == SECTORS.index(MFG))
        & (twin >= 0)
        & available_code[np.maximum(twin, 0)]
        & (factory_u[v] < world.twin_share[true_code])
    )
    code = np.where(factory, twin, true_code)
    noisy = rng.random(base) < LABEL_NOISE_SHARE
    code[noisy] = _draw(_related_weights(available_code), code[noisy], rng.random(int(noisy.sum())))

    # Memo: optional team/factory prefix + the scenario's words + optional billing month + return marker.
    memo_idx = _pick(world.memo_start[scen], world.memo_count[scen], rng)
    memo = world.memo_text[memo_idx]
    prefix_pool = np.array(("", *MEMO_TEAMS, *FACTORY_PREFIXES, HEAD_OFFICE_PREFIX), dtype=object)
    n_team = len(MEMO_TEAMS)
    prefix_idx = np.where(rng.random(base) < 0.15, 1 + rng.integers(0, n_team, base), 0)
    factory_prefix = 1 + n_team + rng.integers(0, len(FACTORY_PREFIXES), base)
    prefix_idx = np.where(factory & (rng.random(base) < 0.85), factory_prefix, prefix_idx)
    head_office = (sector[v] == SECTORS.index(MFG)) & (twin >= 0) & ~factory & (rng.random(base) < 0.15)
    prefix_idx = np.where(head_office, len(prefix_pool) - 1, prefix_idx)
    prev_year, prev_mon = _shift_month(year, mon, -1)
    month_tags = np.array(("", f" {mon}월분", f" {prev_mon}월분", f" {year}.{mon:02d}"), dtype=object)
    tagged = world.scenario_monthly[scen] & (rng.random(base) < 0.6)
    tag_idx = np.where(tagged, rng.integers(1, len(month_tags), base), 0)
    returned = rng.random(base) < RETURN_SHARE
    return_pool = np.array(("", *(f" {w}" for w in RETURN_WORDS)), dtype=object)
    return_idx = np.where(returned, 1 + rng.integers(0, len(RETURN_WORDS), base), 0)
    memo = prefix_pool[prefix_idx] + memo + month_tags[tag_idx] + return_pool[return_idx]

    # Item: the scenario's words + optional "외 n건" or a quantity.
    item_idx = _pick(world.item_start[scen], world.item_count[scen], rng)
    paired = world.scenario_paired[scen]
    item_idx[paired] = (world.item_start[scen] + memo_idx - world.memo_start[scen])[paired]
    item = world.item_text[item_idx]
    # "외 n건" (and n more) or a quantity; an item already ending in "외" only gets the count.
    suffix_pool = np.array(
        (
            "",
            *(f" 외 {k}건" for k in range(1, 10)),
            *(f" {q}개" for q in range(2, 21)),
            *(f" {k}건" for k in range(1, 10)),
        ),
        dtype=object,
    )
    u_suffix = rng.random(base)
    count_idx = rng.integers(0, 9, base)
    suffix_idx = np.where(u_suffix < 0.15, 1 + count_idx, 0)
    with_qty = world.scenario_qty[scen] & (u_suffix >= 0.15) & (u_suffix < 0.45)
    suffix_idx = np.where(with_qty, 10 + rng.integers(0, 19, base), suffix_idx)
    suffix_idx = np.where(world.item_ends_with_oe[item_idx] & (u_suffix < 0.15), 29 + count_idx, suffix_idx)
    item = item + suffix_pool[suffix_idx]

    # Amounts: log-normal per scenario, rounded like real slips, VAT consistent with the payment mode.
    raw = np.exp(np.log(world.scenario_median[scen]) + world.scenario_sigma[scen] * rng.standard_normal(base))
    step = np.where(raw >= 1_000_000, 1000, 10)
    supply = np.maximum(np.round(raw / step).astype(np.int64) * step, 100)
    supply = np.where(returned, -supply, supply)
    row_mode = mode[v]
    taxable = np.array([m[4] for m in MODES])[row_mode]
    vat = _signed_vat(supply, taxable)
    total = supply + vat

    vat_type = np.array([m[0] for m in MODES], dtype=object)[row_mode]
    entertainment = (true_code == CODE_INDEX[ENTERTAINMENT_CODE]) & np.isin(row_mode, [INVOICE, CARD, CASH])
    vat_type = np.where(entertainment, NON_DEDUCTIBLE_VAT_TYPE, vat_type)
    alt_doc = rng.random(n_v) < np.array([m[3] for m in MODES])[mode]
    usual_doc = np.array([m[1] for m in MODES], dtype=object)[mode]
    other_doc = np.array([m[2] for m in MODES], dtype=object)[mode]
    doc = np.where(alt_doc, other_doc, usual_doc)[v]
    is_sales = np.isin(row_mode, list(SALES_MODES))
    dr_cr = np.where(is_sales, "대변", "차변").astype(object)

    # Dates and voucher keys.
    day_text = np.array([f"{year:04d}{mon:02d}{d:02d}" for d in range(days_in_month + 1)], dtype=object)
    date = day_text[day][v]
    width = max(5, len(str(n_v)))
    seq = np.strings.zfill((np.arange(n_v) + 1).astype(str), width)
    voucher_key = np.strings.add(f"{month}-", seq).astype(object)[v]

    clerk = world.company_clerk[row_company].copy()
    other_clerk = rng.random(base) < 0.1
    clerk[other_clerk] = np.array(CLERKS, dtype=object)[rng.integers(0, len(CLERKS), int(other_clerk.sum()))]
    remark_pool = np.array(("", *REMARKS), dtype=object)
    remark = remark_pool[np.where(rng.random(base) < 0.06, 1 + rng.integers(0, len(REMARKS), base), 0)]

    # Dirty rows: damage distinct rows in place; duplicates are appended later.
    defects = np.full(base, "", dtype=object)
    damage = plan[plan != "duplicate"]
    target = rng.choice(base, size=len(damage), replace=False)
    defects[target] = damage
    picks = {kind: target[damage == kind] for kind in DEFECT_KINDS}
    r = picks["outlier"]
    supply[r] = rng.choice(np.array([-1, 1]), len(r)) * rng.integers(1_000_000_000, 10_000_000_000, len(r)) * 1000
    vat[r] = _signed_vat(supply[r], taxable[r])
    total[r] = supply[r] + vat[r]
    r = picks["amount_mismatch"]
    total[r] = supply[r] + vat[r] + rng.choice(np.array([-1, 1]), len(r)) * rng.integers(1, 5000, len(r)) * 10

    supply_text = supply.astype(str).astype(object)
    vat_text = vat.astype(str).astype(object)
    total_text = total.astype(str).astype(object)
    r = picks["invalid_amount"]
    supply_text[r] = rng.choice(np.array(INVALID_AMOUNTS, dtype=object), len(r))
    date[picks["missing_date"]] = ""
    r = picks["invalid_date"]
    bad_dates = np.array(
        [f"{year:04d}13{mon:02d}", f"{year:04d}{mon:02d}32", f"{year:04d}{mon:02d}00", f"{year:04d}00{mon:02d}"],
        dtype=object,
    )
    date[r] = rng.choice(bad_dates, len(r))
    next_year, next_mon = _shift_month(year, mon, 1)
    prev_days = calendar.monthrange(prev_year, prev_mon)[1]
    outside = np.array(
        [f"{prev_year:04d}{prev_mon:02d}{d:02d}" for d in range(prev_days - 2, prev_days + 1)]
        + [f"{next_year:04d}{next_mon:02d}{d:02d}" for d in range(1, 4)],
        dtype=object,
    )
    date[picks["date_outside_month"]] = rng.choice(outside, len(picks["date_outside_month"]))
    code_text = np.array(CODES, dtype=object)[code]
    name_text = np.array([CHART_OF_ACCOUNTS[c] for c in CODES], dtype=object)[code]
    code_text[picks["missing_label"]] = ""
    name_text[picks["missing_label"]] = ""
    code_text[picks["invalid_label"]] = rng.choice(np.array(INVALID_LABELS, dtype=object), len(picks["invalid_label"]))

    columns: dict[str, np.ndarray] = {
        "date": date,
        "voucher_key": voucher_key,
        "journal_key_count": np.array(("0", "1", "2", "3"), dtype=object)[line],
        "company_name": world.company_name[row_company],
        "vat_id_company": world.company_vat_id[row_company],
        "company_business_type": world.company_type[row_company],
        "company_business_item": world.company_item[row_company],
        "taxpayer_type": world.company_taxpayer[row_company],
        "party_code": world.party_code[party][v],
        "party_name": world.party_name[party][v],
        "vat_id_party": world.party_vat_id[party][v],
        "business_type": world.party_type[party][v],
        "business_item": world.party_item[party][v],
        "desc": memo,
        "item": item,
        "supply_amount": supply_text,
        "vat_amount": vat_text,
        "total_amount": total_text,
        "vat_type": vat_type,
        "document_type": doc,
        "dr_cr": dr_cr,
        "acct_code": code_text,
        "acct_name": name_text,
    }
    data = {KOREAN_HEADERS[key]: values for key, values in columns.items()}
    data[WRITER_COLUMN] = clerk
    data[REMARK_COLUMN] = remark

    # Duplicates: exact copies of clean rows, placed a little later in the file.
    clean = np.flatnonzero(defects == "")
    source = rng.choice(clean, size=n_dup, replace=n_dup > len(clean))
    sort_key = np.concatenate([2 * np.arange(base), 2 * np.minimum(source + rng.integers(0, 50, n_dup), base - 1) + 1])
    file_order = np.argsort(sort_key, kind="stable")
    row_ids = np.concatenate([np.arange(base), source])[file_order]
    all_defects = np.concatenate([defects, np.full(n_dup, "duplicate", dtype=object)])[file_order]
    frame = pd.DataFrame({name: values[row_ids] for name, values in data.items()}, columns=list(DEMO_COLUMNS))
    return DemoMonth(frame=frame, defects=pd.Series(all_defects, index=frame.index, name="defect", dtype=object))
