"""Count what the real daemon launches after the main command, and after one landing file changes.

    .venv/bin/python benchmarks/idempotency.py --home /tmp/acctax-idem     # runs `acctax materialize` there first
    .venv/bin/python benchmarks/idempotency.py --home .acctax --skip-main  # an ACCTAX_HOME already materialized

Phase 1 starts `dagster-daemon run` on the materialized home and waits `--ticks-wait` seconds (every sensor
ticks at start, ledger_file_sensor again every 30 s): it prints the runs launched per job and the sensors' tick
statuses. Phase 2 changes one labelled month's file (one amount) and the uncoded month's file (one memo text),
waits until the daemon's runs finish, and prints the runs again, plus what retraining_sensor decides now.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd


def run_counts(instance) -> Counter:
    return Counter(
        (
            run.job_name,
            run.tags.get("dagster/sensor_name", "-"),
            run.tags.get("dagster/partition", "-")[:7],
            run.status.value,
        )
        for run in instance.get_runs()
    )


def tick_statuses(instance) -> dict[str, Counter]:
    from dagster._core.scheduler.instigation import InstigatorType

    states = instance.schedule_storage.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    return {
        s.instigator_name: Counter(t.status.value for t in instance.get_ticks(s.instigator_origin_id, s.selector_id))
        for s in states
    }


def show(title: str, counts: Counter) -> None:
    print(f"\n{title}: {sum(counts.values())} run(s)")
    for (job, sensor, month, status), n in sorted(counts.items()):
        print(f"  {n} × {job:<16} sensor={sensor:<26} month={month:<8} {status}")


def edit_file(path: Path, change) -> None:
    """Rewrite a CSV/XLSX landing file with `change(frame)` applied, in its own format and encoding."""
    if path.suffix == ".xlsx":
        frame = change(pd.read_excel(path, dtype=str, keep_default_na=False))
        frame.to_excel(path, index=False)
        return
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        encoding = "cp949"
    frame = change(pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding))
    path.write_bytes(frame.to_csv(index=False).encode(encoding))


def wait_for_quiet(instance, seconds: float, quiet_seconds: float) -> None:
    """Until no run was queued or running for `quiet_seconds` (longer than a sensor interval), or `seconds` passed."""
    from dagster import DagsterRunStatus, RunsFilter

    active = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    ]
    deadline, quiet_since = time.monotonic() + seconds, time.monotonic()
    while time.monotonic() < deadline:
        if instance.get_runs_count(RunsFilter(statuses=active)):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > quiet_seconds:
            return
        time.sleep(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--skip-main", action="store_true", help="the home is already materialized")
    parser.add_argument("--ticks-wait", type=float, default=100.0)
    parser.add_argument("--change-wait", type=float, default=600.0)
    args = parser.parse_args()
    home = args.home.resolve()
    os.environ["ACCTAX_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    if not args.skip_main:
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", "acctax_assets.cli", "materialize"])
        print(f"acctax materialize: exit {code} in {time.perf_counter() - started:.0f} s")

    from dagster import DagsterInstance

    from acctax_assets.code_location import workspace_file
    from acctax_assets.definitions import model_settings_from_env
    from acctax_assets.defs.retraining import retraining_request
    from acctax_assets.paths import AcctaxHome

    log = (home / "idempotency-daemon.log").open("wb")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace_file(AcctaxHome.from_env().ensure()))],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with DagsterInstance.get() as instance:
            before = run_counts(instance)
            show("after the main command", before)
            time.sleep(args.ticks_wait)
            show(f"launched by the daemon in its first {args.ticks_wait:.0f} s", run_counts(instance) - before)
            print("sensor ticks:", {name: dict(c) for name, c in tick_statuses(instance).items()})

            landing = sorted(p for p in (home / "landing").iterdir() if p.is_file())
            labelled, uncoded = landing[len(landing) // 2], landing[-1]
            edit_file(labelled, _bump_amount)
            edit_file(uncoded, _edit_memo)
            print(f"\nchanged {labelled.name} (one amount) and {uncoded.name} (one memo text)")
            mark = run_counts(instance)
            time.sleep(90)
            wait_for_quiet(instance, args.change_wait, quiet_seconds=75)
            show("launched by the daemon after the change", run_counts(instance) - mark)
            minimum = model_settings_from_env().retrain_after_months
            print(
                f"retraining_sensor now (retrain_after_months={minimum}):",
                retraining_request(instance, minimum, "benchmark"),
            )
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        log.close()


def _bump_amount(frame: pd.DataFrame) -> pd.DataFrame:
    """Add 1,000 KRW to the first line's supply amount and total (VAT unchanged), keeping the file valid."""
    out = frame.copy()
    supply, total = next(c for c in out.columns if "공급가액" in c), next(c for c in out.columns if "합계" in c)
    for column in (supply, total):
        value = int(str(out.at[0, column]).replace(",", "")) + 1000
        out.at[0, column] = f"{value:,}" if "," in str(out.at[0, column]) else str(value)
    return out


def _edit_memo(frame: pd.DataFrame) -> pd.DataFrame:
    """Append a word to the first line's memo (적요), a change the features and the model see."""
    out = frame.copy()
    memo = next(c for c in out.columns if "적요" in c)
    out.at[0, memo] = f"{out.at[0, memo]} 추가"
    return out


if __name__ == "__main__":
    main()
