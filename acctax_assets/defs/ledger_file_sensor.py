"""`ledger_file_sensor`: landing content that differs from what `raw_ledger` holds -> a run of that month's data chain.

Content-based: a month's landing version is a digest of its files' names and bytes (ledger/fingerprints.py),
and `raw_ledger` records the version it read as its Dagster data version. The sensor requests a month only when
the two differ, so months materialized by the CLI, a backfill or a UI click are not re-run, and touching a file
or replacing it with identical bytes launches nothing. Which month a file belongs to is decided by
`LandingMonths` (ledger/landing.py), the same decider raw_ledger's run asks, with its shared cache. The cursor keeps
the months of files dated by content (to log each placement once), the versions last seen (to log what changed)
and the run already requested per month (so a run that failed before writing `raw_ledger` is not relaunched
every tick: fix the file or re-materialize).
"""

import json
import time
from collections.abc import Iterable

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

from acctax_assets.defs.dagster_internals import AssetJob, latest_data_versions
from acctax_assets.defs.materialization_records import RAW
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.fingerprints import landing_version

DEFAULT_SETTLE_SECONDS = 10.0
MAX_TAG_LENGTH = 200


def load_cursor(cursor: str | None) -> dict:
    """The previous cursor; an unreadable one counts as empty (run keys still prevent duplicate runs)."""
    try:
        value = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def month_run_requests(
    pending: Iterable[tuple[str, str]], cursor: str | None, trigger: str, nothing_to_do: str
) -> SensorResult:
    """One run request per (month, data version) still to process, run key `month:version`; the cursor keeps the
    run requested per month, so a failed run is not relaunched every tick (the prediction and feedback sensors)."""
    previous = load_cursor(cursor)
    requested: dict[str, str] = {}
    requests = []
    for month, version in pending:
        run_key = requested[month] = f"{month}:{version}"
        if previous.get(month) != run_key:
            requests.append(RunRequest(run_key=run_key, partition_key=month, tags={"acctax/trigger": trigger}))
    new_cursor = json.dumps(requested, sort_keys=True)
    if not requests:
        return SensorResult(skip_reason=SkipReason(nothing_to_do), cursor=new_cursor)
    return SensorResult(run_requests=requests, cursor=new_cursor)


def build_ledger_file_sensor(
    job: AssetJob,
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
        description=(
            f"Requests {job.name} for each month whose landing content differs from {RAW.to_user_string()}'s data "
            "version."
        ),
    )
    def ledger_file_sensor(context: SensorEvaluationContext, settings: LedgerSettings) -> SensorResult | SkipReason:
        previous = load_cursor(context.cursor)
        home = settings.acctax_home
        scan = settings.landing_months().scan(
            set(partitions_def.get_partition_keys()), settled_before=time.time() - settle_seconds
        )
        versions = {month: landing_version(paths, home.landing) for month, paths in scan.months.items()}
        materialized = latest_data_versions(context.instance, RAW, list(versions))
        requested = {month: key for month, key in previous.get("requested", {}).items() if month in versions}
        run_requests = []
        for month, version in sorted(versions.items()):
            if materialized.get(month) == version:
                requested.pop(month, None)
                continue
            run_key = f"{month}:{version}:{materialized.get(month, 'new')}"
            if requested.get(month) == run_key:
                continue
            requested[month] = run_key
            files = ",".join(scan.files(month, home.landing))
            run_requests.append(
                RunRequest(
                    run_key=run_key,
                    partition_key=month,
                    tags={"acctax/files": files[:MAX_TAG_LENGTH], "acctax/landing_version": version},
                )
            )
        seen = previous.get("months", {})
        cursor = json.dumps(
            {
                "months": versions,
                "content": scan.content_months,
                "unmapped": sorted(scan.unmapped),
                "requested": requested,
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        for signature in sorted(set(scan.unmapped) - set(previous.get("unmapped", []))):
            context.log.warning(f"Landing file not ingested: {scan.unmapped[signature]}")
        for signature in sorted(set(scan.content_months) - set(previous.get("content", {}))):
            relative = signature.rsplit("|", 2)[0]  # a signature is `relative|mtime_ns|size`
            context.log.info(
                f"{relative} has no period in its name: placed in {scan.content_months[signature][:7]} by its 전표일자"
            )
        for month in sorted(set(seen) - set(versions)):
            context.log.warning(
                f"All files of {month[:7]} left the landing folder; its assets keep their last materialization."
            )
        if scan.settling:
            context.log.info(f"Waiting for files still being written: {scan.settling}")
        if run_requests:
            return SensorResult(run_requests=run_requests, cursor=cursor)
        problems = f"; {len(scan.unmapped)} file(s) not ingested (see sensor logs)" if scan.unmapped else ""
        return SensorResult(
            skip_reason=SkipReason(
                f"Landing content of {len(versions)} month(s) matches raw_ledger's data versions{problems}"
            ),
            cursor=cursor,
        )

    return ledger_file_sensor
