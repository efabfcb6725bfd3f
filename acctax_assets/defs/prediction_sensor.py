"""`ledger_prediction_sensor`: a month with uncoded rows gets its proposals as soon as its features are
materialized, with the champion `served_classifier` promoted.

The cursor is the newest `ledger_features` storage id handled; it only moves once a champion was promoted, so
months landed before the first promotion are predicted when one appears.
"""

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from acctax_assets.defs.jobs import prediction_job
from acctax_assets.defs.materialization_records import FEATURES, ROW_COUNTS, SERVED, cleaned_row_counts

def champion_promoted(instance: DagsterInstance) -> bool:
    """served_classifier has materialized at least once, i.e. some candidate passed its gate and was promoted."""
    return instance.get_latest_materialization_event(SERVED) is not None


def uncoded_rows(instance: DagsterInstance, month: str) -> int:
    """Cleaned rows of `month` without an account code, from its latest cleaned_ledger materialization."""
    counts = cleaned_row_counts(instance, month)
    if not counts.keys() >= set(ROW_COUNTS):
        return 0
    return counts["rows_out"] - counts["labelled_rows"]


@sensor(
    name="ledger_prediction_sensor",
    job=prediction_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests ledger_predictions → prediction_export for every month with uncoded rows once its ledger_features is materialized.",
)
def ledger_prediction_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    instance = context.instance
    if not champion_promoted(instance):
        return SkipReason("No champion yet: served_classifier has not promoted a candidate that passed its gate (run training_job)")
    after = int(context.cursor) if context.cursor else None
    features = instance.get_latest_storage_id_by_partition(FEATURES, DagsterEventType.ASSET_MATERIALIZATION, after_cursor=after)
    if not features:
        return SkipReason("No ledger_features materialized since the last tick")
    requests = [
        RunRequest(run_key=f"{month}:{storage_id}", partition_key=month, tags={"acctax/trigger": "ledger_prediction_sensor"})
        for month, storage_id in sorted(features.items())
        if uncoded_rows(instance, month) > 0
    ]
    cursor = str(max(features.values()))
    if not requests:
        return SensorResult(skip_reason=SkipReason(f"{len(features)} month(s) of new features, all fully coded"), cursor=cursor)
    return SensorResult(run_requests=requests, cursor=cursor)
