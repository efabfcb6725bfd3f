"""Retraining schedule/sensor and the prediction sensor, evaluated against a real instance holding real data-layer
materializations (the dataset, training, promotion and predictions are stood in by runless events carrying the
metadata those assets record: the sensors read only the event log)."""

from pathlib import Path

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetMaterialization,
    DagsterInstance,
    DagsterRunStatus,
    MetadataValue,
    RunRequest,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.test_utils import create_run_for_test

from acctax_assets.definitions import defs
from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.materialization_records import (
    CLASSIFIER,
    DATASET,
    FEATURES,
    FEATURES_VERSION,
    MONTH_VERSIONS,
    PREDICTIONS,
    SERVED,
    month_status,
)
from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.defs.prediction_sensor import ledger_prediction_sensor
from acctax_assets.defs.retraining import monthly_retraining_schedule, retraining_sensor
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.ledger_files import UNCODED_COLUMNS, ledger_rows, write_ledger


def land_month(home: AcctaxHome, month: str, rows: int = 20, broken: bool = False, coded: bool = True) -> None:
    """A month of valid rows; `broken` makes half of them unparseable so the blocking rejected_share check fails."""
    records = ledger_rows(rows, date=f"{month.replace('-', '')}15")
    if broken:
        for row in records[: rows // 2]:
            row["supply_amount"] = "n/a"
    write_ledger(home.landing / f"ledger_{month}.csv", records, columns=None if coded else UNCODED_COLUMNS)


def materialize_month(instance: DagsterInstance, month: str) -> None:
    defs.resolve_job_def("ledger_data_job").execute_in_process(
        instance=instance, partition_key=f"{month}-01", raise_on_error=False
    )


def retrain(instance: DagsterInstance, months: int) -> RunRequest | SkipReason:
    context = build_sensor_context(
        instance=instance, resources={"model_settings": ModelSettings(retrain_after_months=months)}
    )
    return retraining_sensor(context)


def record_training(instance: DagsterInstance, promoted: bool = True) -> None:
    """A training over every usable month (its ledger_dataset records their feature versions) whose served_classifier
    promoted a champion, or (promoted=False) failed because no candidate passed."""
    usable = month_status(instance, sorted(latest_data_versions(instance, FEATURES))).usable
    versions = latest_data_versions(instance, FEATURES, usable)
    instance.report_runless_asset_event(
        AssetMaterialization(DATASET, metadata={MONTH_VERSIONS: MetadataValue.json(versions)})
    )
    instance.report_runless_asset_event(AssetMaterialization(CLASSIFIER))
    instance.report_runless_asset_event(
        AssetCheckEvaluation(asset_key=CLASSIFIER, check_name="classifier_quality_gate", passed=promoted)
    )
    if promoted:
        instance.report_runless_asset_event(AssetMaterialization(SERVED))


@pytest.fixture
def instance(home: AcctaxHome) -> DagsterInstance:
    with instance_for_test() as instance:
        yield instance


def record_predictions(instance: DagsterInstance, month: str) -> None:
    """ledger_predictions of `month` made from its current ledger_features (the version it records)."""
    version = latest_data_versions(instance, FEATURES, [f"{month}-01"])[f"{month}-01"]
    instance.report_runless_asset_event(
        AssetMaterialization(PREDICTIONS, partition=f"{month}-01", metadata={FEATURES_VERSION: version})
    )


def test_retraining_sensor_waits_for_enough_changed_labelled_months(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    for month in ("2024-01", "2024-02"):
        land_month(home, month)
        materialize_month(instance, month)

    waiting = retrain(instance, months=3)
    assert (
        isinstance(waiting, SkipReason)
        and "2 labelled month(s) changed" in waiting.skip_message
        and "needs 3" in waiting.skip_message
    )

    request = retrain(instance, months=2)
    assert isinstance(request, RunRequest)
    assert request.tags["acctax/changed_months"] == "2024-01,2024-02"
    assert request.run_key == retrain(instance, months=2).run_key, (
        "the same content gives the same run key (one run per change)"
    )

    create_run_for_test(instance, job_name="training_job", status=DagsterRunStatus.STARTED)
    busy = retrain(instance, months=1)
    assert isinstance(busy, SkipReason) and "already queued or running" in busy.skip_message


def test_data_runs_in_flight_postpone_the_decision(home: AcctaxHome, instance: DagsterInstance) -> None:
    land_month(home, "2024-01")
    materialize_month(instance, "2024-01")
    create_run_for_test(instance, job_name="ledger_data_job", status=DagsterRunStatus.STARTED)
    waiting = retrain(instance, months=1)
    assert isinstance(waiting, SkipReason) and "ledger_data_job run(s) queued or running" in waiting.skip_message


def test_unchanged_rematerialization_is_not_a_new_month_and_a_corrected_one_is(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    for month in ("2024-01", "2024-02"):
        land_month(home, month)
        materialize_month(instance, month)
    record_training(instance)

    assert isinstance(retrain(instance, months=1), SkipReason)
    assert isinstance(monthly_retraining_schedule(build_schedule_context(instance=instance)), SkipReason)

    for month in ("2024-01", "2024-02"):
        materialize_month(instance, month)
    unchanged = retrain(instance, months=1)
    assert isinstance(unchanged, SkipReason) and "0 labelled month(s) changed" in unchanged.skip_message

    land_month(home, "2024-02", rows=25)
    materialize_month(instance, "2024-02")
    scheduled = monthly_retraining_schedule(build_schedule_context(instance=instance))
    assert isinstance(scheduled, RunRequest) and scheduled.tags["acctax/changed_months"] == "2024-02"
    assert isinstance(retrain(instance, months=2), SkipReason)


def test_a_failed_blocking_check_leaves_its_month_out_without_stopping_the_others(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    land_month(home, "2024-01")
    land_month(home, "2024-02", broken=True)
    for month in ("2024-01", "2024-02"):
        materialize_month(instance, month)

    status = month_status(instance, ["2024-01-01", "2024-02-01"])
    assert status.usable == ["2024-01-01"]
    assert status.excluded["2024-02-01"].startswith("rejected_share failed (")

    request = retrain(instance, months=1)
    assert isinstance(request, RunRequest)
    assert request.tags["acctax/changed_months"] == "2024-01" and request.tags["acctax/excluded_months"] == "2024-02"
    skipped = retrain(instance, months=2)
    assert isinstance(skipped, SkipReason) and "2024-02: rejected_share failed" in skipped.skip_message

    land_month(home, "2024-02")
    materialize_month(instance, "2024-02")
    corrected = retrain(instance, months=2)
    assert isinstance(corrected, RunRequest) and "acctax/excluded_months" not in corrected.tags, (
        "a corrected month counts again"
    )


def test_uncoded_month_is_predicted_once_per_content(home: AcctaxHome, instance: DagsterInstance) -> None:
    land_month(home, "2024-01")
    land_month(home, "2024-02", coded=False)
    for month in ("2024-01", "2024-02"):
        materialize_month(instance, month)

    context = build_sensor_context(instance=instance)
    no_adapter = ledger_prediction_sensor(context)
    assert isinstance(no_adapter, SkipReason) and "No champion yet" in no_adapter.skip_message

    record_training(instance, promoted=False)
    assert isinstance(ledger_prediction_sensor(build_sensor_context(instance=instance)), SkipReason), (
        "nothing is served before a promotion"
    )

    record_training(instance)
    result = ledger_prediction_sensor(build_sensor_context(instance=instance))
    assert isinstance(result, SensorResult)
    assert [(r.partition_key, r.job_name) for r in result.run_requests] == [("2024-02-01", None)]
    assert defs.resolve_sensor_def("ledger_prediction_sensor").job_name == "prediction_job"

    again = ledger_prediction_sensor(build_sensor_context(instance=instance, cursor=result.cursor))
    assert again.run_requests == [], "a requested run is not requested again while it has not produced predictions"

    record_predictions(instance, "2024-02")
    materialize_month(instance, "2024-02")
    unchanged = ledger_prediction_sensor(build_sensor_context(instance=instance))
    assert unchanged.run_requests == [], (
        "re-materialized but identical features are not predicted again, whatever the cursor"
    )

    land_month(home, "2024-02", rows=30, coded=False)
    materialize_month(instance, "2024-02")
    rerun = ledger_prediction_sensor(build_sensor_context(instance=instance, cursor=result.cursor))
    assert [r.partition_key for r in rerun.run_requests] == ["2024-02-01"], "changed features are predicted again"
    assert rerun.run_requests[0].run_key != result.run_requests[0].run_key


def test_automation_is_registered_and_on_by_default() -> None:
    assert defs.resolve_schedule_def("monthly_retraining_schedule").cron_schedule == "0 3 2 * *"
    for name in ("ledger_file_sensor", "retraining_sensor", "ledger_prediction_sensor", "proposal_feedback_sensor"):
        assert defs.resolve_sensor_def(name).default_status.value == "RUNNING"


def test_retraining_threshold_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from acctax_assets.definitions import model_settings_from_env

    monkeypatch.setenv("ACCTAX_RETRAIN_AFTER_MONTHS", "6")
    assert model_settings_from_env().retrain_after_months == 6
    monkeypatch.setenv("ACCTAX_RETRAIN_AFTER_MONTHS", "0")
    with pytest.raises(ValueError):
        model_settings_from_env()
