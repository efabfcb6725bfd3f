"""An accounting office's real size, measured end to end through the real assets and the real Dagster CLI.

What it measures. An office-sized ledger (default 60 coded months × 58,000 rows, 380 client companies, 250
account codes with a long tail) is generated with the demo generator, widened, and written as the demo writes
its files (one CSV a month, the demo's Korean headers, rotating encodings and date styles) into a fresh
ACCTAX_HOME's landing folder. Then every stage runs through Dagster on a local instance (DAGSTER_HOME inside
that ACCTAX_HOME), each run in its own subprocess so its peak RSS is its own:

1. generation (timed separately, not a Dagster stage);
2. the data layer: `dagster job execute -j ledger_data_job` once per month;
3. `dagster asset materialize --select` ledger_dataset, tokenized_dataset, baseline_classifier;
4. unless `--skip-training`: account_classifier at a fixed small number of steps (`--train-steps`; its time is
   that of N steps plus the final valid/test evaluation, not of a real training), ensemble_classifier,
   served_classifier (quality gate floor 0: this measures cost, not quality), the uncoded month's
   ledger_data_job and its `prediction_job`;
5. incremental: month N+1, held back until now, is landed; its ledger_data_job and the rebuild of ledger_dataset
   and tokenized_dataset are compared with month 1 and with the first builds, and the materialization records
   show which partitions of the per-month assets were written since it landed;
6. a year-end month: month N+3 with `--year-end-factor` times the rows (default 10), landed last; its
   ledger_data_job's wall time and peak RSS against the per-month median show how memory grows with a month's
   size and the largest month the 8 GB budget holds (`0` skips it);
7. instance health: the size of the SQLite instance and the time of the reads the UI, the sensors and the
   assets make (`acctax_assets/defs/materialization_records.py`, the retraining and prediction sensors).

Per stage: wall time of the subprocess, rows, rows/s, peak RSS of its process tree (psutil, every 0.2 s,
children included: the DeepSpeed ranks, the trainer), bytes the stage added under ACCTAX_HOME/storage (the asset's
folder) and under the whole ACCTAX_HOME (the instance, MLflow, exports). Per-step durations come from the run's
event log (STEP_START → STEP_SUCCESS of the run the subprocess created, read with `DagsterInstance.get()`), so
one run per stage measures both the CLI's cost (process start, code location load) and each asset's own time
without a second run per asset; "process overhead" is the wall time minus the run's RUN_START → RUN_SUCCESS.
A stage that exceeds `--stage-timeout` or `--max-rss-gb` is stopped and reported as such, and the stages that
need it are reported as skipped: figures only, no pass/fail. Every run uses the quiet console log of `acctax
materialize` (WARNING; the event log is complete either way). Each run's output is kept in `<root>/logs/`.

The asset names of each stage are data (the tables below the imports). The per-month list is also checked against
the code location's `ledger_data_job` at start: an asset the job materializes that the table lacks is added and
named in the output.

Month names: partitions are month starts from ACCTAX_FIRST_MONTH and the current month is not a partition yet,
so the script starts at 2024-01 when N + 2 months fit before the current month and earlier otherwise (set in
ACCTAX_FIRST_MONTH for every run).

Run it:

    .venv/bin/python benchmarks/office_scale.py --quick                      # 6 months × 5,000 rows, ~5.5 min
    .venv/bin/python benchmarks/office_scale.py --months 12 --skip-training  # 12 months at full rows
    .venv/bin/python benchmarks/office_scale.py --skip-training              # the office: 60 × 58,000 rows
    .venv/bin/python benchmarks/office_scale.py --quick --keep /tmp/office   # keep ACCTAX_HOME (/tmp/office/home)

Full size on 2 cores (24 GB; measured at ae3d341 with the CI suite and another benchmark on the same cores, so times
are upper bounds): `--skip-training` takes 49 min — generation 101 s; data layer 798 s (60 runs, 14.9 s median, 6.1 s
of it CLI start, 0.55 GB peak each); ledger_dataset 17 s (3.4 M rows, 2.4 GB); tokenized_dataset 411 s (3.6 GB, the
largest); baseline_classifier 1,143 s on its 200,000-row sample; month N+1: 13 s data layer, 20 s ledger_dataset
(4 % of a full rebuild), 332 s tokenized_dataset (re-tokenizes every row); year-end month (580,000 rows) 35 s and
2.1 GB; 44 MB of SQLite, sensor reads 0.3-0.4 s. Before the Arrow dataset build (f5b0c61): ledger_dataset 43-51 s
and 5.8 GB, month N+1 11 % of a rebuild; before Arrow-string reads (1d81b54) the 10x month peaked at 3.3 GB. The training part at full size is not
measured: the adapter's final evaluation alone scores ~680,000 valid/test rows.
`--quick` (with training) takes about 5.5 min.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import psutil

# ---------------------------------------------------------------------------------------------------------------
# The stages, as data.

# What ledger_data_job materializes for one month, in order (model_text: the month's labelled rows as model text,
# which ledger_dataset only concatenates and splits). The code location's job is compared with it at start.
PER_MONTH_ASSETS: tuple[str, ...] = (
    "raw_ledger",
    "cleaned_ledger",
    "rejected_ledger_rows",
    "ledger_features",
    "model_text",
)
DATA_JOB = "ledger_data_job"
PREDICTION_JOB = "prediction_job"
# Where a data-layer month's row count is read: the raw rows ledger_data_job ingested.
DATA_ROWS: tuple[str, tuple[str, ...]] = ("raw_ledger", ("rows",))
JOB, MATERIALIZE = "job", "materialize"
ADAPTER = "account_classifier"


@dataclass(frozen=True)
class Stage:
    """One Dagster run: `dagster job execute -j target` (partitioned) or `dagster asset materialize --select target`."""

    name: str
    how: str  # JOB or MATERIALIZE
    target: str
    folders: tuple[str, ...]  # folders under ACCTAX_HOME/storage whose growth is the stage's bytes
    # (asset, metadata keys summed) of the run's materialization; "a|b": a, or b where a is absent
    rows: tuple[str, tuple[str, ...]]
    needs: tuple[str, ...] = ()  # stages that must have succeeded first
    partition: str | None = None  # "uncoded" or "incremental" month, for jobs


ML_STAGES: tuple[Stage, ...] = (
    Stage(
        "ledger_dataset",
        MATERIALIZE,
        "ledger_dataset",
        ("ledger_dataset",),
        ("ledger_dataset", ("train_rows", "valid_rows", "test_rows")),
    ),
    Stage(
        "tokenized_dataset",
        MATERIALIZE,
        "tokenized_dataset",
        ("tokenized_dataset",),
        ("tokenized_dataset", ("rows",)),
        needs=("ledger_dataset",),
    ),
    Stage(
        "baseline_classifier",
        MATERIALIZE,
        "baseline_classifier",
        ("baseline_classifier",),
        ("baseline_classifier", ("train_rows_used|train_rows",)),  # the rows it fits on (a sample since 309af71)
        needs=("ledger_dataset",),
    ),
)
# The adapter's rows are the samples its fixed steps see (steps × batch), not read from metadata.
TRAINING_STAGES: tuple[Stage, ...] = (
    Stage(
        ADAPTER,
        MATERIALIZE,
        "account_classifier",
        ("account_classifier", "_work"),
        ("account_classifier", ("train_rows",)),
        needs=("tokenized_dataset",),
    ),
    Stage(
        "ensemble_classifier",
        MATERIALIZE,
        "ensemble_classifier",
        ("ensemble_classifier",),
        ("ledger_dataset", ("valid_rows", "test_rows")),
        needs=(ADAPTER, "baseline_classifier"),
    ),
    Stage(
        "served_classifier",
        MATERIALIZE,
        "served_classifier",
        ("served_classifier",),
        ("ledger_dataset", ("valid_rows", "test_rows")),
        needs=("ensemble_classifier",),
    ),
    Stage("ledger_data_job (uncoded month)", JOB, DATA_JOB, (), DATA_ROWS, partition="uncoded"),
    Stage(
        "prediction_job (uncoded month)",
        JOB,
        PREDICTION_JOB,
        ("ledger_predictions",),
        ("ledger_predictions", ("rows",)),
        needs=("served_classifier", "ledger_data_job (uncoded month)"),
        partition="uncoded",
    ),
)
YEAR_END_STAGE = Stage("ledger_data_job (year-end month)", JOB, DATA_JOB, (), DATA_ROWS, partition="year_end")
MEMORY_BUDGET_GB = 8.0
INCREMENTAL_STAGES: tuple[Stage, ...] = (
    Stage("ledger_data_job (month N+1)", JOB, DATA_JOB, (), DATA_ROWS, partition="incremental"),
    Stage(
        "ledger_dataset (with month N+1)",
        MATERIALIZE,
        "ledger_dataset",
        ("ledger_dataset",),
        ("ledger_dataset", ("train_rows", "valid_rows", "test_rows")),
        needs=("ledger_data_job (month N+1)",),
    ),
    Stage(
        "tokenized_dataset (with month N+1)",
        MATERIALIZE,
        "tokenized_dataset",
        ("tokenized_dataset",),
        ("tokenized_dataset", ("rows",)),
        needs=("ledger_dataset (with month N+1)",),
    ),
)

QUIET: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DEFAULT_FIRST_MONTH = "2024-01"
MB = 1024 * 1024
GB = 1024 * MB
POLL_SECONDS = 0.2
# Client companies get branch-style names derived from the demo's companies (all CP949-encodable).
REGIONS: tuple[str, ...] = (
    "서울", "부산", "대구", "인천", "광주", "대전", "울산", "수원", "성남", "고양", "용인", "청주", "천안", "전주",
    "창원", "포항", "김해", "제주", "원주", "춘천", "안양", "안산", "평택", "구미", "진주", "여수", "순천", "목포",
    "군산", "익산", "경주", "강릉", "충주", "아산", "파주", "김포", "화성", "시흥", "광명", "하남",
)  # fmt: skip
COMPANY_ZIPF = 1.1  # size of a company's clients within one demo company: p ∝ 1/(j+1)^s
SUBCODE_ZIPF = 1.5  # use of a code's sub-codes: p ∝ 1/(j+1)^s
FAVOURITE_SHARE = 0.8  # a row uses its company's usual sub-code of the account this often


# ---------------------------------------------------------------------------------------------------------------
# Options.


@dataclass(frozen=True)
class Options:
    months: int = 60
    rows_per_month: int = 58_000
    companies: int = 380
    codes: int = 250
    seed: int = 7
    skip_training: bool = False
    train_steps: int = 20
    train_batch: int = 32
    stage_timeout: float = 3 * 3600.0
    max_rss_gb: float = 16.0
    year_end_factor: int = 10
    threads: int = 0
    keep: Path | None = None


QUICK = {"months": 6, "rows_per_month": 5000, "companies": 40, "codes": 60}


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=Options.months, help="coded months (default 60)")
    parser.add_argument("--rows-per-month", type=int, default=Options.rows_per_month, help="default 58000")
    parser.add_argument("--companies", type=int, default=Options.companies, help="client companies (default 380)")
    parser.add_argument("--codes", type=int, default=Options.codes, help="account codes (default 250)")
    parser.add_argument("--quick", action="store_true", help="6 months × 5000 rows, 40 companies, 60 codes")
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--skip-training", action="store_true", help="skip adapter, ensemble, served, predictions")
    parser.add_argument("--train-steps", type=int, default=Options.train_steps, help="adapter steps (default 20)")
    parser.add_argument("--train-batch", type=int, default=Options.train_batch, help="adapter batch (default 32)")
    parser.add_argument(
        "--stage-timeout", type=float, default=Options.stage_timeout, help="seconds before a run is stopped"
    )
    parser.add_argument(
        "--max-rss-gb", type=float, default=Options.max_rss_gb, help="a run whose tree passes this RSS is stopped"
    )
    parser.add_argument(
        "--year-end-factor",
        type=int,
        default=Options.year_end_factor,
        help="rows of the year-end month as a multiple of --rows-per-month (default 10; 0 skips it)",
    )
    parser.add_argument(
        "--threads", type=int, default=Options.threads, help="OMP_NUM_THREADS of every run (default: every core)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR (ACCTAX_HOME = DIR/home) and keep it")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else {}
    return Options(
        months=sizes.get("months", args.months),
        rows_per_month=sizes.get("rows_per_month", args.rows_per_month),
        companies=sizes.get("companies", args.companies),
        codes=sizes.get("codes", args.codes),
        seed=args.seed,
        skip_training=args.skip_training,
        train_steps=args.train_steps,
        train_batch=args.train_batch,
        stage_timeout=args.stage_timeout,
        max_rss_gb=args.max_rss_gb,
        year_end_factor=args.year_end_factor,
        threads=args.threads,
        keep=args.keep,
    )


# ---------------------------------------------------------------------------------------------------------------
# Months.


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Calendar:
    coded: list[str]  # YYYY-MM
    incremental: str  # month N+1, held back
    uncoded: str  # month N+2, without account codes
    year_end: str  # month N+3, --year-end-factor times the rows, landed last

    @property
    def first(self) -> str:
        return self.coded[0]

    @staticmethod
    def partition(month: str) -> str:
        return f"{month}-01"


def office_calendar(months: int, today: dt.date | None = None) -> Calendar:
    """N coded months, month N+1, an uncoded month N+2 and a year-end month N+3, all before the current month
    (not a partition yet)."""
    today = today or dt.date.today()
    last_allowed = today.year * 12 + today.month - 2  # the month before the current one
    start = min(_month_index(DEFAULT_FIRST_MONTH), last_allowed - (months + 2))
    names = [_month_name(start + i) for i in range(months + 3)]
    return Calendar(
        coded=names[:months], incremental=names[months], uncoded=names[months + 1], year_end=names[months + 2]
    )


# ---------------------------------------------------------------------------------------------------------------
# Generation: the demo's months, widened to an office's companies and codes.


def _zipf(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _draw_zipf(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(np.cumsum(p), u, side="right"), len(p) - 1)


def _registration_number(rng: np.random.Generator) -> str:
    """A corporation's 사업자등록번호 with a valid check digit."""
    digits = [int(rng.integers(1, 9)), *(int(d) for d in rng.integers(0, 10, 2)), 8, 1]
    digits += [int(d) for d in rng.integers(0, 10, 4)]
    weights = (1, 3, 7, 1, 3, 7, 1, 3, 5)
    total = sum(d * w for d, w in zip(digits, weights, strict=True)) + digits[8] * 5 // 10
    text = "".join(map(str, [*digits, (10 - total % 10) % 10]))
    return f"{text[:3]}-{text[3:5]}-{text[5:]}"


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
    from acctax_assets.demo.tables import CHART_OF_ACCOUNTS, CODES, COMPANIES

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
    from acctax_assets.demo.tables import CODE_INDEX
    from acctax_assets.ledger.schema import KOREAN_HEADERS

    h = KOREAN_HEADERS
    out = frame.copy()
    rng = np.random.default_rng([seed, 9173, _month_index(month)])
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
    from acctax_assets.demo import files
    from acctax_assets.demo.generator import DemoMonth, generate_month

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


# ---------------------------------------------------------------------------------------------------------------
# Running one stage: a subprocess, its process tree's peak RSS, and what its run left in the instance.


def _tree_rss(process: psutil.Process) -> int:
    try:
        processes = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in processes:
        with suppress(psutil.Error):
            total += p.memory_info().rss
    return total


@dataclass
class Command:
    wall_s: float
    peak_rss: int
    returncode: int
    stopped: str | None


def run_measured(command: list[str], env: dict[str, str], cwd: Path, log: Path, options: Options) -> Command:
    """Run `command` in its own process group, polling the tree's RSS; stopped (whole group) past the limits."""
    limit_rss = options.max_rss_gb * GB
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        watched = psutil.Process(process.pid)
        peak, stopped = 0, None
        while process.poll() is None:
            peak = max(peak, _tree_rss(watched))
            elapsed = time.perf_counter() - started
            if elapsed > options.stage_timeout:
                stopped = f"stopped after {elapsed:.0f} s (--stage-timeout {options.stage_timeout:.0f})"
            elif peak > limit_rss:
                stopped = f"stopped at {peak / GB:.1f} GB RSS (--max-rss-gb {options.max_rss_gb:g})"
            if stopped:
                _stop_group(process)
                break
            time.sleep(POLL_SECONDS)
        returncode = process.wait()
        return Command(time.perf_counter() - started, peak, returncode, stopped)


def _stop_group(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _interrupted(log: Path) -> bool:
    """The run stopped on SIGINT/SIGTERM that this script did not send (Dagster's own error for it)."""
    return "DagsterExecutionInterruptedError" in log.read_text(encoding="utf-8", errors="replace")


def dir_size(path: Path) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


@dataclass
class StageRun:
    stage: str
    partition: str | None
    status: str  # "ok", "failed (exit n)", "stopped …", "skipped: …"
    wall_s: float = 0.0
    peak_rss: int = 0
    rows: int = 0
    folder_bytes: dict[str, int] = field(default_factory=dict)  # per storage folder, added by this run
    home_bytes: int = 0  # added under ACCTAX_HOME (landing excluded)
    other_bytes: dict[str, int] = field(default_factory=dict)  # other folders that changed by 1 MB or more
    run_id: str | None = None
    run_s: float | None = None  # RUN_START -> end, from the event log
    steps: dict[str, float] = field(default_factory=dict)  # step key -> seconds, from the event log
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.ok and self.wall_s else 0.0

    @property
    def storage_bytes(self) -> int:
        return sum(self.folder_bytes.values())


def run_events(instance: Any, run_id: str) -> tuple[float | None, dict[str, float]]:
    """(RUN_START → RUN_SUCCESS/FAILURE seconds, step key → STEP_START → STEP_SUCCESS/FAILURE seconds)."""
    from dagster import DagsterEventType as E

    wanted = {E.RUN_START, E.RUN_SUCCESS, E.RUN_FAILURE, E.STEP_START, E.STEP_SUCCESS, E.STEP_FAILURE}
    run_start = run_end = None
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=wanted):
        kind = entry.dagster_event.event_type
        if kind == E.RUN_START:
            run_start = entry.timestamp
        elif kind in (E.RUN_SUCCESS, E.RUN_FAILURE):
            run_end = entry.timestamp
        elif kind == E.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif entry.step_key in starts:
            steps[entry.step_key] = entry.timestamp - starts[entry.step_key]
    run_s = run_end - run_start if run_start is not None and run_end is not None else None
    return run_s, steps


def latest_metadata(instance: Any, asset: str, partition: str | None) -> dict[str, Any]:
    """Metadata of `asset`'s latest materialization (of one partition when given); {} if none. Runs are
    sequential, so for the asset a stage wrote it is that stage's; for the dataset sizes ensemble and served score,
    the dataset's."""
    from dagster import AssetKey, AssetRecordsFilter

    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition] if partition else None), limit=1
    ).records
    if not records:
        return {}
    materialization = records[0].asset_materialization
    return {name: value.value for name, value in materialization.metadata.items()}


class Office:
    """A scratch ACCTAX_HOME with its Dagster instance, and the runs made in it."""

    def __init__(self, root: Path, options: Options, calendar: Calendar) -> None:
        self.root, self.options, self.calendar = root, options, calendar
        self.home = root / "home"
        self.held_back = root / "held_back"
        self.logs = root / "logs"
        self.configs = root / "configs"
        for folder in (self.logs, self.configs, self.held_back):
            folder.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "ACCTAX_HOME": str(self.home),
            "DAGSTER_HOME": str(self.home / "dagster"),
            "ACCTAX_FIRST_MONTH": Calendar.partition(calendar.first),
            "HF_HUB_OFFLINE": "1",
        }
        # Unset, torch, BLAS and scikit-learn use every core, as an office's runs do; --threads N pins them.
        self.env.pop("OMP_NUM_THREADS", None)
        if options.threads:
            self.env["OMP_NUM_THREADS"] = str(options.threads)
        self.dagster = str(Path(sys.executable).with_name("dagster"))
        self.runs: list[StageRun] = []
        self.per_month_assets: tuple[str, ...] = PER_MONTH_ASSETS
        self.assets_note = ""

    @contextmanager
    def environment(self) -> Iterator[None]:
        """This process reads the instance (and imports the code location) with the runs' environment."""
        keys = ("ACCTAX_HOME", "DAGSTER_HOME", "ACCTAX_FIRST_MONTH", "OMP_NUM_THREADS", "HF_HUB_OFFLINE")
        saved = {key: os.environ.get(key) for key in keys}
        for key in keys:
            if key in self.env:
                os.environ[key] = self.env[key]
            else:
                os.environ.pop(key, None)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def instance(self) -> Any:
        from dagster import DagsterInstance

        return DagsterInstance.get()

    def prepare(self) -> None:
        from acctax_assets.paths import AcctaxHome

        with self.environment():
            AcctaxHome(self.home).ensure()  # the dagster.yaml `acctax` writes (pools, run queue, no telemetry)
            from acctax_assets.definitions import defs

            job_assets = {
                key.to_user_string() for key in defs.resolve_job_def(DATA_JOB).asset_layer.selected_asset_keys
            }
        extra = sorted(job_assets - set(PER_MONTH_ASSETS))
        missing = sorted(set(PER_MONTH_ASSETS) - job_assets)
        self.per_month_assets = tuple(a for a in PER_MONTH_ASSETS if a in job_assets) + tuple(extra)
        if extra or missing:
            self.assets_note = (
                f"the code location's {DATA_JOB} differs from this script's table: added {extra or 'none'}, "
                f"not in the job {missing or 'none'}"
            )

    def config_file(self, name: str, config: dict[str, Any]) -> Path:
        path = self.configs / f"{name}.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        return path

    def stage_config(self, stage: Stage) -> dict[str, Any]:
        if stage.name == ADAPTER:
            steps = self.options.train_steps
            return {
                **QUIET,
                "ops": {
                    ADAPTER: {
                        "config": {
                            "max_steps": steps,
                            "eval_steps": steps,
                            "save_steps": steps,
                            "per_device_batch_size": self.options.train_batch,
                        }
                    }
                },
            }
        if stage.name == "served_classifier":
            return {**QUIET, "resources": {"model_settings": {"config": {"min_f1_macro": 0.0}}}}
        return QUIET

    def partition_of(self, stage: Stage, month: str | None = None) -> str | None:
        if month:
            return Calendar.partition(month)
        if stage.partition == "uncoded":
            return Calendar.partition(self.calendar.uncoded)
        if stage.partition == "incremental":
            return Calendar.partition(self.calendar.incremental)
        if stage.partition == "year_end":
            return Calendar.partition(self.calendar.year_end)
        return None

    def folders_of(self, stage: Stage) -> tuple[str, ...]:
        return self.per_month_assets if stage.target == DATA_JOB else stage.folders

    def sizes(self) -> dict[str, int]:
        """Bytes of every entry of ACCTAX_HOME/storage (by name) and of the home's other folders ("home/<name>"),
        landing excluded."""
        storage = self.home / "storage"
        found = {path.name: dir_size(path) if path.is_dir() else path.stat().st_size for path in storage.iterdir()}
        for path in self.home.iterdir():
            if path.name not in ("storage", "landing"):
                found[f"home/{path.name}"] = dir_size(path) if path.is_dir() else path.stat().st_size
        return found

    def run(self, stage: Stage, month: str | None = None) -> StageRun:
        partition = self.partition_of(stage, month)
        label = f"{stage.name} {partition[:7]}" if partition else stage.name
        done = {r.stage for r in self.runs if r.ok}
        missing = [need for need in stage.needs if need not in done]
        if missing:
            result = StageRun(stage.name, partition, f"skipped: {', '.join(missing)} did not succeed")
            self.runs.append(result)
            return result
        safe = label.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "plus")
        config = self.config_file(safe, self.stage_config(stage))
        if stage.how == JOB:
            command = [self.dagster, "job", "execute", "-m", "acctax_assets.definitions", "-j", stage.target]
            command += ["--tags", json.dumps({"dagster/partition": partition}), "-c", str(config)]
        else:
            command = [self.dagster, "asset", "materialize", "-m", "acctax_assets.definitions"]
            command += ["--select", stage.target, "-c", str(config)]
        with self.environment(), self.instance() as instance:
            runs_before = {record.dagster_run.run_id for record in instance.get_run_records(limit=5)}
        before = self.sizes()
        log = self.logs / f"{len(self.runs):03d}_{safe}.log"
        print(f"  running {label} …", file=sys.stderr, flush=True)
        command_result = run_measured(command, self.env, self.root, log, self.options)
        after = self.sizes()
        grown = {name: after.get(name, 0) - before.get(name, 0) for name in {*before, *after}}
        status = command_result.stopped or (
            "ok" if command_result.returncode == 0 else f"failed (exit {command_result.returncode})"
        )
        if command_result.returncode != 0 and not command_result.stopped and _interrupted(log):
            status = f"interrupted by a signal from outside the benchmark (exit {command_result.returncode})"
        result = StageRun(
            stage=stage.name,
            partition=partition,
            status=status,
            wall_s=command_result.wall_s,
            peak_rss=command_result.peak_rss,
            folder_bytes={name: grown.get(name, 0) for name in self.folders_of(stage)},
            home_bytes=sum(grown.values()),
            other_bytes={
                name: delta
                for name, delta in sorted(grown.items())
                if name not in self.folders_of(stage) and abs(delta) >= MB
            },
            log=str(log),
        )
        with self.environment(), self.instance() as instance:
            new = [r for r in instance.get_run_records(limit=5) if r.dagster_run.run_id not in runs_before]
            if new:
                result.run_id = new[0].dagster_run.run_id
                result.run_s, result.steps = run_events(instance, result.run_id)
            if result.ok:
                result.rows = self._rows(instance, stage, partition)
        if not result.ok:
            print(f"  {label}: {status}; log {log}", file=sys.stderr, flush=True)
        self.runs.append(result)
        return result

    def _rows(self, instance: Any, stage: Stage, partition: str | None) -> int:
        if stage.name == ADAPTER:
            return self.options.train_steps * self.options.train_batch  # samples its fixed steps trained on
        asset, keys = stage.rows
        metadata = latest_metadata(instance, asset, partition if stage.how == JOB else None)
        total = 0
        for key in keys:
            present = [name for name in key.split("|") if metadata.get(name) is not None]
            total += int(metadata[present[0]]) if present else 0
        return total


# ---------------------------------------------------------------------------------------------------------------
# Reading the instance back: which partitions runs wrote, its size, and the reads the UI and sensors make.


def latest_storage_id(instance: Any, assets: Sequence[str]) -> int:
    """The newest materialization's storage id among `assets` (0 if none)."""
    from dagster import AssetKey

    newest = 0
    for asset in assets:
        records = instance.fetch_materializations(AssetKey(asset), limit=1).records
        if records:
            newest = max(newest, records[0].storage_id)
    return newest


def partitions_written_since(instance: Any, assets: Sequence[str], after: int) -> dict[str, list[str]]:
    """Per asset, the partitions materialized after storage id `after` (every run, not only one)."""
    from dagster import AssetKey, AssetRecordsFilter

    written: dict[str, list[str]] = {}
    for asset in assets:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), after_storage_id=after), limit=10_000
        ).records
        written[asset] = sorted({r.asset_materialization.partition or "(unpartitioned)" for r in records})
    return written


def instance_sizes(dagster_home: Path) -> list[tuple[str, int, int]]:
    """(what, files, bytes) of the SQLite instance: runs.db, the per-run event log dbs, their index, the rest."""
    history = dagster_home / "history"
    run_dbs = [p for p in (history / "runs").glob("*.db") if p.name != "index.db"]
    groups = [
        ("history/runs.db (runs, tags)", list(history.glob("runs.db*"))),
        ("history/runs/<run_id>.db (event log per run)", run_dbs),
        ("history/runs/index.db (asset and event index)", list((history / "runs").glob("index.db*"))),
        ("schedules/ (sensor and schedule ticks)", [p for p in (dagster_home / "schedules").rglob("*") if p.is_file()]),
        ("storage/ (compute logs)", [p for p in (dagster_home / "storage").rglob("*") if p.is_file()]),
    ]
    rows = [(name, len(paths), sum(p.stat().st_size for p in paths)) for name, paths in groups]
    rows.append(("all of DAGSTER_HOME", sum(1 for p in dagster_home.rglob("*") if p.is_file()), dir_size(dagster_home)))
    return rows


def health_reads(
    instance: Any, months: list[str], per_month_assets: Sequence[str]
) -> list[tuple[str, Callable[[], Any]]]:
    """Named reads, each returning something whose size is printed."""
    from dagster import AssetKey, AssetRecordsFilter, DagsterEventType

    cleaned = AssetKey("cleaned_ledger")

    def latest_each_partition() -> list[Any]:
        return [
            record
            for asset in per_month_assets
            for month in months
            for record in instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[month]), limit=1
            ).records
        ]

    reads: list[tuple[str, Callable[[], Any]]] = [
        ("get_materialized_partitions(cleaned_ledger)", lambda: instance.get_materialized_partitions(cleaned)),
        (
            f"latest materialization of each partition ({len(per_month_assets)} assets × {len(months)} months, fetch_materializations limit=1)",
            latest_each_partition,
        ),
        (
            "get_latest_materialization_events(every per-month asset)",
            lambda: instance.get_latest_materialization_events([AssetKey(a) for a in per_month_assets]),
        ),
        (
            "get_latest_storage_id_by_partition(ledger_features)",
            lambda: instance.get_latest_storage_id_by_partition(
                AssetKey("ledger_features"), DagsterEventType.ASSET_MATERIALIZATION
            ),
        ),
        (
            "fetch_materializations(cleaned_ledger, limit=1000)",
            lambda: instance.fetch_materializations(cleaned, limit=1000).records,
        ),
    ]
    try:
        from acctax_assets.defs import materialization_records as mr

        reads += [
            ("materialization_records.month_status(all months)", lambda: mr.month_status(instance, months).usable),
            ("materialization_records.consumed_month_versions()", lambda: mr.consumed_month_versions(instance)),
            (
                "materialization_records.cleaned_row_counts(each month)",
                lambda: [mr.cleaned_row_counts(instance, m) for m in months],
            ),
            (
                "materialization_records.latest_metadata(ledger_dataset)",
                lambda: mr.latest_metadata(instance, mr.DATASET),
            ),
        ]
    except ImportError as exc:
        reads.append((f"materialization_records: {exc}", lambda: []))
    try:
        from acctax_assets.defs import retraining

        reads += [
            ("retraining.labelled_months() (retraining_sensor)", lambda: retraining.labelled_months(instance)),
            (
                "retraining.changed_labelled_months() (retraining_sensor)",
                lambda: retraining.changed_labelled_months(instance).months,
            ),
            (
                "retraining.retraining_request() (a whole sensor tick)",
                lambda: [retraining.retraining_request(instance, 3, "office_scale")],
            ),
        ]
    except ImportError as exc:
        reads.append((f"retraining: {exc}", lambda: []))
    try:
        from acctax_assets.defs import prediction_sensor

        reads.append(
            (
                "prediction_sensor.uncoded_rows(each month) (ledger_prediction_sensor)",
                lambda: [prediction_sensor.uncoded_rows(instance, m) for m in months],
            )
        )
    except ImportError as exc:
        reads.append((f"prediction_sensor: {exc}", lambda: []))
    return reads


def time_reads(reads: list[tuple[str, Callable[[], Any]]], repeat: int = 3) -> list[tuple[str, float, float, str]]:
    """(read, first seconds, median of `repeat`, result size); a read that fails reports its error."""
    timed = []
    for name, read in reads:
        seconds, size = [], ""
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                value = read()
                size = str(len(value)) if hasattr(value, "__len__") else type(value).__name__
            except Exception as exc:  # a renamed function or changed signature is reported, not fatal
                size = f"error: {type(exc).__name__}: {str(exc)[:80]}"
                seconds.append(time.perf_counter() - started)
                break
            seconds.append(time.perf_counter() - started)
        timed.append((name, seconds[0], statistics.median(seconds), size))
    return timed


# ---------------------------------------------------------------------------------------------------------------
# The benchmark.


def code_description(env: dict[str, str]) -> str:
    """Which copy of the package the runs import (PYTHONPATH may point at a snapshot), its git HEAD and how many of
    its files differ from HEAD."""
    found = subprocess.run(
        [sys.executable, "-c", "import acctax_assets, os; print(os.path.dirname(acctax_assets.__file__))"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    package = Path(found.stdout.strip() or ".")
    head = subprocess.run(
        ["git", "-C", str(package), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return f"{package} (not a git checkout: a snapshot)"
    dirty = subprocess.run(
        ["git", "-C", str(package), "status", "--porcelain", "--", "."], capture_output=True, text=True, check=False
    )
    changed = len(dirty.stdout.splitlines())
    return f"{package} at {head.stdout.strip()}" + (f", {changed} file(s) changed or new since" if changed else "")


@dataclass
class Report:
    options: Options
    calendar: Calendar
    root: str
    per_month_assets: tuple[str, ...]
    assets_note: str
    code: str
    generated: list[Generated]
    data_runs: list[StageRun]  # one per coded month
    ml_runs: list[StageRun]
    training_runs: list[StageRun]
    incremental_runs: list[StageRun]
    year_end_run: StageRun | None
    written_since_incremental: dict[str, list[str]]
    incremental_run_partitions: dict[str, list[str]]
    instance_sizes: list[tuple[str, int, int]]
    reads: list[tuple[str, float, float, str]]
    total_s: float


def run_benchmark(options: Options, root: Path | None = None, today: dt.date | None = None) -> Report:
    """Generate, run every stage, measure; `root` (or --keep, or a temporary folder) holds ACCTAX_HOME."""
    started = time.perf_counter()
    calendar = office_calendar(options.months, today)
    if root is None and options.keep is not None:
        root = options.keep
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        if (root / "home").exists():
            raise SystemExit(f"{root / 'home'} exists: give an empty folder")
        return _run(options, calendar, root.resolve(), started)
    scratch = Path(tempfile.mkdtemp(prefix="office_scale_"))
    try:
        return _run(options, calendar, scratch, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(options: Options, calendar: Calendar, root: Path, started: float) -> Report:
    from dagster import AssetKey, DagsterEventType

    office = Office(root, options, calendar)
    office.prepare()
    print(f"office_scale: ACCTAX_HOME {office.home}, logs {office.logs}", file=sys.stderr, flush=True)

    world = office_world(options.companies, options.codes, options.seed)
    landing = office.home / "landing"
    generated = [write_months(landing, calendar.coded, options, world)]
    generated.append(write_months(office.held_back, [calendar.incremental], options, world))
    if not options.skip_training:
        generated.append(write_months(landing, [calendar.uncoded], options, world, unlabelled=True))

    data_stage = Stage("ledger_data_job", JOB, DATA_JOB, (), DATA_ROWS)
    data_runs = [office.run(data_stage, month) for month in calendar.coded]
    ml_runs = [office.run(stage) for stage in ML_STAGES]
    training_runs = [] if options.skip_training else [office.run(stage) for stage in TRAINING_STAGES]

    with office.environment(), office.instance() as instance:
        mark = latest_storage_id(instance, office.per_month_assets)
    for path in office.held_back.iterdir():
        shutil.move(str(path), landing / path.name)
    incremental_runs = [office.run(stage) for stage in INCREMENTAL_STAGES]
    with office.environment(), office.instance() as instance:
        written = partitions_written_since(instance, office.per_month_assets, mark)
    year_end_run = None
    if options.year_end_factor:
        big = options.year_end_factor * options.rows_per_month
        generated.append(write_months(landing, [calendar.year_end], options, world, rows_per_month=big))
        year_end_run = office.run(YEAR_END_STAGE)

    with office.environment(), office.instance() as instance:
        month_run = incremental_runs[0].run_id
        by_run: dict[str, list[str]] = {}
        if month_run:
            entries = instance.all_logs(month_run, of_type=DagsterEventType.ASSET_MATERIALIZATION)
            for entry in entries:
                materialization = entry.asset_materialization
                by_run.setdefault(materialization.asset_key.to_user_string(), []).append(
                    materialization.partition or "(unpartitioned)"
                )
        months = sorted(instance.get_materialized_partitions(AssetKey("raw_ledger")))
        reads = time_reads(health_reads(instance, months, office.per_month_assets))
    sizes = instance_sizes(office.home / "dagster")
    return Report(
        options=options,
        calendar=calendar,
        root=str(root),
        per_month_assets=office.per_month_assets,
        assets_note=office.assets_note,
        code=code_description(office.env),
        generated=generated,
        data_runs=data_runs,
        ml_runs=ml_runs,
        training_runs=training_runs,
        incremental_runs=incremental_runs,
        year_end_run=year_end_run,
        written_since_incremental=written,
        incremental_run_partitions={k: sorted(v) for k, v in by_run.items()},
        instance_sizes=sizes,
        reads=reads,
        total_s=time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------------------------------------------
# Printing: one markdown table per section, figures only.


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mb(value: float) -> str:
    return f"{value / MB:,.1f}"


def num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _steps_text(run: StageRun, top: int = 3) -> str:
    if not run.steps:
        return ""
    longest = sorted(run.steps.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{key} {seconds:.1f} s" for key, seconds in longest)


def stage_rows(runs: Sequence[StageRun], options: Options) -> list[list[str]]:
    rows = []
    for run in runs:
        name = run.stage
        if name == ADAPTER:
            name = f"{ADAPTER} (fixed {options.train_steps} steps × batch {options.train_batch} + final evaluation)"
        overhead = f"{run.wall_s - run.run_s:.1f}" if run.run_s is not None else ""
        rows.append(
            [
                name,
                run.status,
                num(run.wall_s, 1),
                num(run.rows) if run.ok else "",
                num(run.rows_per_s) if run.ok else "",
                mb(run.peak_rss),
                mb(run.storage_bytes),
                mb(run.home_bytes),
                ", ".join(f"{name} {delta / MB:+,.0f}" for name, delta in run.other_bytes.items()),
                overhead,
                _steps_text(run),
            ]
        )
    return rows


STAGE_HEADER = (
    "stage",
    "status",
    "wall s",
    "rows",
    "rows/s",
    "peak RSS MB",
    "storage added MB",
    "ACCTAX_HOME added MB",
    "other folders changed MB",
    "process overhead s",
    "longest steps (event log)",
)


def render(report: Report) -> str:
    o, c = report.options, report.calendar
    out: list[str] = []
    add = out.append
    add("## Setup\n")
    add(
        table(
            ("parameter", "value"),
            [
                ("coded months", f"{o.months} ({c.coded[0]} … {c.coded[-1]})"),
                ("month N+1 (held back, incremental)", c.incremental),
                ("uncoded month (predictions)", c.uncoded if not o.skip_training else "not run (--skip-training)"),
                ("rows per month", num(o.rows_per_month)),
                ("client companies / account codes", f"{o.companies} / {o.codes}"),
                ("per-month assets (ledger_data_job)", ", ".join(report.per_month_assets)),
                ("note", report.assets_note or "the script's table matches the code location"),
                ("code", report.code),
                ("CPU cores / memory", f"{os.cpu_count()} / {psutil.virtual_memory().total / GB:.0f} GB"),
                ("threads per run (OMP_NUM_THREADS)", str(o.threads) if o.threads else "unset: every core"),
                ("limits per run", f"{o.stage_timeout:.0f} s, {o.max_rss_gb:g} GB RSS"),
                ("root (home, logs)", report.root),
                ("total wall time", f"{report.total_s:,.0f} s"),
            ],
        )
    )
    add("\n## Generation (demo generator, widened; not a Dagster stage)\n")
    add(
        table(
            ("files", "months", "rows", "seconds", "rows/s", "MB on disk"),
            [
                (
                    g.folder,
                    f"{len(g.months)} ({g.months[0]}{' … ' + g.months[-1] if len(g.months) > 1 else ''})",
                    num(g.rows),
                    num(g.seconds, 1),
                    num(g.rows / g.seconds if g.seconds else 0),
                    mb(g.bytes),
                )
                for g in report.generated
            ],
        )
    )
    add(_data_layer(report))
    add("\n## ML stages (`dagster asset materialize --select <asset>`)\n")
    add(table(STAGE_HEADER, stage_rows(report.ml_runs, o)))
    if report.training_runs:
        add("\n## Training and predictions\n")
        add(table(STAGE_HEADER, stage_rows(report.training_runs, o)))
    add(_incremental(report))
    add(_year_end(report))
    add("\n## Instance health (SQLite instance in DAGSTER_HOME)\n")
    add(table(("what", "files", "MB"), [(n, num(f), mb(b)) for n, f, b in report.instance_sizes]))
    add("")
    add(
        table(
            ("read", "first s", "median of 3 s", "result size"),
            [(n, f"{first:.3f}", f"{median:.3f}", size) for n, first, median, size in report.reads],
        )
    )
    return "\n".join(out)


def _data_layer(report: Report) -> str:
    runs = report.data_runs
    ok = [r for r in runs if r.ok]
    out = [f"\n## Data layer (`dagster job execute -j {DATA_JOB}`, one run per month)\n"]
    failed = [f"{r.partition[:7]}: {r.status}" for r in runs if not r.ok]
    if failed:
        out.append(f"Months not ok: {', '.join(failed)}\n")
    if not ok:
        return "\n".join(out)

    def figures(pick: Callable[[StageRun], float], fmt: Callable[[float], str]) -> list[str]:
        values = [pick(r) for r in ok]
        return [
            fmt(sum(values)),
            fmt(statistics.median(values)),
            fmt(values[0]),
            fmt(values[-1]),
            fmt(min(values)),
            fmt(max(values)),
        ]

    total_rows, total_wall = sum(r.rows for r in ok), sum(r.wall_s for r in ok)
    rows = [
        ["wall s", *figures(lambda r: r.wall_s, lambda v: num(v, 1))],
        ["rows", *figures(lambda r: r.rows, num)],
        ["rows/s", num(total_rows / total_wall), *figures(lambda r: r.rows_per_s, num)[1:]],
        ["peak RSS MB", "", *figures(lambda r: r.peak_rss, mb)[1:]],
        ["storage added MB", *figures(lambda r: r.storage_bytes, mb)],
        ["ACCTAX_HOME added MB", *figures(lambda r: r.home_bytes, mb)],
        [
            "process overhead s (wall − run)",
            *figures(lambda r: r.wall_s - (r.run_s if r.run_s is not None else r.wall_s), lambda v: num(v, 1)),
        ],
    ]
    first, last = ok[0].partition[:7], ok[-1].partition[:7]
    header = ("per run", f"total ({len(ok)} months)", "per-month median", f"month 1 ({first})", f"last ({last})")
    out.append(table((*header, "min", "max"), rows))
    out.append("")
    out.append(
        table(
            ("asset folder", "total MB", "per-month median MB"),
            [
                (
                    asset,
                    mb(sum(r.folder_bytes.get(asset, 0) for r in ok)),
                    mb(statistics.median(r.folder_bytes.get(asset, 0) for r in ok)),
                )
                for asset in report.per_month_assets
            ],
        )
    )
    out.append("")
    step_keys = sorted({key for r in ok for key in r.steps}, key=lambda k: -sum(r.steps.get(k, 0) for r in ok))
    out.append(
        table(
            ("step (event log)", "total s", "per-month median s", "max s"),
            [
                (
                    key,
                    num(sum(r.steps.get(key, 0) for r in ok), 1),
                    num(statistics.median(r.steps.get(key, 0) for r in ok), 2),
                    num(max(r.steps.get(key, 0) for r in ok), 2),
                )
                for key in step_keys
            ],
        )
    )
    return "\n".join(out)


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}×" if old else ""


def _incremental(report: Report) -> str:
    inc = {r.stage: r for r in report.incremental_runs}
    ml = {r.stage: r for r in report.ml_runs}
    ok_months = [r for r in report.data_runs if r.ok]
    out = [f"\n## Incremental month N+1 ({report.calendar.incremental})\n"]
    rows = []
    month = inc.get("ledger_data_job (month N+1)")
    if month and ok_months:
        median = statistics.median(r.wall_s for r in ok_months)
        rows.append(
            (
                "data layer wall s (vs month 1)",
                num(ok_months[0].wall_s, 1),
                num(month.wall_s, 1),
                _ratio(month.wall_s, ok_months[0].wall_s),
            )
        )
        rows.append(
            (
                "data layer wall s (vs per-month median)",
                num(median, 1),
                num(month.wall_s, 1),
                _ratio(month.wall_s, median),
            )
        )
        rows.append(
            (
                "data layer peak RSS MB (vs month 1)",
                mb(ok_months[0].peak_rss),
                mb(month.peak_rss),
                _ratio(month.peak_rss, ok_months[0].peak_rss),
            )
        )
    for name in ("ledger_dataset", "tokenized_dataset"):
        first, again = ml.get(name), inc.get(f"{name} (with month N+1)")
        if first and again:
            for label, pick, fmt in (
                ("wall s", lambda r: r.wall_s, lambda v: num(v, 1)),
                ("rows", lambda r: r.rows, num),
                ("peak RSS MB", lambda r: r.peak_rss, mb),
            ):
                rows.append((f"{name} {label}", fmt(pick(first)), fmt(pick(again)), _ratio(pick(again), pick(first))))
    out.append(table(("measure", "first build / month 1", "with month N+1", "ratio"), rows))
    out.append("")
    out.append(
        table(
            ("per-month asset", "partitions materialized since month N+1 landed (all runs)", "by the month N+1 run"),
            [
                (
                    asset,
                    ", ".join(p[:7] for p in report.written_since_incremental.get(asset, [])) or "none",
                    ", ".join(p[:7] for p in report.incremental_run_partitions.get(asset, [])) or "none",
                )
                for asset in report.per_month_assets
            ],
        )
    )
    return "\n".join(out)


def _year_end(report: Report) -> str:
    """The big month against the per-month median: memory per extra row and the month size the budget holds."""
    run, ok_months = report.year_end_run, [r for r in report.data_runs if r.ok]
    if run is None:
        return "\n## Year-end month\n\nnot run (--year-end-factor 0)"
    out = [f"\n## Year-end month {report.calendar.year_end} ({report.options.year_end_factor}× the rows)\n"]
    if not run.ok or not ok_months:
        out.append(f"ledger_data_job: {run.status}")
        return "\n".join(out)
    median_rows = statistics.median(r.rows for r in ok_months)
    median_rss = statistics.median(r.peak_rss for r in ok_months)
    median_wall = statistics.median(r.wall_s for r in ok_months)
    rows = [
        ("rows", num(median_rows), num(run.rows), _ratio(run.rows, median_rows)),
        ("wall s", num(median_wall, 1), num(run.wall_s, 1), _ratio(run.wall_s, median_wall)),
        ("peak RSS MB", mb(median_rss), mb(run.peak_rss), _ratio(run.peak_rss, median_rss)),
        ("longest steps (event log)", "", _steps_text(run), ""),
    ]
    out.append(table(("ledger_data_job", "per-month median", "year-end month", "ratio"), rows))
    extra_rows = run.rows - median_rows
    if extra_rows > 0 and run.peak_rss > median_rss:
        per_row = (run.peak_rss - median_rss) / extra_rows
        fits = median_rows + (MEMORY_BUDGET_GB * GB - median_rss) / per_row
        out.append(
            f"\nPeak RSS grows by {per_row / 1024:.2f} KB per extra row: a month of about {fits:,.0f} rows fits "
            f"in {MEMORY_BUDGET_GB:g} GB."
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    report = run_benchmark(options)
    print(render(report))


if __name__ == "__main__":
    main()
