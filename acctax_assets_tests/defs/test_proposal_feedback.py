"""proposal_feedback materialized on hand-made cleaned months: its metadata, the plot over the months, the MLflow
metrics in the served model's run, and the sensor that measures a month again when its cleaned lines change."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetsDefinition,
    DagsterInstance,
    RunRequest,
    SensorResult,
    asset,
    build_sensor_context,
    materialize,
    mem_io_manager,
)

from acctax_assets.defs.feedback_sensor import proposal_feedback_sensor
from acctax_assets.defs.materialization_records import CLEANED, CLEANED_VERSION, FEEDBACK, PREDICTIONS, latest_metadata
from acctax_assets.defs.metadata_format import table_text
from acctax_assets.defs.ml_resources import ModelRegistryResource
from acctax_assets.defs.partitions import ledger_months
from acctax_assets.defs.proposal_feedback import NO_PROPOSALS, proposal_feedback
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.serving.model_registry import CHAMPION, ModelRegistry
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.feedback_lines import KNOWN_CORRECTIONS, cleaned

FEBRUARY, MARCH = "2024-02-01", "2024-03-01"
# February: 10 lines auto-accepted, 1 of them corrected later; 2 reviewed, both kept.
FEBRUARY_LINES = [
    *[("81100", False, "81100", "unreviewed")] * 9,
    ("81100", False, "81300", "corrected"),
    *[("81300", True, "81300", "confirmed")] * 2,
]


def cleaned_source(frames: dict[str, pd.DataFrame]) -> AssetsDefinition:
    """cleaned_ledger stood in by the given frame of each month."""

    @asset(name="cleaned_ledger", partitions_def=ledger_months)
    def stand_in(context: AssetExecutionContext) -> pd.DataFrame:
        return frames[context.partition_key]

    return stand_in


def run(instance: DagsterInstance, frames: dict[str, pd.DataFrame], month: str, tracking: str) -> dict[str, object]:
    result = materialize(
        [cleaned_source(frames), proposal_feedback],
        instance=instance,
        partition_key=month,
        selection=["cleaned_ledger", "proposal_feedback"],
        resources={
            "io_manager": mem_io_manager,
            "settings": LedgerSettings(),
            "model_registry": ModelRegistryResource(tracking_uri=tracking),
        },
    )
    assert result.success
    [event] = result.asset_materializations_for_node("proposal_feedback")
    return {name: value.value for name, value in event.metadata.items()}


@pytest.fixture
def tracking(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def promote_champion(tracking: str, folder: Path, codes: tuple[str, ...]) -> tuple[str, str]:
    """A served baseline whose label registry knows `codes`, registered from an MLflow run; (registry version, run id)."""
    from mlflow import MlflowClient

    folder.mkdir(parents=True)
    (folder / LABEL_SLOTS_FILE).write_text(LabelSlots(codes=codes).to_json(), encoding="utf-8")
    client = MlflowClient(tracking_uri=tracking)
    experiment = client.create_experiment("test", artifact_location=(folder.parent / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    registry = ModelRegistry(tracking)
    version = registry.register("baseline", "v1", folder, "d1", {}, run_id)
    registry.set_alias(CHAMPION, version)
    return version, run_id


def proposals_made(instance: DagsterInstance, month: str, version: str) -> None:
    """ledger_predictions of the month as it records the model that proposed (the feedback reads only metadata)."""
    instance.report_runless_asset_event(
        AssetMaterialization(
            PREDICTIONS,
            partition=month,
            metadata={"registry_version": version, "served_model": f"baseline v1 (registry v{version})"},
        )
    )


def test_months_with_corrections_give_figures_plot_and_mlflow_metrics(
    home: AcctaxHome, tracking: str, tmp_path: Path
) -> None:
    version, run_id = promote_champion(tracking, tmp_path / "baseline", ("81100", "81300", "82600"))
    frames = {FEBRUARY: cleaned(FEBRUARY_LINES), MARCH: cleaned(KNOWN_CORRECTIONS)}
    with DagsterInstance.get() as instance:
        for month in frames:
            proposals_made(instance, month, version)
        run(instance, frames, FEBRUARY, tracking)
        march = run(instance, frames, MARCH, tracking)

    assert march["proposed_lines"] == 9 and march["reviewed_lines"] == 4 and march["auto_accepted_lines"] == 5
    assert march["changed_share_reviewed"] == "50.0 % (2 of 4)"
    assert march["changed_share_auto"] == "20.0 % (1 of 5)"
    assert march["slipped_errors"] == 1
    assert march["slipped_share"] == "11.1 % (1 of 9) of lines with proposals"
    assert march["new_codes"] == ["99999"]
    assert "label registry of baseline v1 (registry v1)" in str(march["new_codes_source"])
    assert march["mlflow"] == f"logged into MLflow run {run_id} of baseline v1 (registry v1), step 202403"
    history = table_text(march["history"])
    assert "| 2024-02 |" in history and "| 2024-03 |" in history, "every month measured so far"
    plot = Path(str(march["path"]))
    assert plot.is_file() and plot.read_bytes().startswith(b"\x89PNG")
    assert str(march["history_plot"]).startswith("![share of proposals changed per month](/logs/"), (
        "a short image link, drawn inline"
    )

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    reviewed = client.get_metric_history(run_id, "feedback_changed_share_reviewed")
    auto = client.get_metric_history(run_id, "feedback_changed_share_auto")
    slipped = client.get_metric_history(run_id, "feedback_slipped_errors")
    assert {(m.step, m.value) for m in reviewed} == {(202402, 0.0), (202403, 0.5)}
    assert {(m.step, round(m.value, 4)) for m in auto} == {(202402, 0.1), (202403, 0.2)}
    assert {(m.step, m.value) for m in slipped} == {(202402, 1.0), (202403, 1.0)}


def test_without_champion_mlflow_is_skipped_and_new_codes_come_from_earlier_months(
    home: AcctaxHome, tracking: str
) -> None:
    earlier = home.storage / "cleaned_ledger" / f"{FEBRUARY}.parquet"
    earlier.parent.mkdir(parents=True)
    pd.DataFrame({"acct_code": ["81100", "81300", None]}).to_parquet(earlier)
    with DagsterInstance.get() as instance:
        march = run(instance, {MARCH: cleaned(KNOWN_CORRECTIONS)}, MARCH, tracking)
    assert march["new_codes"] == ["82600", "99999"]
    assert "absent from every earlier month's cleaned_ledger" in str(march["new_codes_source"])
    assert str(march["mlflow"]).startswith("skipped: no champion")
    assert march["changed_share_reviewed"] == "50.0 % (2 of 4)"


def test_a_month_without_proposals_says_so(home: AcctaxHome, tracking: str) -> None:
    unlabelled = pd.DataFrame({"acct_code": pd.array([pd.NA, pd.NA], dtype="string")})
    with DagsterInstance.get() as instance:
        march = run(instance, {MARCH: unlabelled}, MARCH, tracking)
    assert march["status"] == NO_PROPOSALS
    assert march["proposed_lines"] == 0 and march["lines"] == 2
    assert not (home.storage / "proposal_feedback").exists(), "no plot for a month without proposals"


def cleaned_version(instance: DagsterInstance, month: str, version: str) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(CLEANED, partition=month, tags={"dagster/data_version": version})
    )


def sensor_tick(instance: DagsterInstance, cursor: str | None = None) -> SensorResult:
    result = proposal_feedback_sensor(build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, SensorResult)
    return result


def test_the_sensor_measures_a_month_whose_cleaned_lines_came_back_after_its_proposals(home: AcctaxHome) -> None:
    with DagsterInstance.get() as instance:
        cleaned_version(instance, FEBRUARY, "unlabelled")
        cleaned_version(instance, MARCH, "never-proposed")
        proposals_made(instance, FEBRUARY, "1")
        assert not sensor_tick(instance).run_requests, "proposals just made: nothing came back yet"

        cleaned_version(instance, FEBRUARY, "reviewed")  # the clerk's reviewed export landed and was cleaned
        first = sensor_tick(instance)
        assert [(r.partition_key, r.run_key) for r in first.run_requests] == [(FEBRUARY, f"{FEBRUARY}:reviewed")]
        assert not sensor_tick(instance, first.cursor).run_requests, "requested once, not every tick"

        instance.report_runless_asset_event(
            AssetMaterialization(FEEDBACK, partition=FEBRUARY, metadata={CLEANED_VERSION: "reviewed"})
        )
        assert not sensor_tick(instance).run_requests, "measured on its current cleaned_ledger"

        cleaned_version(instance, FEBRUARY, "final")  # the month's final export, later
        [request] = sensor_tick(instance, first.cursor).run_requests
        assert isinstance(request, RunRequest) and request.run_key == f"{FEBRUARY}:final"


def test_acctax_materialize_measures_the_months_that_came_back_through_the_code_location(home: AcctaxHome) -> None:
    """The real feedback_job (Parquet IO manager, default MLflow store): a month whose cleaned lines were stored after
    its proposals is measured; the model named by its ledger_predictions is missing from the registry and there is
    no champion, so MLflow is skipped and new codes come from earlier months (none here)."""
    from acctax_assets.cli import measure_feedback

    stored = home.storage / "cleaned_ledger" / f"{FEBRUARY}.parquet"
    stored.parent.mkdir(parents=True)
    cleaned(FEBRUARY_LINES).to_parquet(stored, index=False)
    with DagsterInstance.get() as instance:
        proposals_made(instance, FEBRUARY, "7")
        cleaned_version(instance, MARCH, "never-proposed")
        cleaned_version(instance, FEBRUARY, "reviewed")
        measure_feedback(instance, [FEBRUARY, MARCH])
        measured = latest_metadata(instance, FEEDBACK, FEBRUARY)
        assert latest_metadata(instance, FEEDBACK, MARCH) == {}
    assert measured[CLEANED_VERSION] == "reviewed"
    assert measured["changed_share_auto"] == "10.0 % (1 of 10)"
    assert measured["new_codes"] == ["81300"]
    assert str(measured["mlflow"]).startswith("skipped: no champion")
