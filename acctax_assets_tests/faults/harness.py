"""Helpers of the fault-injection suite: run the real jobs quietly, read what they stored, and check that no row
was lost on the way."""

import errno
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from acctax_assets.definitions import defs
from acctax_assets.ledger.schema import LABEL_COLUMN, LABEL_NAME_COLUMN
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.ledger_files import BASE_ROW

JANUARY = "2024-01-01"
# In the order ledger_data_job writes them.
PER_MONTH_ASSETS: tuple[str, ...] = ("raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features")
# The template home (faults/conftest.py): rows per account code of each month; no codes = an uncoded export.
TEMPLATE_CODES: dict[str, dict[str, int]] = {
    "2024-01-01": {"81100": 30, "82200": 26, "83000": 1},
    "2024-02-01": {"81100": 12},
    "2024-03-01": {},
}
# The columns of an uncoded (to-predict) export: no 계정과목코드/계정과목.
UNCODED_COLUMNS: tuple[str, ...] = tuple(c for c in BASE_ROW if c not in (LABEL_COLUMN, LABEL_NAME_COLUMN))
# The run log at WARNING: the DEBUG event stream doubles the time of a small run.
QUIET: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextmanager
def scratch_home(root: Path) -> Iterator[AcctaxHome]:
    """An ACCTAX_HOME (with its Dagster instance folder) for fixtures wider than one test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACCTAX_HOME", str(root))
        patch.setenv("DAGSTER_HOME", str(root / "dagster"))
        yield AcctaxHome.from_env().ensure()


def disk_full() -> OSError:
    """What a write raises when the disk is full."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


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


def run_month(instance: DagsterInstance, month: str = JANUARY, tags: dict[str, str] | None = None) -> ExecuteInProcessResult:
    return run_job(instance, "ledger_data_job", partition_key=month, tags=tags)


def failure_text(result: ExecuteInProcessResult) -> str:
    """Every step failure of the run with its cause chain, as a user reads it in the UI."""
    return "\n".join(
        event.event_specific_data.error.to_string() for event in result.all_events if event.event_type_value == "STEP_FAILURE"
    )


def run_log(instance: DagsterInstance, result: ExecuteInProcessResult) -> str:
    """The messages the assets logged (warnings included) during the run."""
    return "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))


def stored(home: AcctaxHome, asset: str, month: str = JANUARY) -> pd.DataFrame:
    return pd.read_parquet(home.storage / asset / f"{month}.parquet")


def stored_bytes(home: AcctaxHome, assets: Sequence[str] = PER_MONTH_ASSETS, month: str = JANUARY) -> dict[str, bytes]:
    return {asset: (home.storage / asset / f"{month}.parquet").read_bytes() for asset in assets}


def temp_files(root: Path) -> list[Path]:
    """Temp files or staging folders a write left behind."""
    return sorted(path for path in root.rglob("*") if path.name.endswith(".tmp"))


def identities(frame: pd.DataFrame) -> list[tuple[str, int]]:
    """(source file, spreadsheet row) of every row: a raw row's identity through cleaning."""
    return list(zip(frame["source_file"].astype(str), frame["source_row"].astype(int), strict=True))


def assert_no_row_lost(home: AcctaxHome, result: ExecuteInProcessResult, month: str = JANUARY) -> None:
    """raw rows = cleaned + rejected, on the stored Parquet files and in cleaned_ledger's metadata, and every raw
    row identity (source file, row) is in exactly one of the two."""
    raw, cleaned, rejected = (stored(home, asset, month) for asset in PER_MONTH_ASSETS[:3])
    assert len(raw) == len(cleaned) + len(rejected), (len(raw), len(cleaned), len(rejected))
    kept = identities(cleaned) + identities(rejected)
    assert len(set(kept)) == len(kept), "a raw row is in both cleaned and rejected"
    assert set(kept) == set(identities(raw))
    metadata = next(
        m.metadata for m in result.asset_materializations_for_node("cleaned_ledger") if m.asset_key == AssetKey("cleaned_ledger")
    )
    counts = (metadata["rows_in"].value, metadata["rows_out"].value, metadata["rows_rejected"].value)
    assert counts == (len(raw), len(cleaned), len(rejected)), counts


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, to compare a folder before and after a fault."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}
