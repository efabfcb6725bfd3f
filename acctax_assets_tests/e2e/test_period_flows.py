"""Period flows as an office runs them: a corrected month is re-materialized alone (the other months keep their
materializations and files), and a range of months is backfilled from the CLI through the real daemon."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    SensorResult,
    build_sensor_context,
)

from acctax_assets import cli
from acctax_assets.code_location import workspace_file
from acctax_assets.definitions import build_definitions
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import PER_MONTH_ASSETS
from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger

MONTHS = ("2024-01", "2024-02", "2024-03")


def land(home: AcctaxHome, month: str, rows: int) -> Path:
    return write_ledger(home.landing / f"ledger_{month}.csv", ledger_rows(rows, date=f"{month.replace('-', '')}10"))


def snapshot(instance: DagsterInstance, home: AcctaxHome) -> dict[tuple[str, str], tuple[int, int]]:
    """(asset, partition) -> (latest materialization storage id, file mtime in ns)."""
    state = {}
    for asset in PER_MONTH_ASSETS:
        ids = instance.get_latest_storage_id_by_partition(AssetKey(asset), DagsterEventType.ASSET_MATERIALIZATION)
        for partition, storage_id in ids.items():
            state[(asset, partition)] = (storage_id, (home.storage / asset / f"{partition}.parquet").stat().st_mtime_ns)
    return state


def run_requests(defs, instance: DagsterInstance, cursor: str | None) -> SensorResult:
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"settings": LedgerSettings()})
    return defs.resolve_sensor_def("ledger_file_sensor")(context)


def test_corrected_month_is_rematerialized_alone(home: AcctaxHome) -> None:
    defs = build_definitions(settle_seconds=0)
    job = defs.resolve_job_def("ledger_data_job")
    for month in MONTHS:
        land(home, month, rows=12)
    with DagsterInstance.get() as instance:
        first = run_requests(defs, instance, None)
        assert [r.partition_key for r in first.run_requests] == [f"{m}-01" for m in MONTHS]
        for request in first.run_requests:
            assert job.execute_in_process(
                instance=instance, partition_key=request.partition_key, raise_on_error=False
            ).success
        before = snapshot(instance, home)
        assert len(before) == len(PER_MONTH_ASSETS) * len(MONTHS)

        corrected = land(home, "2024-02", rows=15)
        os.utime(corrected, ns=(time.time_ns(), time.time_ns()))
        second = run_requests(defs, instance, first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["2024-02-01"], "only the corrected month is requested"
        result = job.execute_in_process(instance=instance, partition_key="2024-02-01", raise_on_error=False)
        assert result.success
        after = snapshot(instance, home)

    for (asset, partition), (storage_id, mtime) in after.items():
        if partition == "2024-02-01":
            assert storage_id > before[(asset, partition)][0], f"{asset} {partition} was re-materialized"
            assert mtime > before[(asset, partition)][1], f"{asset} {partition} file rewritten"
        else:
            assert (storage_id, mtime) == before[(asset, partition)], f"{asset} {partition} must be untouched"
    assert len(pd.read_parquet(home.storage / "cleaned_ledger" / "2024-02-01.parquet")) == 15
    assert len(pd.read_parquet(home.storage / "cleaned_ledger" / "2024-01-01.parquet")) == 12


@pytest.fixture
def daemon(home: AcctaxHome):
    """A real `dagster-daemon run` on the test's instance, loading the code location as `acctax ui` does (the
    backfill names it); its whole process group is stopped afterwards."""
    env = {**os.environ, "ACCTAX_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    with DagsterInstance.get():
        pass  # create the SQLite storage before two processes race to migrate it
    log = (home.root / "daemon.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace_file(home))],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


@pytest.mark.slow
def test_cli_backfill_runs_a_range_through_the_daemon(home: AcctaxHome, daemon: subprocess.Popen) -> None:
    for month in MONTHS:
        land(home, month, rows=8)
    assert cli.main(["backfill", "--months", "2024-01:2024-03", "--wait", "--timeout", "420"]) == 0, (
        home.root / "daemon.log"
    ).read_text()[-3000:]
    with DagsterInstance.get() as instance:
        backfills = instance.get_backfills()
        assert len(backfills) == 1
        runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfills[0].backfill_id}))
        assert sorted(r.tags["dagster/partition"] for r in runs) == [f"{m}-01" for m in MONTHS]
        assert all(r.status == DagsterRunStatus.SUCCESS and r.tags["acctax/trigger"] == "cli" for r in runs)
        assert instance.get_materialized_partitions(AssetKey("ledger_features")) >= {f"{m}-01" for m in MONTHS}


def test_cli_backfill_without_daemon_says_how_to_run_it(home: AcctaxHome, caplog: pytest.LogCaptureFixture) -> None:
    land(home, "2024-01", rows=4)
    assert cli.main(["backfill", "--months", "2024-01", "--wait", "--timeout", "3"]) == 1
    assert "No Dagster daemon is running" in caplog.text and "acctax ui" in caplog.text
