"""office_scale.py's runs: one stage as a Dagster CLI subprocess in a scratch ACCTAX_HOME, its process tree's peak
RSS and the folders it grew, and what its run left in the instance (rows, step times)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance
from office_scale_plan import ADAPTER, DATA_JOB, JOB, PER_MONTH_ASSETS, Calendar, Options, Stage

from acctax_assets.paths import AcctaxHome

QUIET: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
MB = 1024 * 1024
GB = 1024 * MB
POLL_SECONDS = 0.2


def _tree_rss(process: psutil.Process) -> int:
    try:
        processes = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in processes:
        with suppress(psutil.Error):
            total += p.memory_info().rss
    return total


@dataclass
class Command:
    """What one subprocess cost, and why it was stopped if it was."""

    wall_s: float
    peak_rss: int
    returncode: int
    stopped: str | None


def run_measured(command: list[str], env: dict[str, str], cwd: Path, log: Path, options: Options) -> Command:
    """Run `command` in its own process group, polling the tree's RSS; stopped (whole group) past the limits."""
    limit_rss = options.max_rss_gb * GB
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        watched = psutil.Process(process.pid)
        peak, stopped = 0, None
        while process.poll() is None:
            peak = max(peak, _tree_rss(watched))
            elapsed = time.perf_counter() - started
            if elapsed > options.stage_timeout:
                stopped = f"stopped after {elapsed:.0f} s (--stage-timeout {options.stage_timeout:.0f})"
            elif peak > limit_rss:
                stopped = f"stopped at {peak / GB:.1f} GB RSS (--max-rss-gb {options.max_rss_gb:g})"
            if stopped:
                _stop_group(process)
                break
            time.sleep(POLL_SECONDS)
        returncode = process.wait()
        return Command(time.perf_counter() - started, peak, returncode, stopped)


def _stop_group(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _interrupted(log: Path) -> bool:
    """The run stopped on SIGINT/SIGTERM that this script did not send (Dagster's own error for it)."""
    return "DagsterExecutionInterruptedError" in log.read_text(encoding="utf-8", errors="replace")


def dir_size(path: Path) -> int:
    """Bytes under `path`, links not followed, files vanishing meanwhile skipped (runs write while it walks)."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


@dataclass
class StageRun:
    """One stage's figures: the subprocess's, the folders it grew, and its run's event log."""

    stage: str
    partition: str | None
    status: str  # "ok", "failed (exit n)", "stopped …", "skipped: …"
    wall_s: float = 0.0
    peak_rss: int = 0
    rows: int = 0
    folder_bytes: dict[str, int] = field(default_factory=dict)  # per storage folder, added by this run
    home_bytes: int = 0  # added under ACCTAX_HOME (landing excluded)
    other_bytes: dict[str, int] = field(default_factory=dict)  # other folders that changed by 1 MB or more
    run_id: str | None = None
    run_s: float | None = None  # RUN_START -> end, from the event log
    steps: dict[str, float] = field(default_factory=dict)  # step key -> seconds, from the event log
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.ok and self.wall_s else 0.0

    @property
    def storage_bytes(self) -> int:
        return sum(self.folder_bytes.values())


def run_events(instance: Any, run_id: str) -> tuple[float | None, dict[str, float]]:
    """(RUN_START → RUN_SUCCESS/FAILURE seconds, step key → STEP_START → STEP_SUCCESS/FAILURE seconds)."""
    E = DagsterEventType
    wanted = {E.RUN_START, E.RUN_SUCCESS, E.RUN_FAILURE, E.STEP_START, E.STEP_SUCCESS, E.STEP_FAILURE}
    run_start = run_end = None
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=wanted):
        kind = entry.dagster_event.event_type
        if kind == E.RUN_START:
            run_start = entry.timestamp
        elif kind in (E.RUN_SUCCESS, E.RUN_FAILURE):
            run_end = entry.timestamp
        elif kind == E.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif entry.step_key in starts:
            steps[entry.step_key] = entry.timestamp - starts[entry.step_key]
    run_s = run_end - run_start if run_start is not None and run_end is not None else None
    return run_s, steps


def latest_metadata(instance: Any, asset: str, partition: str | None) -> dict[str, Any]:
    """Metadata of `asset`'s latest materialization (of one partition when given); {} if none. Runs are
    sequential, so for the asset a stage wrote it is that stage's; for the dataset sizes ensemble and served score,
    the dataset's."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition] if partition else None), limit=1
    ).records
    if not records:
        return {}
    materialization = records[0].asset_materialization
    return {name: value.value for name, value in materialization.metadata.items()}


class Office:
    """A scratch ACCTAX_HOME with its Dagster instance, and the runs made in it."""

    def __init__(self, root: Path, options: Options, calendar: Calendar) -> None:
        self.root, self.options, self.calendar = root, options, calendar
        self.home = root / "home"
        self.held_back = root / "held_back"
        self.logs = root / "logs"
        self.configs = root / "configs"
        for folder in (self.logs, self.configs, self.held_back):
            folder.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "ACCTAX_HOME": str(self.home),
            "DAGSTER_HOME": str(self.home / "dagster"),
            "ACCTAX_FIRST_MONTH": Calendar.partition(calendar.first),
            "HF_HUB_OFFLINE": "1",
        }
        # Unset, torch, BLAS and scikit-learn use every core, as an office's runs do; --threads N pins them.
        self.env.pop("OMP_NUM_THREADS", None)
        if options.threads:
            self.env["OMP_NUM_THREADS"] = str(options.threads)
        self.dagster = str(Path(sys.executable).with_name("dagster"))
        self.runs: list[StageRun] = []
        self.per_month_assets: tuple[str, ...] = PER_MONTH_ASSETS
        self.assets_note = ""

    @contextmanager
    def environment(self) -> Iterator[None]:
        """This process reads the instance (and imports the code location) with the runs' environment."""
        keys = ("ACCTAX_HOME", "DAGSTER_HOME", "ACCTAX_FIRST_MONTH", "OMP_NUM_THREADS", "HF_HUB_OFFLINE")
        saved = {key: os.environ.get(key) for key in keys}
        for key in keys:
            if key in self.env:
                os.environ[key] = self.env[key]
            else:
                os.environ.pop(key, None)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def instance(self) -> Any:
        return DagsterInstance.get()

    def prepare(self) -> None:
        with self.environment():
            AcctaxHome(self.home).ensure()  # the dagster.yaml `acctax` writes (pools, run queue, no telemetry)
            from acctax_assets.definitions import defs

            job_assets = {
                key.to_user_string() for key in defs.resolve_job_def(DATA_JOB).asset_layer.selected_asset_keys
            }
        extra = sorted(job_assets - set(PER_MONTH_ASSETS))
        missing = sorted(set(PER_MONTH_ASSETS) - job_assets)
        self.per_month_assets = tuple(a for a in PER_MONTH_ASSETS if a in job_assets) + tuple(extra)
        if extra or missing:
            self.assets_note = (
                f"the code location's {DATA_JOB} differs from this script's table: added {extra or 'none'}, "
                f"not in the job {missing or 'none'}"
            )

    def config_file(self, name: str, config: dict[str, Any]) -> Path:
        path = self.configs / f"{name}.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        return path

    def stage_config(self, stage: Stage) -> dict[str, Any]:
        if stage.name == ADAPTER:
            steps = self.options.train_steps
            return {
                **QUIET,
                "ops": {
                    ADAPTER: {
                        "config": {
                            "max_steps": steps,
                            "eval_steps": steps,
                            "save_steps": steps,
                            "per_device_batch_size": self.options.train_batch,
                        }
                    }
                },
            }
        if stage.name == "served_classifier":
            return {**QUIET, "resources": {"model_settings": {"config": {"min_f1_macro": 0.0}}}}
        return QUIET

    def partition_of(self, stage: Stage, month: str | None = None) -> str | None:
        if month:
            return Calendar.partition(month)
        if stage.partition == "uncoded":
            return Calendar.partition(self.calendar.uncoded)
        if stage.partition == "incremental":
            return Calendar.partition(self.calendar.incremental)
        if stage.partition == "year_end":
            return Calendar.partition(self.calendar.year_end)
        return None

    def folders_of(self, stage: Stage) -> tuple[str, ...]:
        return self.per_month_assets if stage.target == DATA_JOB else stage.folders

    def sizes(self) -> dict[str, int]:
        """Bytes of every entry of ACCTAX_HOME/storage (by name) and of the home's other folders ("home/<name>"),
        landing excluded."""
        storage = self.home / "storage"
        found = {path.name: dir_size(path) if path.is_dir() else path.stat().st_size for path in storage.iterdir()}
        for path in self.home.iterdir():
            if path.name not in ("storage", "landing"):
                found[f"home/{path.name}"] = dir_size(path) if path.is_dir() else path.stat().st_size
        return found

    def run(self, stage: Stage, month: str | None = None) -> StageRun:
        partition = self.partition_of(stage, month)
        label = f"{stage.name} {partition[:7]}" if partition else stage.name
        done = {r.stage for r in self.runs if r.ok}
        missing = [need for need in stage.needs if need not in done]
        if missing:
            result = StageRun(stage.name, partition, f"skipped: {', '.join(missing)} did not succeed")
            self.runs.append(result)
            return result
        safe = label.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "plus")
        config = self.config_file(safe, self.stage_config(stage))
        if stage.how == JOB:
            command = [self.dagster, "job", "execute", "-m", "acctax_assets.definitions", "-j", stage.target]
            command += ["--tags", json.dumps({"dagster/partition": partition}), "-c", str(config)]
        else:
            command = [self.dagster, "asset", "materialize", "-m", "acctax_assets.definitions"]
            command += ["--select", stage.target, "-c", str(config)]
        with self.environment(), self.instance() as instance:
            runs_before = {record.dagster_run.run_id for record in instance.get_run_records(limit=5)}
        before = self.sizes()
        log = self.logs / f"{len(self.runs):03d}_{safe}.log"
        print(f"  running {label} …", file=sys.stderr, flush=True)
        command_result = run_measured(command, self.env, self.root, log, self.options)
        after = self.sizes()
        grown = {name: after.get(name, 0) - before.get(name, 0) for name in {*before, *after}}
        status = command_result.stopped or (
            "ok" if command_result.returncode == 0 else f"failed (exit {command_result.returncode})"
        )
        if command_result.returncode != 0 and not command_result.stopped and _interrupted(log):
            status = f"interrupted by a signal from outside the benchmark (exit {command_result.returncode})"
        result = StageRun(
            stage=stage.name,
            partition=partition,
            status=status,
            wall_s=command_result.wall_s,
            peak_rss=command_result.peak_rss,
            folder_bytes={name: grown.get(name, 0) for name in self.folders_of(stage)},
            home_bytes=sum(grown.values()),
            other_bytes={
                name: delta
                for name, delta in sorted(grown.items())
                if name not in self.folders_of(stage) and abs(delta) >= MB
            },
            log=str(log),
        )
        with self.environment(), self.instance() as instance:
            new = [r for r in instance.get_run_records(limit=5) if r.dagster_run.run_id not in runs_before]
            if new:
                result.run_id = new[0].dagster_run.run_id
                result.run_s, result.steps = run_events(instance, result.run_id)
            if result.ok:
                result.rows = self._rows(instance, stage, partition)
        if not result.ok:
            print(f"  {label}: {status}; log {log}", file=sys.stderr, flush=True)
        self.runs.append(result)
        return result

    def _rows(self, instance: Any, stage: Stage, partition: str | None) -> int:
        if stage.name == ADAPTER:
            return self.options.train_steps * self.options.train_batch  # samples its fixed steps trained on
        asset, keys = stage.rows
        metadata = latest_metadata(instance, asset, partition if stage.how == JOB else None)
        total = 0
        for key in keys:
            present = [name for name in key.split("|") if metadata.get(name) is not None]
            total += int(metadata[present[0]]) if present else 0
        return total
