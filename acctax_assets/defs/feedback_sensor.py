"""`proposal_feedback_sensor`: a month that received proposals is measured again whenever its `cleaned_ledger`
content is new to `proposal_feedback`, i.e. when the clerk's reviewed export or the month's final export has landed
and been cleaned.

Content-based, like the prediction sensor: `proposal_feedback` records the cleaned_ledger data version it measured
(`cleaned_version`), so re-cleaning unchanged files, or a month the CLI or a UI click already measured, requests
nothing. Months never proposed by this instance (no `ledger_predictions`) are left to a manual materialization. The
cursor holds the run requested per month, so a failed run is not relaunched every tick.
"""

import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.jobs import feedback_job
from acctax_assets.defs.ledger_file_sensor import load_cursor
from acctax_assets.defs.materialization_records import CLEANED, CLEANED_VERSION, FEEDBACK, PREDICTIONS, latest_metadata


@sensor(
    name="proposal_feedback_sensor",
    job=feedback_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests proposal_feedback for every month with proposals whose cleaned_ledger content was not measured yet.",
)
def proposal_feedback_sensor(context: SensorEvaluationContext) -> SensorResult:
    instance = context.instance
    proposed = instance.get_materialized_partitions(PREDICTIONS)
    if not proposed:
        return SensorResult(
            skip_reason=SkipReason("No month has proposals yet (ledger_predictions)"), cursor=context.cursor
        )
    previous = load_cursor(context.cursor)
    requested: dict[str, str] = {}
    requests = []
    for month, version in sorted(latest_data_versions(instance, CLEANED, sorted(proposed)).items()):
        if latest_metadata(instance, FEEDBACK, month).get(CLEANED_VERSION) == version:
            continue
        run_key = f"{month}:{version}"
        requested[month] = run_key
        if previous.get(month) != run_key:
            requests.append(
                RunRequest(run_key=run_key, partition_key=month, tags={"acctax/trigger": "proposal_feedback_sensor"})
            )
    cursor = json.dumps(requested, sort_keys=True)
    if not requests:
        return SensorResult(
            skip_reason=SkipReason("Every month with proposals is measured on its current cleaned_ledger"),
            cursor=cursor,
        )
    return SensorResult(run_requests=requests, cursor=cursor)
