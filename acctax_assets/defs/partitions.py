"""The monthly partitions every per-month asset shares."""

from __future__ import annotations

import os

from dagster import MonthlyPartitionsDefinition

FIRST_MONTH_ENV = "ACCTAX_FIRST_MONTH"
DEFAULT_FIRST_MONTH = "2024-01-01"

# Partition keys look like 2024-03-01; the current (unfinished) month is not a partition yet.
ledger_months = MonthlyPartitionsDefinition(start_date=os.environ.get(FIRST_MONTH_ENV, DEFAULT_FIRST_MONTH))
