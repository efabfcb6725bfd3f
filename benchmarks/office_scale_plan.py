"""office_scale.py's plan: which Dagster runs it makes (its stages, as data), the options that size them, and the
months they land on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

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


LEDGER_DATASET = Stage(
    "ledger_dataset",
    MATERIALIZE,
    "ledger_dataset",
    ("ledger_dataset",),
    ("ledger_dataset", ("train_rows", "valid_rows", "test_rows")),
)
TOKENIZED_DATASET = Stage(
    "tokenized_dataset",
    MATERIALIZE,
    "tokenized_dataset",
    ("tokenized_dataset",),
    ("tokenized_dataset", ("rows",)),
    needs=("ledger_dataset",),
)
ML_STAGES: tuple[Stage, ...] = (
    LEDGER_DATASET,
    TOKENIZED_DATASET,
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
# The same builds again once month N+1 has landed, each after the run before it.
INCREMENTAL_STAGES: tuple[Stage, ...] = (
    Stage("ledger_data_job (month N+1)", JOB, DATA_JOB, (), DATA_ROWS, partition="incremental"),
    replace(LEDGER_DATASET, name="ledger_dataset (with month N+1)", needs=("ledger_data_job (month N+1)",)),
    replace(TOKENIZED_DATASET, name="tokenized_dataset (with month N+1)", needs=("ledger_dataset (with month N+1)",)),
)

DEFAULT_FIRST_MONTH = "2024-01"


@dataclass(frozen=True)
class Options:
    """The command line's choices, read by every part of the run (sizes, limits, the adapter's fixed steps)."""

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


def month_index(month: str) -> int:
    """Months as consecutive integers (YYYY-MM), so month N + k is arithmetic."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Calendar:
    """The months each part of the run lands, named once so every stage picks its partition from here."""

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
    start = min(month_index(DEFAULT_FIRST_MONTH), last_allowed - (months + 2))
    names = [_month_name(start + i) for i in range(months + 3)]
    return Calendar(
        coded=names[:months], incremental=names[months], uncoded=names[months + 1], year_end=names[months + 2]
    )
