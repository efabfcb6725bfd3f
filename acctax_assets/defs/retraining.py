"""Retraining automation: `monthly_retraining_schedule` and `retraining_sensor`.

Training is expensive, so both only request `training_job` when labelled months changed since the last
`account_classifier` materialization, every blocking data check of those months passed on their current
materialization, and no training run is already queued or running. The sensor waits for
`model_settings.retrain_after_months` such months; the schedule retrains monthly on whatever changed.
"""

import hashlib
from dataclasses import dataclass, field

from dagster import (
    AssetCheckKey,
    DagsterEventType,
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
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from acctax_assets.defs.jobs import training_job
from acctax_assets.defs.ledger_checks import ledger_checks
from acctax_assets.defs.materialization_records import CLASSIFIER, CLEANED, FEATURES, cleaned_row_counts
from acctax_assets.defs.ml_resources import ModelSettings

ACTIVE_RUN_STATUSES = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
RETRAINING_CRON = "0 3 2 * *"
OFFICE_TIMEZONE = "Asia/Seoul"


@dataclass(frozen=True)
class LabelledMonths:
    """Months with labelled rows materialized since the last training: usable ones, and blocked ones with why."""

    ready: list[str] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)

    def run_key(self, after: int | None) -> str:
        digest = hashlib.sha1(",".join(self.ready).encode()).hexdigest()[:12]
        return f"after-{after or 0}:{digest}"

    def tags(self, trigger: str) -> dict[str, str]:
        return {"acctax/trigger": trigger, "acctax/new_months": ",".join(month[:7] for month in self.ready)[:200]}


def blocking_check_keys() -> list[AssetCheckKey]:
    return [spec.key for checks in ledger_checks for spec in checks.check_specs if spec.blocking]


def last_training_storage_id(instance: DagsterInstance) -> int | None:
    records = instance.fetch_materializations(CLASSIFIER, limit=1).records
    return records[0].storage_id if records else None


def new_labelled_months(instance: DagsterInstance, after: int | None) -> LabelledMonths:
    """Months whose cleaned_ledger was materialized after storage id `after` and holds labelled rows, split by
    whether their data chain finished with every blocking check passing on the current materialization."""
    cleaned = instance.get_latest_storage_id_by_partition(CLEANED, DagsterEventType.ASSET_MATERIALIZATION, after_cursor=after)
    months = sorted(month for month in cleaned if cleaned_row_counts(instance, month).get("labelled_rows", 0) > 0)
    if not months:
        return LabelledMonths()
    features = instance.get_latest_storage_id_by_partition(FEATURES, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(months))
    blocked: dict[str, list[str]] = {}
    for month in months:
        if features.get(month, -1) < cleaned[month]:
            blocked.setdefault(month, []).append("ledger_features not materialized from the current cleaned_ledger")
    infos = instance.event_log_storage.get_asset_check_partition_info(blocking_check_keys(), partition_keys=months)
    for info in infos:
        if info.latest_execution_status != AssetCheckExecutionRecordStatus.SUCCEEDED or not info.is_current:
            state = info.latest_execution_status.value if info.is_current else "not run on the current materialization"
            blocked.setdefault(info.partition_key, []).append(f"{info.check_key.name}: {state}")
    return LabelledMonths(
        ready=[month for month in months if month not in blocked],
        blocked={month: "; ".join(reasons) for month, reasons in sorted(blocked.items())},
    )


def training_in_flight(instance: DagsterInstance) -> bool:
    return bool(instance.get_run_records(RunsFilter(job_name=training_job.name, statuses=ACTIVE_RUN_STATUSES), limit=1))


def retraining_request(instance: DagsterInstance, minimum_months: int, trigger: str) -> RunRequest | SkipReason:
    """One `training_job` request when at least `minimum_months` new labelled months are ready and none is blocked."""
    if training_in_flight(instance):
        return SkipReason("A training_job run is already queued or running")
    after = last_training_storage_id(instance)
    months = new_labelled_months(instance, after)
    since = "since the last account_classifier materialization" if after else "(account_classifier never materialized)"
    if months.blocked:
        listed = "; ".join(f"{month[:7]}: {why}" for month, why in months.blocked.items())
        return SkipReason(f"Blocking data checks have not passed for {listed}. Fix those months and re-materialize them")
    if len(months.ready) < minimum_months:
        return SkipReason(f"{len(months.ready)} new labelled month(s) {since}; retraining needs {minimum_months}")
    return RunRequest(run_key=months.run_key(after), tags=months.tags(trigger))


@sensor(
    name="retraining_sensor",
    job=training_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="Retrains once `model_settings.retrain_after_months` new labelled months passed their blocking checks.",
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
