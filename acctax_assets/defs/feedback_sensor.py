"""`proposal_feedback_sensor`: a month that received proposals is measured once its `cleaned_ledger` was
materialized after its `ledger_predictions` (the clerk's reviewed export or the month's final export landed and was
cleaned) and that cleaned content is new to `proposal_feedback`.

Content-based, like the prediction sensor: `proposal_feedback` records the cleaned_ledger data version it measured
(`cleaned_version`), so re-cleaning unchanged files, or a month the CLI or a UI click already measured, requests
nothing; a month whose proposals were just made (its cleaned lines older than them) has nothing to measure yet, so
`acctax materialize` leaves the daemon nothing to launch. Months never proposed by this instance (no
`ledger_predictions`) are left to a manual materialization. The cursor holds the run requested per month, so a
failed run is not relaunched every tick.
"""

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.jobs import feedback_job
from acctax_assets.defs.ledger_file_sensor import month_run_requests
from acctax_assets.defs.materialization_records import CLEANED, CLEANED_VERSION, FEEDBACK, PREDICTIONS, latest_metadata


def months_reviewed_since_proposals(instance: DagsterInstance) -> list[str]:
    """Months whose latest cleaned_ledger was materialized after their latest ledger_predictions."""
    proposed = instance.get_latest_storage_id_by_partition(PREDICTIONS, DagsterEventType.ASSET_MATERIALIZATION)
    if not proposed:
        return []
    cleaned = instance.get_latest_storage_id_by_partition(
        CLEANED, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(proposed)
    )
    return sorted(month for month, storage_id in cleaned.items() if storage_id > proposed[month])


@sensor(
    name="proposal_feedback_sensor",
    job=feedback_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests proposal_feedback for every month whose cleaned_ledger, materialized after its proposals, was not measured yet.",
)
def proposal_feedback_sensor(context: SensorEvaluationContext) -> SensorResult:
    instance = context.instance
    months = months_reviewed_since_proposals(instance)
    versions = latest_data_versions(instance, CLEANED, months) if months else {}
    pending = (
        (month, version)
        for month, version in sorted(versions.items())
        if latest_metadata(instance, FEEDBACK, month).get(CLEANED_VERSION) != version
    )
    return month_run_requests(
        pending,
        context.cursor,
        "proposal_feedback_sensor",
        "No month with proposals has cleaned lines from after them that proposal_feedback has not measured",
    )
