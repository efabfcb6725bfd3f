"""Files still being written when ledger_file_sensor looks (with its production settle time): a fresh file waits, a
file that grows gets a new run key, and a half-written CSV or XLSX that is read anyway is quarantined or named in a
clear error, then re-ingested whole once complete."""

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult, RunRequest, SensorResult, build_sensor_context

from acctax_assets.defs.jobs import ledger_data_job
from acctax_assets.defs.ledger_file_sensor import DEFAULT_SETTLE_SECONDS, build_ledger_file_sensor
from acctax_assets.defs.partitions import ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.landing import list_landing_files
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.faults.harness import assert_no_row_lost
from acctax_assets_tests.support.dagster_runs import JANUARY, failure_text, run_month, stored
from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger

COMPLETE_ROWS = 30


def tick(instance: DagsterInstance, cursor: str | None) -> SensorResult:
    """One evaluation of the sensor as the daemon runs it (default settle time)."""
    sensor = build_ledger_file_sensor(ledger_data_job, ledger_months)
    return sensor(build_sensor_context(instance=instance, cursor=cursor, resources={"settings": LedgerSettings()}))


def aged(path: Path, seconds: float = 3 * DEFAULT_SETTLE_SECONDS) -> Path:
    """The file as it looks once its writer stopped `seconds` ago."""
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def written_partly(path: Path, rows: int, keep: Callable[[bytes], bytes]) -> bytes:
    """Write the complete file, leave only what `keep` says had reached the disk; returns the complete bytes."""
    complete = write_ledger(path, ledger_rows(rows)).read_bytes()
    path.write_bytes(keep(complete))
    return complete


def run_requested(instance: DagsterInstance, request: RunRequest) -> ExecuteInProcessResult:
    return run_month(instance, request.partition_key, tags=request.tags)


def completed_and_rerun(
    home: AcctaxHome, instance: DagsterInstance, path: Path, complete: bytes, previous: SensorResult
) -> None:
    """The writer finishes: the sensor asks again under a new run key, and the month is rebuilt from the whole file,
    every row cleaned once."""
    path.write_bytes(complete)
    aged(path)
    completed = tick(instance, previous.cursor)
    assert completed.run_requests[0].run_key != previous.run_requests[0].run_key
    result = run_requested(instance, completed.run_requests[0])
    assert result.success, failure_text(result)
    assert len(stored(home, "cleaned_ledger")) == COMPLETE_ROWS and stored(home, "rejected_ledger_rows").empty
    assert_no_row_lost(home, result)


def test_a_fresh_file_waits_and_a_growing_file_gets_a_new_run_key(landing: Path, instance: DagsterInstance) -> None:
    """A file modified within the settle time is not requested; once settled it is, and each time it grows its
    month gets a new run key (never a stale one the instance would deduplicate)."""
    path = write_ledger(landing / "ledger_2024-01.csv", ledger_rows(10))
    fresh = tick(instance, None)
    assert fresh.run_requests == []
    keys = []
    cursor = fresh.cursor
    for rows in (10, 25, 40):
        aged(write_ledger(path, ledger_rows(rows)))
        settled = tick(instance, cursor)
        assert [r.partition_key for r in settled.run_requests] == [JANUARY]
        keys.append(settled.run_requests[0].run_key)
        cursor = settled.cursor
    assert len(set(keys)) == 3
    assert tick(instance, cursor).run_requests == []


def test_half_written_csv_read_anyway_is_quarantined_then_reingested_whole(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    """A copy that stalled mid-line long enough to look settled: its run quarantines the cut line (no row lost);
    when the copy completes, the sensor asks again and the month is rebuilt with every row, none doubled."""
    path = home.landing / "ledger_2024-01.csv"
    complete = written_partly(path, COMPLETE_ROWS, lambda data: data[: int(len(data) * 0.6)])
    first = tick(instance, None)
    assert first.run_requests == [], "a file written seconds ago waits"
    aged(path)
    stalled = tick(instance, first.cursor)
    result = run_requested(instance, stalled.run_requests[0])
    assert result.success, failure_text(result)
    assert stored(home, "rejected_ledger_rows")["reject_reason"].tolist() == ["malformed_line"]
    assert_no_row_lost(home, result)

    completed_and_rerun(home, instance, path, complete, stalled)


def test_half_written_xlsx_fails_naming_the_file_then_succeeds_once_complete(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    """A workbook cut mid-write cannot be read: the month's run fails naming the file and the fix, stores nothing;
    the completed workbook gets a new run key and materializes every row."""
    path = home.landing / "전표_202401.xlsx"
    complete = written_partly(path, COMPLETE_ROWS, lambda data: data[: len(data) // 2])
    aged(path)
    cut = tick(instance, None)
    result = run_requested(instance, cut.run_requests[0])
    assert not result.success
    message = failure_text(result)
    assert "전표_202401.xlsx" in message and "cannot be read as XLSX" in message and "Fix:" in message, message
    assert not (home.storage / "raw_ledger").exists()

    completed_and_rerun(home, instance, path, complete, cut)


def test_half_written_xlsx_without_a_period_is_reported_until_complete(
    landing: Path, instance: DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    """A workbook whose month must be read from its dates cannot be placed while cut: the sensor counts it in its
    skip message and names it in its log instead of raising or dropping it, and requests its month once complete."""
    path = landing / "upload.xlsx"
    complete = written_partly(path, 12, lambda data: data[: len(data) // 2])
    aged(path)
    cut = tick(instance, None)
    assert cut.run_requests == []
    assert "1 file(s) not ingested" in cut.skip_reason.skip_message
    logged = capsys.readouterr().err
    assert "upload.xlsx: cannot be read to find its month" in logged and "cannot be read as XLSX" in logged
    path.write_bytes(complete)
    aged(path)
    assert [r.partition_key for r in tick(instance, cut.cursor).run_requests] == [JANUARY]


def test_a_file_that_vanishes_during_the_scan_does_not_break_the_tick(
    landing: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync tool moves a file away while the sensor scans: the tick still requests the other months."""
    write_ledger(landing / "ledger_2024-01.csv", ledger_rows(2))
    moved = aged(write_ledger(landing / "ledger_2024-02.csv", ledger_rows(2, date="20240210")))
    aged(landing / "ledger_2024-01.csv")

    def listing_then_move(folder: Path) -> list[Path]:
        files = list_landing_files(folder)
        moved.unlink()
        return files

    monkeypatch.setattr("acctax_assets.ledger.landing.list_landing_files", listing_then_move)
    assert [r.partition_key for r in tick(instance, None).run_requests] == [JANUARY]
