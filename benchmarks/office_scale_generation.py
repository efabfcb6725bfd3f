"""office_scale.py's ledger: the demo generator's months widened to an office's client companies and account codes
(a long tail of both), written as the demo writes its files."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from office_scale_plan import Options, month_index

from acctax_assets.demo import files
from acctax_assets.demo.generator import DemoMonth, generate_month
from acctax_assets.demo.tables import CHART_OF_ACCOUNTS, CODE_INDEX, CODES, COMPANIES
from acctax_assets.demo.world import registration_number_text
from acctax_assets.ledger.schema import KOREAN_HEADERS

# Client companies get branch-style names derived from the demo's companies (all CP949-encodable).
REGIONS: tuple[str, ...] = (
    "서울", "부산", "대구", "인천", "광주", "대전", "울산", "수원", "성남", "고양", "용인", "청주", "천안", "전주",
    "창원", "포항", "김해", "제주", "원주", "춘천", "안양", "안산", "평택", "구미", "진주", "여수", "순천", "목포",
    "군산", "익산", "경주", "강릉", "충주", "아산", "파주", "김포", "화성", "시흥", "광명", "하남",
)  # fmt: skip
COMPANY_ZIPF = 1.1  # size of a company's clients within one demo company: p ∝ 1/(j+1)^s
SUBCODE_ZIPF = 1.5  # use of a code's sub-codes: p ∝ 1/(j+1)^s
FAVOURITE_SHARE = 0.8  # a row uses its company's usual sub-code of the account this often


def _zipf(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _draw_zipf(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(np.cumsum(p), u, side="right"), len(p) - 1)


def _registration_number(rng: np.random.Generator) -> str:
    """A corporation's 사업자등록번호 (middle digits 81) with a valid check digit."""
    head = [int(rng.integers(1, 9)), *(int(d) for d in rng.integers(0, 10, 2)), 8, 1]
    return registration_number_text([*head, *(int(d) for d in rng.integers(0, 10, 4))])


@dataclass(frozen=True)
class OfficeWorld:
    """The demo's 20 companies and 51 codes widened: each demo company stands for several client companies of
    Zipf-like sizes, each demo code for several sub-codes of Zipf-like use, and each client company has its usual
    sub-code per account (used FAVOURITE_SHARE of the time), so the sub-codes are learnable but long-tailed."""

    base_company: dict[str, int]  # demo company name -> index
    company_name: np.ndarray  # derived company -> name
    company_vat_id: np.ndarray
    derived_of_base: list[np.ndarray]  # demo company -> its derived companies
    company_p: list[np.ndarray]
    subcodes: dict[str, np.ndarray]  # demo code -> its codes (the first is itself)
    subcode_names: dict[str, np.ndarray]
    subcode_p: dict[str, np.ndarray]
    favourite: np.ndarray  # derived company × demo code index -> usual sub-code index


def office_world(companies: int, codes: int, seed: int) -> OfficeWorld:
    """The office's companies and codes, drawn once per run so every month widens the same way."""
    if companies < len(COMPANIES):
        raise SystemExit(f"--companies must be at least the demo's {len(COMPANIES)}, got {companies}")
    if not len(CODES) <= codes <= 10 * len(CODES):
        raise SystemExit(f"--codes must lie between the demo's {len(CODES)} and {10 * len(CODES)}, got {codes}")
    rng = np.random.default_rng([seed, 4242])
    names, vat_ids, derived_of_base, company_p = [], [], [], []
    for b, company in enumerate(COMPANIES):
        count = companies // len(COMPANIES) + (b < companies % len(COMPANIES))
        ids = []
        for j in range(count):
            if j == 0:
                name = company.name
            else:
                region = REGIONS[(j - 1) % len(REGIONS)]
                name = f"{company.name} {region}" + (f"{(j - 1) // len(REGIONS) + 1}" if j > len(REGIONS) else "")
            ids.append(len(names))
            names.append(name)
            vat_ids.append(_registration_number(rng))
        derived_of_base.append(np.array(ids))
        company_p.append(_zipf(count, COMPANY_ZIPF))
    subcodes, subcode_names, subcode_p = {}, {}, {}
    for i, code in enumerate(CODES):
        count = codes // len(CODES) + (i < codes % len(CODES))
        subcodes[code] = np.array([code] + [f"{code[:4]}{d}" for d in range(1, count)], dtype=object)
        base_name = CHART_OF_ACCOUNTS[code]
        subcode_names[code] = np.array([base_name] + [f"{base_name}-{d}" for d in range(1, count)], dtype=object)
        subcode_p[code] = _zipf(count, SUBCODE_ZIPF)
    favourite = np.stack(
        [_draw_zipf(rng.random(len(names)), subcode_p[code]) for code in CODES], axis=1
    )  # company × code
    return OfficeWorld(
        base_company={company.name: b for b, company in enumerate(COMPANIES)},
        company_name=np.array(names, dtype=object),
        company_vat_id=np.array(vat_ids, dtype=object),
        derived_of_base=derived_of_base,
        company_p=company_p,
        subcodes=subcodes,
        subcode_names=subcode_names,
        subcode_p=subcode_p,
        favourite=favourite,
    )


def widen(frame: pd.DataFrame, world: OfficeWorld, month: str, seed: int) -> pd.DataFrame:
    """The demo month re-mapped to the office's companies (per voucher) and sub-codes (per line). Draws are keyed
    by voucher and line, so the demo's duplicate lines stay exact duplicates."""
    h = KOREAN_HEADERS
    out = frame.copy()
    rng = np.random.default_rng([seed, 9173, month_index(month)])
    vouchers, voucher_of_row = np.unique(out[h["voucher_key"]].to_numpy(dtype=str), return_inverse=True)
    lines, line_of_row = np.unique(
        (out[h["voucher_key"]] + "#" + out[h["journal_key_count"]]).to_numpy(dtype=str), return_inverse=True
    )
    u_company = rng.random(len(vouchers))[voucher_of_row]
    u_favourite, u_sub = rng.random(len(lines))[line_of_row], rng.random(len(lines))[line_of_row]

    base = out[h["company_name"]].map(world.base_company).to_numpy()
    company = np.zeros(len(out), dtype=np.int64)
    for b, ids in enumerate(world.derived_of_base):
        rows = base == b
        company[rows] = ids[_draw_zipf(u_company[rows], world.company_p[b])]
    out[h["company_name"]] = world.company_name[company]
    out[h["vat_id_company"]] = world.company_vat_id[company]

    codes = out[h["acct_code"]].to_numpy(dtype=object).copy()
    names = out[h["acct_name"]].to_numpy(dtype=object).copy()
    for code, subcodes in world.subcodes.items():
        rows = np.flatnonzero(codes == code)
        if not len(rows) or len(subcodes) == 1:
            continue
        usual = world.favourite[company[rows], CODE_INDEX[code]]
        fresh = _draw_zipf(u_sub[rows], world.subcode_p[code])
        pick = np.where(u_favourite[rows] < FAVOURITE_SHARE, usual, fresh)
        codes[rows] = subcodes[pick]
        names[rows] = world.subcode_names[code][pick]
    out[h["acct_code"]] = codes
    out[h["acct_name"]] = names
    return out


@dataclass
class Generated:
    """One batch of written month files, for the Generation table."""

    folder: str
    months: list[str]
    rows: int
    seconds: float
    bytes: int


def write_months(
    folder: Path,
    months: list[str],
    options: Options,
    world: OfficeWorld,
    unlabelled: bool = False,
    rows_per_month: int | None = None,
) -> Generated:
    """The demo's own writer (`write_demo_ledger`: one CSV a month, the demo's headers, rotating encodings, dates
    and thousands separators) with each generated month widened before it is written."""

    def widened(month: str, rows: int, seed: int) -> DemoMonth:
        demo = generate_month(month, rows, seed)
        return DemoMonth(frame=widen(demo.frame, world, month, seed), defects=demo.defects)

    rows = rows_per_month or options.rows_per_month
    started = time.perf_counter()
    with mock.patch.object(files, "generate_month", widened):
        paths = files.write_demo_ledger(
            folder, months, rows, options.seed, unlabelled_months=months if unlabelled else ()
        )
    return Generated(
        folder=folder.name,
        months=months,
        rows=len(months) * rows,
        seconds=time.perf_counter() - started,
        bytes=sum(p.stat().st_size for p in paths),
    )
