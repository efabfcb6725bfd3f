"""Scale-out switches, exercised: the data layer on fsspec URLs (local file:// and memory://, the stand-ins for
object storage), and the instance's pool limit that keeps training steps to one at a time under the
multiprocess executor."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, DagsterRunStatus, execute_job, reconstructable
from dagster._core.test_utils import create_run_for_test
from upath import UPath

from acctax_assets.cli import release_stale_training_slots
from acctax_assets.definitions import defs
from acctax_assets.defs.account_classifier import TRAINING_POOL
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support import pool_jobs
from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_data_layer_on_fsspec_storage(home: AcctaxHome, tmp_path: Path, scheme: str) -> None:
    """The storage URL is run config of `io_manager`, so the UI launchpad can switch it too."""
    base = (tmp_path / "bucket").as_uri() if scheme == "file" else f"memory://acctax-{tmp_path.name}"
    rows = ledger_rows(9) + ledger_rows(1, supply_amount="n/a", voucher_key="2024-01-99999")
    write_ledger(home.landing / "ledger_2024-01.csv", rows)
    config = {"resources": {"io_manager": {"config": {"base_path": base}}}}
    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def("ledger_data_job").execute_in_process(
            instance=instance, partition_key="2024-01-01", run_config=config
        )
    assert result.success
    root = UPath(base)
    tables = {
        name: pd.read_parquet((root / name / "2024-01-01.parquet").open("rb"))
        for name in ("raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features", "model_text")
    }
    assert len(tables["raw_ledger"]) == 10
    assert len(tables["cleaned_ledger"]) + len(tables["rejected_ledger_rows"]) == 10
    assert len(tables["ledger_features"]) == len(tables["cleaned_ledger"]) == 9
    assert not (home.storage / "cleaned_ledger").exists(), "nothing written to the default local storage"


def test_instance_limits_the_training_pool_and_runs_per_month(home: AcctaxHome) -> None:
    with DagsterInstance.get() as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        limits = concurrency.run_queue_config.tag_concurrency_limits
        assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert defs.get_assets_def("account_classifier").op.pool == TRAINING_POOL


@pytest.mark.slow
def test_pool_serializes_training_steps_under_the_multiprocess_executor(
    home: AcctaxHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two independent steps in the `training` pool would overlap under the multiprocess executor; the pool
    limit of the instance that AcctaxHome writes makes them take turns."""
    trace = tmp_path / "trace"
    trace.mkdir()
    monkeypatch.setenv("ACCTAX_POOL_TRACE", str(trace))
    with (
        DagsterInstance.get() as instance,
        execute_job(reconstructable(pool_jobs.build_two_trainings), instance=instance) as result,
    ):
        assert result.success
    (a_start, a_end), (b_start, b_end) = (
        map(float, (trace / name).read_text().split()) for name in ("first", "second")
    )
    assert a_end <= b_start or b_end <= a_start, "the two training steps overlapped"


@pytest.mark.parametrize("status, freed", [(DagsterRunStatus.FAILURE, True), (DagsterRunStatus.STARTED, False)])
def test_cli_frees_training_slots_of_ended_runs_only(
    home: AcctaxHome, status: DagsterRunStatus, freed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A CLI process killed mid-training leaves its pool slot claimed; the next `acctax materialize` must not wait
    forever for a run that has ended, but must wait for one that is still going."""
    with DagsterInstance.get() as instance:
        run = create_run_for_test(instance, job_name="training_job", status=status)
        instance.event_log_storage.set_concurrency_slots(TRAINING_POOL, 1)
        assert instance.event_log_storage.claim_concurrency_slot(
            TRAINING_POOL, run.run_id, "account_classifier"
        ).is_claimed
        release_stale_training_slots(instance)
        held = instance.event_log_storage.get_concurrency_info(TRAINING_POOL).active_run_ids
    assert (run.run_id not in held) is freed
    if not freed:
        assert "this training waits for it" in caplog.text
