"""The monthly partitions every per-month asset shares, and what their grey months mean on the asset pages."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

from dagster import MonthlyPartitionsDefinition

FIRST_MONTH_ENV = "ACCTAX_FIRST_MONTH"
DEFAULT_FIRST_MONTH = "2024-01-01"

# Partition keys look like 2024-03-01; the current (unfinished) month is not a partition yet.
ledger_months = MonthlyPartitionsDefinition(start_date=os.environ.get(FIRST_MONTH_ENV, DEFAULT_FIRST_MONTH))

# The partitions run to the last finished month whether or not its ledger landed, so the UI lists months no office
# sent yet; the asset pages say so, lest a user read their grey as failures.
MISSING_MONTHS = (
    "**Months**: one partition per calendar month from ACCTAX_FIRST_MONTH (2024-01 unless set) to the last finished "
    "month, whether or not its ledger has landed. A grey (missing) month was never materialized — usually no ledger "
    "file of that month has landed yet, so every month after the last landed one stays grey. Grey is not a failure: a "
    "failed month shows red, with the run that failed."
)

F = TypeVar("F", bound=Callable[..., Any])


def months_note(description: str) -> str:
    """`description` followed by what grey months mean (for an AssetOut's description)."""
    return f"{inspect.cleandoc(description)}\n\n{MISSING_MONTHS}"


def explain_months(fn: F) -> F:
    """Appends MISSING_MONTHS to a monthly asset function's docstring, which Dagster shows as its description
    (placed under `@asset`, which reads the docstring)."""
    fn.__doc__ = months_note(fn.__doc__ or "")
    return fn
