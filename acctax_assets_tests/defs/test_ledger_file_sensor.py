"""The landing-folder sensor: one run per month whose content differs from raw_ledger, idempotent whoever
materialized the month, reports what it cannot ingest."""

import json
import os
import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context, instance_for_test

from acctax_assets.definitions import defs
from acctax_assets.defs.jobs import ledger_data_job
from acctax_assets.defs.ledger_file_sensor import build_ledger_file_sensor
from acctax_assets.defs.partitions import ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.landing import month_from_content
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import failure_text, run_job, stored
from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger


def tick(instance: DagsterInstance, cursor: str | None, settle_seconds: float = 0.0) -> SensorResult:
    sensor = build_ledger_file_sensor(ledger_data_job, ledger_months, settle_seconds=settle_seconds)
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"settings": LedgerSettings()})
    return sensor(context)


def test_new_files_request_their_months_once(landing: Path) -> None:
    write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    write_ledger(landing / "ledger_2024-03.xlsx", ledger_rows(2, date="20240305"))
    with instance_for_test() as instance:
        first = tick(instance, None)
        assert [r.partition_key for r in first.run_requests] == ["2024-01-01", "2024-03-01"]
        assert first.run_requests[0].tags["acctax/files"] == "ledger_2024-01.csv"
        again = tick(instance, first.cursor)
        assert again.run_requests == [] and again.skip_reason is not None
        assert again.cursor == first.cursor


def test_changed_file_requests_only_its_month_with_a_new_run_key(landing: Path) -> None:
    path = write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    write_ledger(landing / "ledger_2024-02.csv", ledger_rows(2, date="20240202"))
    with instance_for_test() as instance:
        first = tick(instance, None)
        write_ledger(path, ledger_rows(3))
        second = tick(instance, first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["2024-01-01"]
        assert second.run_requests[0].run_key != first.run_requests[0].run_key
        assert second.run_requests[0].run_key.startswith("2024-01-01:")


def test_second_file_for_a_month_triggers_that_month(landing: Path) -> None:
    write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    with instance_for_test() as instance:
        first = tick(instance, None)
        write_ledger(landing / "client_b" / "전표_202401.csv", ledger_rows(1), encoding="cp949")
        second = tick(instance, first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["2024-01-01"]
        assert "client_b/전표_202401.csv" in second.run_requests[0].tags["acctax/files"]


def test_unmappable_files_are_reported_not_ignored(landing: Path) -> None:
    (landing / "scan.csv").write_bytes(b"\x80\xff\xfe\x81" * 10)
    write_ledger(landing / "ledger_2031-01.csv", ledger_rows(1, date="20310105"))
    write_ledger(landing / "ledger_2023-12.csv", ledger_rows(1, date="20231205"))
    with instance_for_test() as instance:
        result = tick(instance, None)
        assert result.run_requests == []
        assert "3 file(s) not ingested" in result.skip_reason.skip_message
        assert len(json.loads(result.cursor)["unmapped"]) == 3


def test_month_from_content_is_cached_in_the_cursor(landing: Path) -> None:
    write_ledger(landing / "upload.csv", ledger_rows(3, date="2024-04-09"))
    with instance_for_test() as instance:
        result = tick(instance, None)
        assert [r.partition_key for r in result.run_requests] == ["2024-04-01"]
        assert list(json.loads(result.cursor)["content"].values()) == ["2024-04-01"]


def test_files_still_being_written_wait(landing: Path) -> None:
    write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    with instance_for_test() as instance:
        waiting = tick(instance, None, settle_seconds=3600)
        assert waiting.run_requests == []
        settled = tick(instance, waiting.cursor, settle_seconds=0)
        assert [r.partition_key for r in settled.run_requests] == ["2024-01-01"]


def test_corrupt_cursor_is_treated_as_empty(landing: Path) -> None:
    write_ledger(landing / "ledger_2024-01.csv", ledger_rows(1))
    with instance_for_test() as instance:
        result = tick(instance, "{not json")
        assert [r.partition_key for r in result.run_requests] == ["2024-01-01"]


def test_cursor_grows_with_months_not_files(landing: Path, tmp_path: Path) -> None:
    def cursor_length(clients: int) -> int:
        shutil.rmtree(landing)
        for month in range(1, 13):
            for client in range(clients):
                write_ledger(
                    landing / f"client{client}" / f"ledger_2024-{month:02d}.csv",
                    ledger_rows(1, date=f"2024{month:02d}05"),
                )
        with instance_for_test() as instance:
            result = tick(instance, None)
            assert len(result.run_requests) == 12
            return len(result.cursor)

    assert cursor_length(10) == cursor_length(1)


def materialize(instance: DagsterInstance, month: str) -> None:
    assert defs.resolve_job_def("ledger_data_job").execute_in_process(instance=instance, partition_key=month).success


def test_months_materialized_elsewhere_are_not_requested(landing: Path) -> None:
    """The CLI, a backfill or a UI click materialized the month: a sensor that never saw it launches nothing."""
    write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    write_ledger(landing / "ledger_2024-02.csv", ledger_rows(2, date="20240202"))
    with instance_for_test() as instance:
        materialize(instance, "2024-01-01")
        result = tick(instance, None)
        assert [r.partition_key for r in result.run_requests] == ["2024-02-01"]
        materialize(instance, "2024-02-01")
        assert tick(instance, None).run_requests == []
        assert tick(instance, result.cursor).run_requests == []


def test_touched_or_identically_replaced_files_launch_nothing(landing: Path) -> None:
    path = write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    with instance_for_test() as instance:
        materialize(instance, "2024-01-01")
        cursor = tick(instance, None).cursor
        os.utime(path, (path.stat().st_atime + 60, path.stat().st_mtime + 60))
        assert tick(instance, cursor).run_requests == [], "a touched file (new mtime, same bytes) is not new content"
        content = path.read_bytes()
        path.unlink()
        path.write_bytes(content)
        assert tick(instance, cursor).run_requests == [], "a file replaced by identical bytes is not new content"


def test_content_that_changes_and_changes_back_is_requested_each_time(landing: Path) -> None:
    path = write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    original = path.read_bytes()
    with instance_for_test() as instance:
        materialize(instance, "2024-01-01")
        write_ledger(path, ledger_rows(3))
        changed = tick(instance, None)
        assert [r.partition_key for r in changed.run_requests] == ["2024-01-01"]
        assert changed.run_requests[0].tags["acctax/landing_version"] != ""
        materialize(instance, "2024-01-01")
        path.write_bytes(original)
        back = tick(instance, changed.cursor)
        assert [r.partition_key for r in back.run_requests] == ["2024-01-01"]
        assert back.run_requests[0].run_key != changed.run_requests[0].run_key


def test_undated_files_are_parsed_once_by_the_sensor_and_the_months_runs(
    home: AcctaxHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensor and raw_ledger ask the same LandingMonths: the runs the tick requests reuse the months it read
    from the undated uploads' dates, and each run reads its own upload."""
    parsed: list[str] = []
    read = month_from_content

    def counted(path: Path, *args: object) -> str | None:
        parsed.append(path.name)
        return read(path, *args)

    monkeypatch.setattr("acctax_assets.ledger.landing.month_from_content", counted)
    landing = home.landing
    write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    write_ledger(landing / "upload_a.csv", ledger_rows(1, date="2024-01-20"))
    write_ledger(landing / "upload_b.csv", ledger_rows(1, date="2024-02-03"))
    with instance_for_test() as instance:
        requests = tick(instance, None).run_requests
        assert [r.partition_key for r in requests] == ["2024-01-01", "2024-02-01"]
        for request in requests:
            result = run_job(instance, "ledger_data_job", request.partition_key, assets=["raw_ledger"])
            assert result.success, failure_text(result)
        assert tick(instance, None).run_requests == []
    assert sorted(parsed) == ["upload_a.csv", "upload_b.csv"]
    assert sorted(stored(home, "raw_ledger", "2024-02-01")["source_file"]) == ["upload_b.csv"]
