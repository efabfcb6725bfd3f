"""What the assets and the automation read back from the instance's event log: data versions per month, the
row counts `cleaned_ledger` records, and which months the blocking data checks let through.

Everything here is decided by what was materialized and with which content (Dagster data versions), never by
who launched the run, so the CLI, a backfill, a UI click and a sensor all count alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
)

from acctax_assets.defs.dagster_internals import check_failed_on_current, latest_check_evaluation
from acctax_assets.defs.jobs import ledger_data_job
from acctax_assets.defs.ledger_checks import ledger_checks

RAW = AssetKey("raw_ledger")
CLEANED = AssetKey("cleaned_ledger")
FEATURES = AssetKey("ledger_features")
MODEL_TEXT = AssetKey("model_text")
DATASET = AssetKey("ledger_dataset")
CLASSIFIER = AssetKey("account_classifier")
SERVED = AssetKey("served_classifier")
PREDICTIONS = AssetKey("ledger_predictions")
FEEDBACK = AssetKey("proposal_feedback")
ROW_COUNTS = ("rows_out", "labelled_rows")
# Metadata keys through which an asset names the upstream data versions it consumed.
MONTH_VERSIONS = "month_versions"
FEATURES_VERSION = "features_version"
CLEANED_VERSION = "cleaned_version"
SHOWN_FIGURES = 4
PAGE = 500


def latest_metadata(instance: DagsterInstance, key: AssetKey, month: str | None = None) -> dict[str, Any]:
    """Metadata values of the latest materialization of `key` (of one month when partitioned); {} if none."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[month] if month else None), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    return {name: value.value for name, value in materialization.metadata.items()} if materialization else {}


def latest_metadata_by_month(instance: DagsterInstance, key: AssetKey) -> dict[str, dict[str, Any]]:
    """Metadata values of the latest materialization of every partition of `key`, newest records first, page by
    page (a partitioned asset's history over the months, e.g. for a plot)."""
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=PAGE, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            if materialization is not None and materialization.partition and materialization.partition not in found:
                found[materialization.partition] = {
                    name: value.value for name, value in materialization.metadata.items()
                }
        if not page.has_more:
            return found
        cursor = page.cursor


def consumed_month_versions(instance: DagsterInstance) -> dict[str, str]:
    """The ledger_features version of each month the latest ledger_dataset was built from."""
    recorded = latest_metadata(instance, DATASET).get(MONTH_VERSIONS)
    return json.loads(recorded) if isinstance(recorded, str) else dict(recorded or {})


def cleaned_row_counts(instance: DagsterInstance, month: str) -> dict[str, int]:
    """`rows_out` and `labelled_rows` of the month's latest cleaned_ledger materialization (the keys present)."""
    metadata = latest_metadata(instance, CLEANED, month)
    return {key: int(metadata[key]) for key in ROW_COUNTS if key in metadata}


def blocking_check_keys() -> list[AssetCheckKey]:
    return [spec.key for checks in ledger_checks for spec in checks.check_specs if spec.blocking]


@dataclass(frozen=True)
class MonthStatus:
    """Months a training may use, and months it must leave out with the failing check and its figures."""

    usable: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    # Months left out because their data chain stopped before an asset: the asset to materialize next.
    stopped_before: dict[str, AssetKey] = field(default_factory=dict)

    def excluded_lines(self) -> list[str]:
        return [f"{month[:7]}: {why}" for month, why in self.excluded.items()]


def _blocking_failure(instance: DagsterInstance, check_key: AssetCheckKey, month: str) -> str | None:
    """The figures of the month's latest evaluation of a check when it failed with ERROR severity (the severity
    that blocks), else None."""
    evaluation = latest_check_evaluation(instance, check_key, month)
    if (
        not isinstance(evaluation, AssetCheckEvaluation)
        or evaluation.passed
        or evaluation.severity != AssetCheckSeverity.ERROR
    ):
        return None
    shown = [
        f"{name}={value.value}"
        for name, value in evaluation.metadata.items()
        if isinstance(value.value, (int, float, str))
    ][:SHOWN_FIGURES]
    return ", ".join(shown)


def month_status(instance: DagsterInstance, months: Sequence[str]) -> MonthStatus:
    """Split months by whether their data chain reached model_text from the current cleaned_ledger with no
    blocking check failing on the current materializations. A month whose checks never ran is usable: unknown is
    not bad, and the data chain runs its checks with it (the automation waits for data runs in flight)."""
    if not months:
        return MonthStatus()
    cleaned = instance.get_latest_storage_id_by_partition(
        CLEANED, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(months)
    )
    features = instance.get_latest_storage_id_by_partition(
        FEATURES, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(months)
    )
    text = instance.get_latest_storage_id_by_partition(
        MODEL_TEXT, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(months)
    )
    reasons: dict[str, list[str]] = {}
    stopped_before: dict[str, AssetKey] = {}
    for check_key, month in check_failed_on_current(instance, blocking_check_keys(), months):
        figures = _blocking_failure(instance, check_key, month)
        if figures is not None:
            reasons.setdefault(month, []).append(f"{check_key.name} failed ({figures})")
    for month in months:
        if month in reasons:
            continue
        if month in cleaned and features.get(month, -1) < cleaned[month]:
            stopped_before[month], upstream = FEATURES, CLEANED
        elif month in features and text.get(month, -1) < features[month]:
            stopped_before[month], upstream = MODEL_TEXT, FEATURES
        else:
            continue
        reasons[month] = [
            f"{stopped_before[month].to_user_string()} not materialized from the current {upstream.to_user_string()} "
            f"(re-run {ledger_data_job.name} for the month)"
        ]
    excluded = {month: "; ".join(reasons[month]) for month in sorted(reasons)}
    return MonthStatus(
        usable=[month for month in months if month not in excluded], excluded=excluded, stopped_before=stopped_before
    )
