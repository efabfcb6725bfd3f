"""The data layer and the landing sensor on a Dagster instance whose storage is a real PostgreSQL server.

Why: an office that outgrows the embedded SQLite instance points `dagster.yaml` at Postgres; runs, event logs,
asset-check results, sensor cursors and ticks must then land there, and the database password must reach
Dagster only through the environment, never through a file under ACCTAX_HOME or the run's event log.
"""

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import execute_sensor_iteration

from acctax_assets import demo
from acctax_assets.definitions import defs
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import PER_MONTH_ASSETS
from acctax_assets_tests.support.postgres_server import PostgresServer, PostgresUnavailable, running_postgres

PASSWORD_ENV = "ACCTAX_PG_PASSWORD"
MONTHS = ["2024-01-01", "2024-02-01"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """One server for the module: starting a cluster costs ~3 s."""
    try:
        with running_postgres(db_name="dagster") as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL server binaries not available: {exc}")


@pytest.fixture
def pg_home(home: AcctaxHome, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> AcctaxHome:
    """A test ACCTAX_HOME whose dagster.yaml stores everything in Postgres, password from the environment only."""
    monkeypatch.setenv(PASSWORD_ENV, postgres.password)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    storage = {
        "postgres_db": {
            "username": postgres.username,
            "password": {"env": PASSWORD_ENV},
            "hostname": postgres.hostname,
            "db_name": "dagster",
            "port": postgres.port,
            # SQLAlchemy 2.1 maps plain `postgresql://` to psycopg 3; dagster-postgres ships psycopg2.
            "scheme": "postgresql+psycopg2",
        }
    }
    config = {"telemetry": {"enabled": False}, "storage": {"postgres": storage}}
    (home.dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    demo.main(["--start", "2024-01", "--end", "2024-02", "--rows-per-month", "120", "--out", str(home.landing)])
    return home


@pytest.fixture
def clean_database(postgres: PostgresServer) -> Iterator[None]:
    """Each test starts on empty Dagster tables, so counts in the database belong to that test alone."""
    yield
    connection = postgres.connect("dagster")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        connection.close()


def query(postgres: PostgresServer, sql: str, *params: object) -> list[tuple]:
    connection = postgres.connect("dagster")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        connection.close()


def files_containing(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [path for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


def test_server_requires_the_password(postgres: PostgresServer) -> None:
    """Why: the grep below only means something if Dagster could not have connected without the password."""
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        postgres.connect("dagster", password="not-the-password")
    with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
        postgres.connect("dagster", password="")


def test_data_layer_records_runs_materializations_and_checks_in_postgres(
    pg_home: AcctaxHome, postgres: PostgresServer, clean_database: None
) -> None:
    """Why: partition status, check history and the UI read these records back from Postgres, so both the
    instance API and the tables themselves must hold every materialization and check of both months."""
    assert Path(os.environ["DAGSTER_HOME"]) == pg_home.dagster_home
    job = defs.resolve_job_def("ledger_data_job")
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        results = [job.execute_in_process(instance=instance, partition_key=month) for month in MONTHS]
        assert all(result.success for result in results)
        run_ids = [result.run_id for result in results]

        for asset in PER_MONTH_ASSETS:
            assert instance.get_materialized_partitions(AssetKey(asset)) == set(MONTHS), asset
        check_names = {e.check_name for e in results[0].get_asset_check_evaluations()}
        assert len(check_names) == 10
        for run_id in run_ids:
            records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
            assert {
                r.event_log_entry.dagster_event.asset_check_evaluation_data.check_name for r in records
            } == check_names
        for check_key in {e.asset_check_key for e in results[0].get_asset_check_evaluations()}:
            history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=10)
            assert {record.run_id for record in history} == set(run_ids), check_key
        run_messages = [entry.message for run_id in run_ids for entry in instance.all_logs(run_id)]

    materialized = query(
        postgres,
        "SELECT asset_key, partition FROM event_logs WHERE dagster_event_type = %s AND run_id = ANY(%s)",
        "ASSET_MATERIALIZATION",
        run_ids,
    )
    assert len(materialized) == len(PER_MONTH_ASSETS) * len(MONTHS)
    assert {(AssetKey.from_db_string(key), month) for key, month in materialized} == {
        (AssetKey(asset), month) for asset in PER_MONTH_ASSETS for month in MONTHS
    }
    evaluations = query(
        postgres, "SELECT count(*) FROM event_logs WHERE dagster_event_type = %s", "ASSET_CHECK_EVALUATION"
    )
    assert evaluations == [(len(check_names) * len(MONTHS),)]
    assert query(postgres, "SELECT run_id, status FROM runs ORDER BY id") == [(run_id, "SUCCESS") for run_id in run_ids]

    assert not list(pg_home.dagster_home.rglob("*.db")), "no SQLite storage may be created next to dagster.yaml"
    for root in (pg_home.root, pg_home.dagster_home):
        assert files_containing(root, postgres.password) == [], root
    assert not [message for message in run_messages if postgres.password in message]
    stored = query(postgres, "SELECT event FROM event_logs UNION ALL SELECT run_body FROM runs")
    assert stored and not [row for row in stored if postgres.password in row[0]]


def test_landing_sensor_keeps_cursor_and_ticks_in_postgres(
    pg_home: AcctaxHome, postgres: PostgresServer, clean_database: None
) -> None:
    """Why: the daemon keeps the sensor's cursor and ticks in the instance; on Postgres a second tick over the
    same files must still be a skip, and the queued runs must carry the month's run key."""
    settled = time.time() - 3600
    for path in pg_home.landing.rglob("*"):
        os.utime(path, (settled, settled))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="acctax_assets.definitions", attribute="defs"),
        location_name="acctax_assets",
    )
    logger = logging.getLogger("acctax_assets_tests.sensor_daemon")
    with (
        DagsterInstance.get() as instance,
        create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as workspace,
    ):
        location = next(iter(workspace.create_request_context().get_code_location_entries().values())).code_location
        sensor = next(iter(location.get_repositories().values())).get_sensor("ledger_file_sensor")
        start = time.time()
        for offset in (0, 60):
            with freeze_time(start + offset):
                list(
                    execute_sensor_iteration(
                        workspace, logger, threadpool_executor=None, submit_threadpool_executor=None
                    )
                )

        ticks = instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id)
        assert [tick.status for tick in ticks] == [TickStatus.SKIPPED, TickStatus.SUCCESS]
        runs = instance.get_runs(RunsFilter(tags={"dagster/sensor_name": "ledger_file_sensor"}))
        assert sorted(run.tags["dagster/partition"] for run in runs) == MONTHS
        assert {run.status for run in runs} == {DagsterRunStatus.QUEUED}
        assert {run.tags["dagster/run_key"] for run in runs} == set(ticks[1].run_keys)
        state = instance.get_instigator_state(sensor.get_remote_origin_id(), sensor.selector_id)
        assert sorted(json.loads(state.instigator_data.cursor)["months"]) == MONTHS

    stored_ticks = query(
        postgres, "SELECT status FROM job_ticks WHERE selector_id = %s ORDER BY id", sensor.selector_id
    )
    assert stored_ticks == [("SUCCESS",), ("SKIPPED",)]
    stored_runs = query(postgres, "SELECT status FROM runs WHERE run_id = ANY(%s)", [run.run_id for run in runs])
    assert stored_runs == [("QUEUED",)] * len(MONTHS)
    assert files_containing(pg_home.root, postgres.password) == [], "sensor logs and daemon state stay password-free"
