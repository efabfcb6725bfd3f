"""Retraining automation: `monthly_retraining_schedule` and `retraining_sensor`.

Training is expensive, so both request `training_job` only when labelled months really changed: a month counts
when the data version of its `ledger_features` (a content digest) differs from the version the latest
`ledger_dataset` was built from. Re-materializing unchanged files, from the CLI, a backfill, the UI or a sensor,
changes no version and triggers nothing. Months whose blocking data checks failed are left out and listed (they
do not stop the other months); nothing is requested while data-layer or training runs are queued or running.
The sensor waits for `model_settings.retrain_after_months` changed months; the schedule retrains monthly on any.
"""

import hashlib
from dataclasses import dataclass, field

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    schedule,
    sensor,
)

from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.jobs import ledger_data_job, training_job
from acctax_assets.defs.ledger_file_sensor import MAX_TAG_LENGTH
from acctax_assets.defs.materialization_records import (
    CLEANED,
    FEATURES,
    MonthStatus,
    cleaned_row_counts,
    consumed_month_versions,
    month_status,
)
from acctax_assets.defs.ml_resources import ModelSettings

ACTIVE_RUN_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
RETRAINING_CRON = "0 3 2 * *"
OFFICE_TIMEZONE = "Asia/Seoul"


@dataclass(frozen=True)
class ChangedMonths:
    """Labelled months whose features differ from the last dataset's (with their new versions), and months left out."""

    versions: dict[str, str] = field(default_factory=dict)
    status: MonthStatus = field(default_factory=MonthStatus)

    @property
    def months(self) -> list[str]:
        return sorted(self.versions)

    def run_key(self) -> str:
        """The same changed content never requests a second training, whoever materialized it."""
        pairs = ",".join(f"{month}={version}" for month, version in sorted(self.versions.items()))
        return "retrain:" + hashlib.sha1(pairs.encode()).hexdigest()[:16]

    def tags(self, trigger: str) -> dict[str, str]:
        tags = {
            "acctax/trigger": trigger,
            "acctax/changed_months": ",".join(month[:7] for month in self.months)[:MAX_TAG_LENGTH],
        }
        if self.status.excluded:
            tags["acctax/excluded_months"] = ",".join(month[:7] for month in self.status.excluded)[:MAX_TAG_LENGTH]
        return tags


def labelled_months(instance: DagsterInstance) -> list[str]:
    """Months whose latest cleaned_ledger holds labelled rows."""
    return sorted(
        month
        for month in instance.get_materialized_partitions(CLEANED)
        if cleaned_row_counts(instance, month).get("labelled_rows", 0) > 0
    )


def changed_labelled_months(instance: DagsterInstance) -> ChangedMonths:
    """Usable labelled months whose ledger_features version is not the one the latest ledger_dataset consumed."""
    status = month_status(instance, labelled_months(instance))
    current = latest_data_versions(instance, FEATURES, status.usable)
    consumed = consumed_month_versions(instance)
    changed = {month: version for month, version in current.items() if consumed.get(month) != version}
    return ChangedMonths(versions=changed, status=status)


def runs_in_flight(instance: DagsterInstance, job_name: str) -> int:
    return len(instance.get_run_records(RunsFilter(job_name=job_name, statuses=ACTIVE_RUN_STATUSES), limit=100))


def retraining_request(instance: DagsterInstance, minimum_months: int, trigger: str) -> RunRequest | SkipReason:
    """One `training_job` request when at least `minimum_months` labelled months changed; failing months are left out."""
    if runs_in_flight(instance, training_job.name):
        return SkipReason(f"A {training_job.name} run is already queued or running")
    data_runs = runs_in_flight(instance, ledger_data_job.name)
    if data_runs:
        return SkipReason(
            f"{data_runs} {ledger_data_job.name} run(s) queued or running; deciding once the data layer settled"
        )
    changed = changed_labelled_months(instance)
    left_out = (
        f"; left out of training: {'; '.join(changed.status.excluded_lines())}" if changed.status.excluded else ""
    )
    if len(changed.months) < minimum_months:
        return SkipReason(
            f"{len(changed.months)} labelled month(s) changed since the last ledger_dataset; retraining needs {minimum_months}{left_out}"
        )
    return RunRequest(run_key=changed.run_key(), tags=changed.tags(trigger))


@sensor(
    name="retraining_sensor",
    job=training_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="Retrains once `model_settings.retrain_after_months` labelled months changed content (blocked months left out).",
)
def retraining_sensor(context: SensorEvaluationContext, model_settings: ModelSettings) -> RunRequest | SkipReason:
    return retraining_request(context.instance, model_settings.retrain_after_months, "retraining_sensor")


@schedule(
    name="monthly_retraining_schedule",
    job=training_job,
    cron_schedule=RETRAINING_CRON,
    execution_timezone=OFFICE_TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="On the 2nd of each month at 03:00 KST: retrain if any labelled month changed since the last training.",
)
def monthly_retraining_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    request = retraining_request(context.instance, 1, "monthly_retraining_schedule")
    if isinstance(request, RunRequest):
        return RunRequest(run_key=None, tags=request.tags)
    return request
