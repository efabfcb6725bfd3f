"""Storage faults on real runs: the disk fills up halfway through a Parquet table, a dataset folder (or its Arrow
files), the label registry or a CURRENT pointer that was materialized before, and two processes run the same month
at the same moment on one instance."""

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import DagsterInstance, DagsterRunStatus, QueuedRunCoordinator, RunsFilter
from datasets import DatasetDict
from fsspec.implementations.local import LocalFileOpener

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.paths import AcctaxHome
from acctax_assets.versioned_dirs import VersionedDirs
from acctax_assets_tests.faults.harness import (
    STRATIFIED,
    TEMPLATE_CODES,
    arrow_disk_full_after,
    assert_no_row_lost,
    disk_full,
    temp_files,
    tree_bytes,
)
from acctax_assets_tests.support.dagster_runs import (
    JANUARY,
    PER_MONTH_ASSETS,
    failure_text,
    run_job,
    run_month,
    stored,
    stored_bytes,
)
from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger

LATE_ROWS = 5


def land_late_rows(home: AcctaxHome) -> None:
    """A second January export arrives, so the next run writes different tables than the stored ones."""
    rows = [{**row, "voucher_key": f"2024-01-7{index:04d}"} for index, row in enumerate(ledger_rows(LATE_ROWS))]
    write_ledger(home.landing / "ledger_2024-01_late.csv", rows)


def parquet_disk_full_for(asset: str, hits: list[Path]) -> Callable[..., Any]:
    """DataFrame.to_parquet that, for `asset`'s file only, writes the first half of the bytes and then fails the way
    a full disk does."""
    original = pd.DataFrame.to_parquet

    def to_parquet(frame: pd.DataFrame, path: Any = None, *args: Any, **kwargs: Any) -> Any:
        target = Path(getattr(path, "name", ""))
        if target.parent.name != asset:
            return original(frame, path, *args, **kwargs)
        hits.append(target)
        buffer = io.BytesIO()
        original(frame, buffer, *args, **kwargs)
        path.write(buffer.getvalue()[: buffer.tell() // 2])
        raise disk_full()

    return to_parquet


# The first table of the run, and the second output of the cleaning step (written after its sibling).
@pytest.mark.parametrize("asset", ["raw_ledger", "rejected_ledger_rows"])
def test_disk_full_mid_parquet_write_keeps_the_previous_materialization(
    home: AcctaxHome,
    instance: DagsterInstance,
    restore: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    asset: str,
) -> None:
    """The run fails naming the full disk and the output; the table being written and every table after it keep
    their previous bytes, no temp file is left, and the next run (disk freed) stores the whole month."""
    restore(JANUARY)
    before = stored_bytes(home)
    rows_before = len(stored(home, "raw_ledger"))
    land_late_rows(home)
    hits: list[Path] = []
    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_parquet", parquet_disk_full_for(asset, hits))
        failed = run_month(instance)
    assert hits and hits[0].name.endswith(".tmp"), "the write went through the atomic temp file"
    assert not failed.success
    message = failure_text(failed)
    assert "No space left on device" in message and asset in message, message
    untouched = PER_MONTH_ASSETS[PER_MONTH_ASSETS.index(asset) :]
    assert stored_bytes(home, untouched) == {name: before[name] for name in untouched}
    assert temp_files(home.storage) == []

    recovered = run_month(instance)
    assert recovered.success, failure_text(recovered)
    assert len(stored(home, "raw_ledger")) == rows_before + LATE_ROWS
    assert_no_row_lost(home, recovered)


def test_disk_full_mid_dataset_save_keeps_the_current_version(
    tokenized_home: AcctaxHome, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ledger_dataset's directory IO manager: a save that dies halfway leaves the current version current and
    byte-identical, and no staging folder behind."""
    store = VersionedDirs(tokenized_home.storage / "ledger_dataset")
    current = store.current()
    before = tree_bytes(store.root)
    original = DatasetDict.save_to_disk

    def half_saved(dataset: DatasetDict, path: str, *args: Any, **kwargs: Any) -> None:
        original(dataset, path, *args, **kwargs)
        arrow = max(Path(path).rglob("*.arrow"), key=lambda file: file.stat().st_size)
        arrow.write_bytes(arrow.read_bytes()[: arrow.stat().st_size // 2])
        raise disk_full()

    monkeypatch.setattr(DatasetDict, "save_to_disk", half_saved)
    result = run_job(instance, "training_job", assets=["ledger_dataset"], run_config=STRATIFIED)
    assert not result.success
    assert "No space left on device" in failure_text(result) and "ledger_dataset" in failure_text(result)
    assert store.current() == current
    assert tree_bytes(store.root) == before
    assert temp_files(tokenized_home.storage) == []


def test_disk_full_while_the_dataset_arrow_files_are_written_keeps_the_previous_version(
    home: AcctaxHome, instance: DagsterInstance, restore: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ledger_dataset is materialized once; the next build fills the disk halfway through its Arrow files. The run
    fails naming the full disk and the fix, the first version stays current, byte-identical and loadable, and
    neither a staging folder nor a partial version is left."""
    restore(*TEMPLATE_CODES)
    first = run_job(instance, "training_job", assets=["ledger_dataset"], run_config=STRATIFIED)
    assert first.success, failure_text(first)
    store = VersionedDirs(home.storage / "ledger_dataset")
    current = store.current()
    assert current is not None
    before = tree_bytes(store.root)
    arrow_bytes = sum(file.stat().st_size for file in current.rglob("*.arrow"))

    with monkeypatch.context() as patch:
        patch.setattr(LocalFileOpener, "write", arrow_disk_full_after(arrow_bytes // 2))
        failed = run_job(instance, "training_job", assets=["ledger_dataset"], run_config=STRATIFIED)
    assert not failed.success
    message = failure_text(failed)
    assert "ledger_dataset" in message and "the disk is full (" in message and "No space left on device" in message
    assert "the previous version is still the current one" in message, message
    assert "Fix: free disk space" in message and "ACCTAX_HOME" in message, message
    assert store.current() == current and store.versions() == [current]
    assert tree_bytes(store.root) == before
    assert temp_files(home.storage) == []
    metadata = first.asset_materializations_for_node("ledger_dataset")[0].metadata
    loaded = SavedDataset(current).load()
    assert {name: len(split) for name, split in loaded.items()} == {
        name: metadata[f"{name}_rows"].value for name in ("train", "valid", "test")
    }


def write_text_disk_full_for(prefix: str) -> Callable[..., Any]:
    """Path.write_text that, for temp files named `prefix…`, writes half the text and then hits a full disk."""
    original = Path.write_text

    def write_text(self: Path, text: str, *args: Any, **kwargs: Any) -> int:
        if not self.name.startswith(prefix):
            return original(self, text, *args, **kwargs)
        original(self, text[: len(text) // 2], *args, **kwargs)
        raise disk_full()

    return write_text


@pytest.mark.parametrize(
    ("prefix", "kept"),
    [(".label_registry.", "label_registry.json"), (".CURRENT.", "ledger_dataset/CURRENT")],
    ids=["label registry", "CURRENT pointer"],
)
def test_disk_full_while_replacing_a_small_file_keeps_it_and_leaves_no_temp(
    tokenized_home: AcctaxHome, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch, prefix: str, kept: str
) -> None:
    """The label registry and a CURRENT pointer are replaced by temp file + rename: a full disk keeps the old file
    and must not leave the half-written temp file behind."""
    target = tokenized_home.storage / kept
    before = target.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_text", write_text_disk_full_for(prefix))
        result = run_job(instance, "training_job", assets=["ledger_dataset"], run_config=STRATIFIED)
    assert not result.success
    assert "No space left on device" in failure_text(result)
    assert target.read_bytes() == before
    assert temp_files(tokenized_home.storage) == []


def test_instance_runs_one_month_at_a_time(home: AcctaxHome) -> None:
    """The dagster.yaml AcctaxHome.ensure() writes queues a second run of a month behind the first (runs launched
    by the daemon, the sensor and backfills go through this queue)."""
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


CONCURRENT_ROWS = 1000
# Each process loads the code location (torch-free, about a second), says it is ready, waits for the start
# signal, and runs ledger_data_job for January.
RUN_JANUARY = """
import sys, time
from pathlib import Path
from dagster import DagsterInstance
from acctax_assets.definitions import defs
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.01)
with DagsterInstance.get() as instance:
    result = defs.resolve_job_def("ledger_data_job").execute_in_process(
        instance=instance, partition_key="2024-01-01", raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
sys.exit(0 if result.success else 1)
"""


def test_two_processes_running_one_month_at_once_leave_a_complete_month(home: AcctaxHome) -> None:
    """Two processes materialize January at the same moment (outside the run queue, as two `dagster asset
    materialize` commands would): both succeed, and the stored month is readable and complete, with no temp file."""
    write_ledger(home.landing / "ledger_2024-01.csv", ledger_rows(CONCURRENT_ROWS))
    with DagsterInstance.get():
        pass  # create the SQLite storage before two processes race to migrate it
    go = home.root / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_JANUARY, str(home.root / f"ready{index}"), str(go)],
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((home.root / f"ready{index}").exists() for index in range(2)) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    try:
        outputs = [process.communicate(timeout=240)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [process.returncode for process in processes] == [0, 0], "\n".join(output[-3000:] for output in outputs)

    with DagsterInstance.get() as instance:
        runs = instance.get_run_records(RunsFilter(job_name="ledger_data_job", tags={"dagster/partition": JANUARY}))
    assert [run.dagster_run.status for run in runs] == [DagsterRunStatus.SUCCESS] * 2
    assert max(run.start_time for run in runs) < min(run.end_time for run in runs), "the two runs did not overlap"
    raw, cleaned, rejected, features, text = (stored(home, asset) for asset in PER_MONTH_ASSETS)
    assert len(raw) == len(cleaned) + len(rejected) == len(features) == len(text) == CONCURRENT_ROWS
    assert rejected.empty
    assert temp_files(home.storage) == []
