"""`acctax backfill` and `acctax ui`: the commands whose work runs in Dagster's own processes.

Apart from `cli` (the entry point, and the commands that execute jobs in this process) because these hand the
work over: `backfill` submits through the `dagster` CLI in a subprocess and the daemon launches the runs, `ui`
replaces this process with `dagster dev` (webserver and daemon). `expand_months`, the `--months` parser every
command uses, is here so that `cli` imports this module and never the other way round.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from acctax_assets.code_location import workspace_file
from acctax_assets.paths import AcctaxHome

# The `acctax` command's logger, whichever module holds the command: every command logs under one name.
log = logging.getLogger("acctax_assets.cli")


def expand_months(specs: Sequence[str]) -> list[str]:
    """`2024-03` and ranges `2024-01:2024-06` -> partition keys (`YYYY-MM-01`)."""
    import pandas as pd

    keys: set[str] = set()
    for spec in specs:
        first, _, last = spec.partition(":")
        try:
            months = pd.period_range(pd.Period(first, "M"), pd.Period(last or first, "M"), freq="M")
        except ValueError as exc:
            raise SystemExit(f"acctax: --months {spec!r} is not YYYY-MM or YYYY-MM:YYYY-MM ({exc})") from exc
        keys.update(f"{month}-01" for month in months)
    return sorted(keys)


BACKFILL_ID = re.compile(r"Launched backfill job `([^`]+)`")


def backfill(args: argparse.Namespace) -> int:
    """Submit a real Dagster backfill (visible under Runs → Backfills) through `dagster job backfill`; the daemon
    of `acctax ui` (or `dagster-daemon run`) launches one run per month. `--wait` follows it to the end."""
    home = AcctaxHome.from_env().ensure()
    months = expand_months(args.months)
    env = {**os.environ, "DAGSTER_HOME": str(home.dagster_home)}
    command = [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "backfill",
        "-w",
        str(workspace_file(home)),
        "-j",
        args.job,
        "--partitions",
        ",".join(months),
        "--tags",
        '{"acctax/trigger": "cli"}',
        "--noprompt",
    ]
    submitted = subprocess.run(command, env=env, capture_output=True, text=True)
    found = BACKFILL_ID.search(submitted.stdout)
    if submitted.returncode != 0 or not found:
        log.error(
            "dagster job backfill failed (exit %d): %s",
            submitted.returncode,
            (submitted.stderr or submitted.stdout)[-2000:],
        )
        return 1
    backfill_id = found.group(1)
    log.info(
        "Backfill %s of %s: %d month(s) %s … %s queued for the daemon",
        backfill_id,
        args.job,
        len(months),
        months[0][:7],
        months[-1][:7],
    )
    if not args.wait:
        return 0
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        return wait_for_backfill(instance, backfill_id, len(months), args.timeout)


def wait_for_backfill(instance: Any, backfill_id: str, expected_runs: int, timeout: float) -> int:
    """Poll the backfill's runs until all finished; 1 if any failed or the daemon never picked them up."""
    from dagster import DagsterRunStatus, RunsFilter

    done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
        if len(runs) >= expected_runs and all(run.status in done for run in runs):
            failed = sorted(
                run.tags.get("dagster/partition", run.run_id)[:7]
                for run in runs
                if run.status != DagsterRunStatus.SUCCESS
            )
            if failed:
                log.error(
                    "Backfill %s: runs for %s did not succeed — open the UI (`acctax ui`) to read their logs",
                    backfill_id,
                    failed,
                )
                return 1
            log.info("Backfill %s: %d run(s) succeeded", backfill_id, len(runs))
            return 0
        time.sleep(2)
    hint = (
        ""
        if instance.get_daemon_heartbeats()
        else " No Dagster daemon is running: start `acctax ui` (or `dagster-daemon run`) to launch queued runs."
    )
    log.error("Backfill %s not finished after %.0f s.%s", backfill_id, timeout, hint)
    return 1


def ui(args: argparse.Namespace) -> NoReturn:
    """Become `dagster dev` bound to loopback with the instance inside ACCTAX_HOME (exec, so a stop signal reaches
    dagster dev itself and no wrapper process is left between the user and the webserver/daemon); the code location
    is `acctax_assets`, the one the CLI's runs name."""
    home = AcctaxHome.from_env().ensure()
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(workspace_file(home)),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    log.info("Dagster UI on http://%s:%d (DAGSTER_HOME=%s)", args.host, args.port, home.dagster_home)
    logging.shutdown()
    os.execve(sys.executable, command, {**os.environ, "DAGSTER_HOME": str(home.dagster_home)})
