"""Real runs of the code location's jobs on a test instance, kept quiet, and what they failed with, logged and
stored."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from acctax_assets.definitions import defs
from acctax_assets.paths import AcctaxHome

JANUARY = "2024-01-01"
# In the order ledger_data_job writes them.
PER_MONTH_ASSETS: tuple[str, ...] = (
    "raw_ledger",
    "cleaned_ledger",
    "rejected_ledger_rows",
    "ledger_features",
    "model_text",
)
# The run log at WARNING: the DEBUG event stream doubles the time of a small run.
QUIET: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextmanager
def scratch_home(root: Path) -> Iterator[AcctaxHome]:
    """An ACCTAX_HOME (with its Dagster instance folder) for fixtures wider than one test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACCTAX_HOME", str(root))
        patch.setenv("DAGSTER_HOME", str(root / "dagster"))
        yield AcctaxHome.from_env().ensure()


def run_job(
    instance: DagsterInstance,
    job: str,
    partition_key: str | None = None,
    run_config: dict[str, Any] | None = None,
    assets: Sequence[str] | None = None,
    tags: dict[str, str] | None = None,
) -> ExecuteInProcessResult:
    """One real run of a job of the code location; `assets` narrows it to a subset of its assets."""
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        partition_key=partition_key,
        run_config={**QUIET, **(run_config or {})},
        asset_selection=[AssetKey(name) for name in assets] if assets else None,
        tags=tags,
        raise_on_error=False,
    )


def run_month(
    instance: DagsterInstance, month: str = JANUARY, tags: dict[str, str] | None = None
) -> ExecuteInProcessResult:
    return run_job(instance, "ledger_data_job", partition_key=month, tags=tags)


def failure_text(result: ExecuteInProcessResult) -> str:
    """Every step failure of the run with its cause chain, as a user reads it in the UI."""
    return "\n".join(
        event.event_specific_data.error.to_string()
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    )


def run_log(instance: DagsterInstance, result: ExecuteInProcessResult) -> str:
    """The messages the assets logged (warnings included) during the run."""
    return "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))


def stored(home: AcctaxHome, asset: str, month: str = JANUARY) -> pd.DataFrame:
    return pd.read_parquet(home.storage / asset / f"{month}.parquet")


def stored_bytes(home: AcctaxHome, assets: Sequence[str] = PER_MONTH_ASSETS, month: str = JANUARY) -> dict[str, bytes]:
    return {asset: (home.storage / asset / f"{month}.parquet").read_bytes() for asset in assets}
