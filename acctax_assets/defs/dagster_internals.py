"""Every use of Dagster's private API (`dagster._core…`, `instance.event_log_storage`, underscore methods) in one
place, so a Dagster upgrade is a review of this file. Written against dagster 1.13.

Each function says what it reads and why the public API does not offer it. The rest of the platform imports from
here and never from `dagster._…`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance, UPathIOManager
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.upath_io_manager import escape_dotdot_segments

if TYPE_CHECKING:
    from dagster import InputContext
    from upath import UPath

# What `define_asset_job` returns before Definitions resolves it: the type sensors are built around.
AssetJob = UnresolvedAssetJobDefinition

__all__ = [
    "AssetJob",
    "check_failed_on_current",
    "free_pool_slots_of_ended_runs",
    "latest_check_evaluation",
    "latest_data_versions",
    "partition_paths",
    "safe_partition_segment",
]


def latest_data_versions(
    instance: DagsterInstance, key: AssetKey, months: Sequence[str] | None = None
) -> dict[str, str]:
    """The data version tag of each partition's latest materialization of `key` in one storage query (the public
    `fetch_materializations` would read every partition's records one by one)."""
    tags = instance.event_log_storage.get_latest_tags_by_partition(
        key,
        DagsterEventType.ASSET_MATERIALIZATION,
        [DATA_VERSION_TAG],
        asset_partitions=list(months) if months is not None else None,
    )
    return {month: values[DATA_VERSION_TAG] for month, values in tags.items() if DATA_VERSION_TAG in values}


def check_failed_on_current(
    instance: DagsterInstance, keys: Sequence[AssetCheckKey], months: Sequence[str]
) -> list[tuple[AssetCheckKey, str]]:
    """(check, month) pairs whose latest evaluation failed on the month's current materialization: the partitioned
    check status the UI shows, which has no public reader."""
    return [
        (info.check_key, info.partition_key)
        for info in instance.event_log_storage.get_asset_check_partition_info(list(keys), partition_keys=list(months))
        if info.is_current and info.latest_execution_status == AssetCheckExecutionRecordStatus.FAILED
    ]


def latest_check_evaluation(instance: DagsterInstance, key: AssetCheckKey, month: str) -> Any | None:
    """The AssetCheckEvaluation of the month's latest execution of `key` (severity and figures), or None."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=1, partition_filter=PartitionKeyFilter(key=month)
    )
    event = history[0].event.dagster_event if history and history[0].event else None
    return event.event_specific_data if event else None


def free_pool_slots_of_ended_runs(instance: DagsterInstance, pool: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Free the pool slots held by runs that ended (a process killed mid-step never releases its slot). Returns the
    freed run ids and (run id, status) of the live runs still holding one. Pools have no public API for this."""
    freed, live = [], []
    for run_id in instance.event_log_storage.get_concurrency_info(pool).active_run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
        else:
            live.append((run_id, run.status.value))
    return freed, live


def safe_partition_segment(partition: str) -> str:
    """A partition key as a path segment that cannot climb out of the asset's folder (`..` escaped), as Dagster's
    own UPathIOManager does."""
    return escape_dotdot_segments(partition.lstrip("/"))


def partition_paths(io_manager: UPathIOManager, context: InputContext) -> dict[str, UPath]:
    """Where a UPathIOManager keeps each partition of an input, without loading any (its private helper)."""
    return io_manager._get_paths_for_partitions(context)
