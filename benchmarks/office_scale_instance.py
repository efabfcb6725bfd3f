"""office_scale.py's instance health: which partitions the runs wrote, how large the SQLite instance grew, and how
long the reads the UI, the sensors and the assets make take on it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterEventType
from office_scale_runs import dir_size


def latest_storage_id(instance: Any, assets: Sequence[str]) -> int:
    """The newest materialization's storage id among `assets` (0 if none)."""
    newest = 0
    for asset in assets:
        records = instance.fetch_materializations(AssetKey(asset), limit=1).records
        if records:
            newest = max(newest, records[0].storage_id)
    return newest


def partitions_written_since(instance: Any, assets: Sequence[str], after: int) -> dict[str, list[str]]:
    """Per asset, the partitions materialized after storage id `after` (every run, not only one)."""
    written: dict[str, list[str]] = {}
    for asset in assets:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), after_storage_id=after), limit=10_000
        ).records
        written[asset] = sorted({r.asset_materialization.partition or "(unpartitioned)" for r in records})
    return written


def instance_sizes(dagster_home: Path) -> list[tuple[str, int, int]]:
    """(what, files, bytes) of the SQLite instance: runs.db, the per-run event log dbs, their index, the rest."""
    history = dagster_home / "history"
    run_dbs = [p for p in (history / "runs").glob("*.db") if p.name != "index.db"]
    groups = [
        ("history/runs.db (runs, tags)", list(history.glob("runs.db*"))),
        ("history/runs/<run_id>.db (event log per run)", run_dbs),
        ("history/runs/index.db (asset and event index)", list((history / "runs").glob("index.db*"))),
        ("schedules/ (sensor and schedule ticks)", [p for p in (dagster_home / "schedules").rglob("*") if p.is_file()]),
        ("storage/ (compute logs)", [p for p in (dagster_home / "storage").rglob("*") if p.is_file()]),
    ]
    rows = [(name, len(paths), sum(p.stat().st_size for p in paths)) for name, paths in groups]
    rows.append(("all of DAGSTER_HOME", sum(1 for p in dagster_home.rglob("*") if p.is_file()), dir_size(dagster_home)))
    return rows


def health_reads(
    instance: Any, months: list[str], per_month_assets: Sequence[str]
) -> list[tuple[str, Callable[[], Any]]]:
    """Named reads, each returning something whose size is printed."""
    cleaned = AssetKey("cleaned_ledger")

    def latest_each_partition() -> list[Any]:
        return [
            record
            for asset in per_month_assets
            for month in months
            for record in instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[month]), limit=1
            ).records
        ]

    reads: list[tuple[str, Callable[[], Any]]] = [
        ("get_materialized_partitions(cleaned_ledger)", lambda: instance.get_materialized_partitions(cleaned)),
        (
            f"latest materialization of each partition ({len(per_month_assets)} assets × {len(months)} months, fetch_materializations limit=1)",
            latest_each_partition,
        ),
        (
            "get_latest_materialization_events(every per-month asset)",
            lambda: instance.get_latest_materialization_events([AssetKey(a) for a in per_month_assets]),
        ),
        (
            "get_latest_storage_id_by_partition(ledger_features)",
            lambda: instance.get_latest_storage_id_by_partition(
                AssetKey("ledger_features"), DagsterEventType.ASSET_MATERIALIZATION
            ),
        ),
        (
            "fetch_materializations(cleaned_ledger, limit=1000)",
            lambda: instance.fetch_materializations(cleaned, limit=1000).records,
        ),
    ]
    try:
        from acctax_assets.defs import materialization_records as mr

        reads += [
            ("materialization_records.month_status(all months)", lambda: mr.month_status(instance, months).usable),
            ("materialization_records.consumed_month_versions()", lambda: mr.consumed_month_versions(instance)),
            (
                "materialization_records.cleaned_row_counts(each month)",
                lambda: [mr.cleaned_row_counts(instance, m) for m in months],
            ),
            (
                "materialization_records.latest_metadata(ledger_dataset)",
                lambda: mr.latest_metadata(instance, mr.DATASET),
            ),
        ]
    except ImportError as exc:
        reads.append((f"materialization_records: {exc}", lambda: []))
    try:
        from acctax_assets.defs import retraining

        reads += [
            ("retraining.labelled_months() (retraining_sensor)", lambda: retraining.labelled_months(instance)),
            (
                "retraining.changed_labelled_months() (retraining_sensor)",
                lambda: retraining.changed_labelled_months(instance).months,
            ),
            (
                "retraining.retraining_request() (a whole sensor tick)",
                lambda: [retraining.retraining_request(instance, 3, "office_scale")],
            ),
        ]
    except ImportError as exc:
        reads.append((f"retraining: {exc}", lambda: []))
    try:
        from acctax_assets.defs import prediction_sensor

        reads.append(
            (
                "prediction_sensor.uncoded_rows(each month) (ledger_prediction_sensor)",
                lambda: [prediction_sensor.uncoded_rows(instance, m) for m in months],
            )
        )
    except ImportError as exc:
        reads.append((f"prediction_sensor: {exc}", lambda: []))
    return reads


def time_reads(reads: list[tuple[str, Callable[[], Any]]], repeat: int = 3) -> list[tuple[str, float, float, str]]:
    """(read, first seconds, median of `repeat`, result size); a read that fails reports its error."""
    timed = []
    for name, read in reads:
        seconds, size = [], ""
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                value = read()
                size = str(len(value)) if hasattr(value, "__len__") else type(value).__name__
            except Exception as exc:  # a renamed function or changed signature is reported, not fatal
                size = f"error: {type(exc).__name__}: {str(exc)[:80]}"
                seconds.append(time.perf_counter() - started)
                break
            seconds.append(time.perf_counter() - started)
        timed.append((name, seconds[0], statistics.median(seconds), size))
    return timed
