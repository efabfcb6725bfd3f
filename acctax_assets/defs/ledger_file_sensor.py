"""`ledger_file_sensor`: new or changed landing files -> a run of that month's data chain.

Idempotent: a month's run key is the month plus a digest of (path, mtime, size) of all its files, so the
same files never trigger twice and a corrected file always does. The cursor holds one digest per month
(plus the month of files mapped by content), never the file list itself.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    PartitionsDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from acctax_assets.errors import AcctaxError
from acctax_assets.ledger.column_map import ColumnMap
from acctax_assets.ledger.ingestion import list_landing_files, month_from_content, month_from_name
from acctax_assets.defs.resources import LedgerSettings

DEFAULT_SETTLE_SECONDS = 10.0
MAX_TAG_LENGTH = 200


@dataclass
class LandingScan:
    """What the landing folder holds now: file signatures per month, and files we cannot use yet."""

    months: dict[str, list[str]] = field(default_factory=dict)
    content_months: dict[str, str] = field(default_factory=dict)
    unmapped: dict[str, str] = field(default_factory=dict)
    settling: list[str] = field(default_factory=list)

    def digest(self, month: str) -> str:
        return hashlib.sha1("\n".join(sorted(self.months[month])).encode()).hexdigest()[:20]


def scan_landing(
    landing: Path,
    column_map: ColumnMap,
    partition_keys: set[str],
    known_content_months: dict[str, str],
    now: float,
    settle_seconds: float,
) -> LandingScan:
    """Map every settled ledger file to its month; files still being written wait for the next tick."""
    scan = LandingScan()
    for path in list_landing_files(landing):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # moved or deleted since the listing; the next tick sees the folder as it is then
        relative = path.relative_to(landing).as_posix()
        signature = f"{relative}|{stat.st_mtime_ns}|{stat.st_size}"
        if now - stat.st_mtime < settle_seconds:
            scan.settling.append(relative)
            continue
        month = month_from_name(path.name) or known_content_months.get(signature)
        if month is None:
            try:
                month = month_from_content(path, column_map, landing)
            except (AcctaxError, OSError, ValueError) as exc:
                scan.unmapped[signature] = f"{relative}: cannot be read to find its month ({exc})"
                continue
            if month is None:
                scan.unmapped[signature] = f"{relative}: no period in the name and no parseable 전표일자"
                continue
            scan.content_months[signature] = month
        if month not in partition_keys:
            scan.unmapped[signature] = f"{relative}: month {month[:7]} is not a partition (before the first month or not finished yet)"
            continue
        scan.months.setdefault(month, []).append(signature)
    return scan


def load_cursor(cursor: str | None) -> dict:
    """The previous cursor; an unreadable one counts as empty (run keys still prevent duplicate runs)."""
    try:
        value = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def build_ledger_file_sensor(
    job: UnresolvedAssetJobDefinition,
    partitions_def: PartitionsDefinition,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    minimum_interval_seconds: int = 30,
) -> SensorDefinition:
    """The sensor for `job` (the per-month data chain); `settle_seconds` skips files still being written."""

    @sensor(
        name="ledger_file_sensor",
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Requests raw → cleaned → features for the month of every new or changed landing file.",
    )
    def ledger_file_sensor(context: SensorEvaluationContext, settings: LedgerSettings) -> SensorResult | SkipReason:
        previous = load_cursor(context.cursor)
        home = settings.acctax_home
        scan = scan_landing(
            home.landing,
            settings.column_map(),
            set(partitions_def.get_partition_keys()),
            previous.get("content", {}),
            now=time.time(),
            settle_seconds=settle_seconds,
        )
        digests = {month: scan.digest(month) for month in scan.months}
        cursor = json.dumps(
            {"months": digests, "content": scan.content_months, "unmapped": sorted(scan.unmapped)},
            ensure_ascii=False,
            sort_keys=True,
        )
        seen = previous.get("months", {})
        run_requests = [
            RunRequest(
                run_key=f"{month}:{digest}",
                partition_key=month,
                tags={"acctax/files": ",".join(sorted(s.split("|")[0] for s in scan.months[month]))[:MAX_TAG_LENGTH]},
            )
            for month, digest in sorted(digests.items())
            if seen.get(month) != digest
        ]
        for signature in sorted(set(scan.unmapped) - set(previous.get("unmapped", []))):
            context.log.warning(f"Landing file not ingested: {scan.unmapped[signature]}")
        for month in sorted(set(seen) - set(digests)):
            context.log.warning(f"All files of {month[:7]} left the landing folder; its assets keep their last materialization.")
        if scan.settling:
            context.log.info(f"Waiting for files still being written: {scan.settling}")
        if run_requests:
            return SensorResult(run_requests=run_requests, cursor=cursor)
        problems = f"; {len(scan.unmapped)} file(s) not ingested (see sensor logs)" if scan.unmapped else ""
        return SensorResult(skip_reason=SkipReason(f"No new or changed ledger files{problems}"), cursor=cursor)

    return ledger_file_sensor
