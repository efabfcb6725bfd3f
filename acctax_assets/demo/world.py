"""The demo universe that stays the same from month to month (companies, counterparties with registration
numbers, scenario weights), built once from a fixed seed and flattened into arrays so `generator` can look
up every row at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from acctax_assets.demo.tables import (
    CLERKS,
    CODE_INDEX,
    CODES,
    COMPANIES,
    MANUFACTURING_TWINS,
    N_MODES,
    SCENARIOS,
    SECTOR_CODE_MULTIPLIER,
    SECTORS,
    draw_categories,
)


def _registration_number(rng: np.random.Generator, kind: str) -> str:
    """A 사업자등록번호 with a valid check digit; the middle part says corporation, individual or public body."""
    head = [int(d) for d in rng.integers(0, 10, size=3)]
    head[0] = int(rng.integers(1, 9))
    if kind == "corp":
        middle = [8, int(rng.choice([1, 6, 7, 8]))]
    elif kind == "public":
        middle = [8, 3]
    else:
        middle = [int(d) for d in divmod(int(rng.integers(1, 80)), 10)]
    tail = [int(d) for d in rng.integers(0, 10, size=4)]
    return registration_number_text(head + middle + tail)


def registration_number_text(digits: Sequence[int]) -> str:
    """The nine leading digits of a 사업자등록번호 with their check digit, as `###-##-#####` (also used by
    benchmarks/office_scale_generation.py, whose client companies need valid numbers too)."""
    weights = (1, 3, 7, 1, 3, 7, 1, 3, 5)
    total = sum(d * w for d, w in zip(digits, weights, strict=True)) + digits[8] * 5 // 10
    text = "".join(map(str, [*digits, (10 - total % 10) % 10]))
    return f"{text[:3]}-{text[3:5]}-{text[5:]}"


@dataclass(frozen=True)
class World:
    """Everything that stays the same from month to month, flattened into arrays for vectorised lookups."""

    company_name: np.ndarray
    company_vat_id: np.ndarray
    company_type: np.ndarray
    company_item: np.ndarray
    company_taxpayer: np.ndarray
    company_sector: np.ndarray  # sector index
    company_weight: np.ndarray
    company_vat_free: np.ndarray  # exempt or simplified: sales without VAT
    company_clerk: np.ndarray
    party_name: np.ndarray
    party_code: np.ndarray
    party_vat_id: np.ndarray
    party_type: np.ndarray
    party_item: np.ndarray
    party_simplified: np.ndarray
    category_start: np.ndarray
    category_size: np.ndarray
    favourite_offset: np.ndarray  # company x category
    scenario_code: np.ndarray  # code index
    scenario_category: np.ndarray
    scenario_weight: np.ndarray  # sector x scenario, before month availability
    scenario_modes: np.ndarray  # scenario x mode
    scenario_median: np.ndarray
    scenario_sigma: np.ndarray
    scenario_monthly: np.ndarray
    scenario_qty: np.ndarray
    scenario_paired: np.ndarray
    memo_text: np.ndarray
    memo_start: np.ndarray
    memo_count: np.ndarray
    item_text: np.ndarray
    item_start: np.ndarray
    item_count: np.ndarray
    item_ends_with_oe: np.ndarray
    twin_code: np.ndarray  # code index -> twin code index or -1
    twin_share: np.ndarray
    n_categories: int


_WORLD_SEED = 20240101


def _flatten(groups: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variable-length word lists as one array plus start/count, so a row can pick its list's k-th entry."""
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    text = np.array([w for g in groups for w in g], dtype=object)
    return text, starts, counts


@cache
def demo_world() -> World:
    """Build the demo universe once; a fixed seed keeps counterparties stable across months and runs."""
    rng = np.random.default_rng(_WORLD_SEED)
    categories = draw_categories(rng)
    cat_names = list(categories)
    cat_index = {name: i for i, name in enumerate(cat_names)}

    names: list[str] = []
    vat_ids: list[str] = []
    types: list[str] = []
    items: list[str] = []
    simplified: list[bool] = []
    starts: list[int] = []
    sizes: list[int] = []
    for cat in categories.values():
        starts.append(len(names))
        sizes.append(len(cat.parties))
        for name, item in cat.parties:
            is_simplified = bool(rng.random() < cat.simplified_share)
            if cat.id_kind == "none":
                vat_id = ""
            elif cat.id_kind == "mixed":
                vat_id = _registration_number(rng, "corp" if "(주)" in name or "(유)" in name else "person")
            else:
                vat_id = _registration_number(rng, cat.id_kind)
            names.append(name)
            vat_ids.append(vat_id)
            types.append(cat.business_type)
            items.append(item)
            simplified.append(is_simplified)
    party_codes = [f"{c:05d}" for c in rng.permutation(len(names)) + 101]

    sector_index = {s: i for i, s in enumerate(SECTORS)}
    n_scen = len(SCENARIOS)
    weight = np.zeros((len(SECTORS), n_scen))
    modes = np.zeros((n_scen, N_MODES))
    for j, sc in enumerate(SCENARIOS):
        for sector in sc.sectors:
            mult = SECTOR_CODE_MULTIPLIER[sector].get(sc.code, 1.0)
            weight[sector_index[sector], j] = sc.weight * mult
        for mode, share in (sc.modes or categories[sc.category].modes).items():
            modes[j, mode] = share

    twin_code = np.full(len(CODES), -1, dtype=np.int64)
    twin_share = np.zeros(len(CODES))
    for base, (twin, share) in MANUFACTURING_TWINS.items():
        twin_code[CODE_INDEX[base]] = CODE_INDEX[twin]
        twin_share[CODE_INDEX[base]] = share

    for sc in SCENARIOS:
        if sc.paired and len(sc.memos) != len(sc.items):
            raise ValueError(f"paired scenario {sc.code}/{sc.category} needs as many items as memos")
    memo_text, memo_start, memo_count = _flatten([sc.memos for sc in SCENARIOS])
    item_text, item_start, item_count = _flatten([sc.items for sc in SCENARIOS])
    companies = COMPANIES
    clerks = np.array([CLERKS[i % len(CLERKS)] for i in range(len(companies))], dtype=object)
    return World(
        company_name=np.array([c.name for c in companies], dtype=object),
        company_vat_id=np.array(
            [_registration_number(rng, "corp" if "(주)" in c.name else "person") for c in companies], dtype=object
        ),
        company_type=np.array([c.business_type for c in companies], dtype=object),
        company_item=np.array([c.business_item for c in companies], dtype=object),
        company_taxpayer=np.array([c.taxpayer_type for c in companies], dtype=object),
        company_sector=np.array([sector_index[c.sector] for c in companies], dtype=np.int64),
        company_weight=np.array([c.weight for c in companies], dtype=float),
        company_vat_free=np.array([c.taxpayer_type in ("2", "3") for c in companies]),
        company_clerk=clerks,
        party_name=np.array(names, dtype=object),
        party_code=np.array(party_codes, dtype=object),
        party_vat_id=np.array(vat_ids, dtype=object),
        party_type=np.array(types, dtype=object),
        party_item=np.array(items, dtype=object),
        party_simplified=np.array(simplified),
        category_start=np.array(starts, dtype=np.int64),
        category_size=np.array(sizes, dtype=np.int64),
        favourite_offset=rng.integers(0, 1 << 20, size=(len(companies), len(cat_names))),
        scenario_code=np.array([CODE_INDEX[sc.code] for sc in SCENARIOS], dtype=np.int64),
        scenario_category=np.array([cat_index[sc.category] for sc in SCENARIOS], dtype=np.int64),
        scenario_weight=weight,
        scenario_modes=modes,
        scenario_median=np.array([sc.median for sc in SCENARIOS], dtype=float),
        scenario_sigma=np.array([sc.sigma for sc in SCENARIOS], dtype=float),
        scenario_monthly=np.array([sc.monthly for sc in SCENARIOS]),
        scenario_qty=np.array([sc.qty for sc in SCENARIOS]),
        scenario_paired=np.array([sc.paired for sc in SCENARIOS]),
        memo_text=memo_text,
        memo_start=memo_start,
        memo_count=memo_count,
        item_text=item_text,
        item_start=item_start,
        item_count=item_count,
        item_ends_with_oe=np.array([text.endswith(" 외") for text in item_text]),
        twin_code=twin_code,
        twin_share=twin_share,
        n_categories=len(cat_names),
    )
