"""`ledger_prediction_sensor`: a month with uncoded rows gets its proposals once its `ledger_features` content is
new to `ledger_predictions`, with a champion `served_classifier` promoted.

Content-based: `ledger_predictions` records the ledger_features data version it predicted (`features_version`),
and the sensor requests a month only when the current version differs, so a month the CLI or a backfill already
predicted, or whose files were re-materialized unchanged, is not predicted again. Months landed before the first
promotion are predicted when one appears. The cursor holds the run requested per month, so a failed prediction
run is not relaunched every tick.
"""

from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.jobs import prediction_job
from acctax_assets.defs.ledger_file_sensor import month_run_requests
from acctax_assets.defs.materialization_records import (
    FEATURES,
    FEATURES_VERSION,
    PREDICTIONS,
    ROW_COUNTS,
    SERVED,
    cleaned_row_counts,
    latest_metadata,
)


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
    description="Requests ledger_predictions → prediction_export for every month with uncoded rows whose ledger_features content was not predicted yet.",
)
def ledger_prediction_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    instance = context.instance
    if not champion_promoted(instance):
        return SkipReason(
            "No champion yet: served_classifier has not promoted a candidate that passed its gate (run training_job)"
        )
    pending = (
        (month, version)
        for month, version in sorted(latest_data_versions(instance, FEATURES).items())
        if uncoded_rows(instance, month)
        and latest_metadata(instance, PREDICTIONS, month).get(FEATURES_VERSION) != version
    )
    return month_run_requests(
        pending,
        context.cursor,
        "ledger_prediction_sensor",
        "Every month with uncoded rows has proposals for its current ledger_features",
    )
