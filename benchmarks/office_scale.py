"""An accounting office's real size, measured end to end through the real assets and the real Dagster CLI.

What it measures. An office-sized ledger (default 60 coded months × 58,000 rows, 380 client companies, 250
account codes with a long tail) is generated with the demo generator, widened, and written as the demo writes
its files (one CSV a month, the demo's Korean headers, rotating encodings and date styles) into a fresh
ACCTAX_HOME's landing folder. Then every stage runs through Dagster on a local instance (DAGSTER_HOME inside
that ACCTAX_HOME), each run in its own subprocess so its peak RSS is its own:

1. generation (timed separately, not a Dagster stage);
2. the data layer: `dagster job execute -j ledger_data_job` once per month;
3. `dagster asset materialize --select` ledger_dataset, tokenized_dataset, baseline_classifier;
4. unless `--skip-training`: account_classifier at a fixed small number of steps (`--train-steps`; its time is
   that of N steps plus the final valid/test evaluation, not of a real training), ensemble_classifier,
   served_classifier (quality gate floor 0: this measures cost, not quality), the uncoded month's
   ledger_data_job and its `prediction_job`;
5. incremental: month N+1, held back until now, is landed; its ledger_data_job and the rebuild of ledger_dataset
   and tokenized_dataset are compared with month 1 and with the first builds, and the materialization records
   show which partitions of the per-month assets were written since it landed;
6. a year-end month: month N+3 with `--year-end-factor` times the rows (default 10), landed last; its
   ledger_data_job's wall time and peak RSS against the per-month median show how memory grows with a month's
   size and the largest month the 8 GB budget holds (`0` skips it);
7. instance health: the size of the SQLite instance and the time of the reads the UI, the sensors and the
   assets make (`acctax_assets/defs/materialization_records.py`, the retraining and prediction sensors).

Per stage: wall time of the subprocess, rows, rows/s, peak RSS of its process tree (psutil, every 0.2 s,
children included: the DeepSpeed ranks, the trainer), bytes the stage added under ACCTAX_HOME/storage (the asset's
folder) and under the whole ACCTAX_HOME (the instance, MLflow, exports). Per-step durations come from the run's
event log (STEP_START → STEP_SUCCESS of the run the subprocess created, read with `DagsterInstance.get()`), so
one run per stage measures both the CLI's cost (process start, code location load) and each asset's own time
without a second run per asset; "process overhead" is the wall time minus the run's RUN_START → RUN_SUCCESS.
A stage that exceeds `--stage-timeout` or `--max-rss-gb` is stopped and reported as such, and the stages that
need it are reported as skipped: figures only, no pass/fail. Every run uses the quiet console log of `acctax
materialize` (WARNING; the event log is complete either way). Each run's output is kept in `<root>/logs/`.

The asset names of each stage are data (the tables of office_scale_plan.py). The per-month list is also checked
against the code location's `ledger_data_job` at start: an asset the job materializes that the table lacks is added
and named in the output.

This file is the command and the run's order; its parts sit beside it: office_scale_plan.py (stages, options,
months), office_scale_generation.py (the widened ledger), office_scale_runs.py (one stage as a measured
subprocess), office_scale_instance.py (instance health) and office_scale_report.py (the tables).

Month names: partitions are month starts from ACCTAX_FIRST_MONTH and the current month is not a partition yet,
so the script starts at 2024-01 when N + 2 months fit before the current month and earlier otherwise (set in
ACCTAX_FIRST_MONTH for every run).

Run it:

    .venv/bin/python benchmarks/office_scale.py --quick                      # 6 months × 5,000 rows, ~5.5 min
    .venv/bin/python benchmarks/office_scale.py --months 12 --skip-training  # 12 months at full rows
    .venv/bin/python benchmarks/office_scale.py --skip-training              # the office: 60 × 58,000 rows
    .venv/bin/python benchmarks/office_scale.py --quick --keep /tmp/office   # keep ACCTAX_HOME (/tmp/office/home)

Full size on 2 cores (24 GB; measured at ae3d341 with the CI suite and another benchmark on the same cores, so times
are upper bounds): `--skip-training` takes 49 min — generation 101 s; data layer 798 s (60 runs, 14.9 s median, 6.1 s
of it CLI start, 0.55 GB peak each); ledger_dataset 17 s (3.4 M rows, 2.4 GB); tokenized_dataset 411 s (3.6 GB, the
largest); baseline_classifier 1,143 s on its 200,000-row sample; month N+1: 13 s data layer, 20 s ledger_dataset
(4 % of a full rebuild), 332 s tokenized_dataset (re-tokenizes every row); year-end month (580,000 rows) 35 s and
2.1 GB; 44 MB of SQLite, sensor reads 0.3-0.4 s. Before the Arrow dataset build (f5b0c61): ledger_dataset 43-51 s
and 5.8 GB, month N+1 11 % of a rebuild; before Arrow-string reads (1d81b54) the 10x month peaked at 3.3 GB. The training part at full size is not
measured: the adapter's final evaluation alone scores ~680,000 valid/test rows.
`--quick` (with training) takes about 5.5 min.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from dagster import AssetKey, DagsterEventType
from office_scale_generation import office_world, write_months
from office_scale_instance import health_reads, instance_sizes, latest_storage_id, partitions_written_since, time_reads
from office_scale_plan import (
    DATA_JOB,
    DATA_ROWS,
    INCREMENTAL_STAGES,
    JOB,
    ML_STAGES,
    TRAINING_STAGES,
    YEAR_END_STAGE,
    Calendar,
    Options,
    Stage,
    office_calendar,
)
from office_scale_report import Report, render
from office_scale_runs import Office

QUICK = {"months": 6, "rows_per_month": 5000, "companies": 40, "codes": 60}


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """The command line as Options; --quick overrides the four sizes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=Options.months, help="coded months (default 60)")
    parser.add_argument("--rows-per-month", type=int, default=Options.rows_per_month, help="default 58000")
    parser.add_argument("--companies", type=int, default=Options.companies, help="client companies (default 380)")
    parser.add_argument("--codes", type=int, default=Options.codes, help="account codes (default 250)")
    parser.add_argument("--quick", action="store_true", help="6 months × 5000 rows, 40 companies, 60 codes")
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--skip-training", action="store_true", help="skip adapter, ensemble, served, predictions")
    parser.add_argument("--train-steps", type=int, default=Options.train_steps, help="adapter steps (default 20)")
    parser.add_argument("--train-batch", type=int, default=Options.train_batch, help="adapter batch (default 32)")
    parser.add_argument(
        "--stage-timeout", type=float, default=Options.stage_timeout, help="seconds before a run is stopped"
    )
    parser.add_argument(
        "--max-rss-gb", type=float, default=Options.max_rss_gb, help="a run whose tree passes this RSS is stopped"
    )
    parser.add_argument(
        "--year-end-factor",
        type=int,
        default=Options.year_end_factor,
        help="rows of the year-end month as a multiple of --rows-per-month (default 10; 0 skips it)",
    )
    parser.add_argument(
        "--threads", type=int, default=Options.threads, help="OMP_NUM_THREADS of every run (default: every core)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR (ACCTAX_HOME = DIR/home) and keep it")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else {}
    return Options(
        months=sizes.get("months", args.months),
        rows_per_month=sizes.get("rows_per_month", args.rows_per_month),
        companies=sizes.get("companies", args.companies),
        codes=sizes.get("codes", args.codes),
        seed=args.seed,
        skip_training=args.skip_training,
        train_steps=args.train_steps,
        train_batch=args.train_batch,
        stage_timeout=args.stage_timeout,
        max_rss_gb=args.max_rss_gb,
        year_end_factor=args.year_end_factor,
        threads=args.threads,
        keep=args.keep,
    )


def code_description(env: dict[str, str]) -> str:
    """Which copy of the package the runs import (PYTHONPATH may point at a snapshot), its git HEAD and how many of
    its files differ from HEAD."""
    found = subprocess.run(
        [sys.executable, "-c", "import acctax_assets, os; print(os.path.dirname(acctax_assets.__file__))"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    package = Path(found.stdout.strip() or ".")
    head = subprocess.run(
        ["git", "-C", str(package), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return f"{package} (not a git checkout: a snapshot)"
    dirty = subprocess.run(
        ["git", "-C", str(package), "status", "--porcelain", "--", "."], capture_output=True, text=True, check=False
    )
    changed = len(dirty.stdout.splitlines())
    return f"{package} at {head.stdout.strip()}" + (f", {changed} file(s) changed or new since" if changed else "")


def run_benchmark(options: Options, root: Path | None = None, today: dt.date | None = None) -> Report:
    """Generate, run every stage, measure; `root` (or --keep, or a temporary folder) holds ACCTAX_HOME."""
    started = time.perf_counter()
    calendar = office_calendar(options.months, today)
    if root is None and options.keep is not None:
        root = options.keep
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        if (root / "home").exists():
            raise SystemExit(f"{root / 'home'} exists: give an empty folder")
        return _run(options, calendar, root.resolve(), started)
    scratch = Path(tempfile.mkdtemp(prefix="office_scale_"))
    try:
        return _run(options, calendar, scratch, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(options: Options, calendar: Calendar, root: Path, started: float) -> Report:
    office = Office(root, options, calendar)
    office.prepare()
    print(f"office_scale: ACCTAX_HOME {office.home}, logs {office.logs}", file=sys.stderr, flush=True)

    world = office_world(options.companies, options.codes, options.seed)
    landing = office.home / "landing"
    generated = [write_months(landing, calendar.coded, options, world)]
    generated.append(write_months(office.held_back, [calendar.incremental], options, world))
    if not options.skip_training:
        generated.append(write_months(landing, [calendar.uncoded], options, world, unlabelled=True))

    data_stage = Stage("ledger_data_job", JOB, DATA_JOB, (), DATA_ROWS)
    data_runs = [office.run(data_stage, month) for month in calendar.coded]
    ml_runs = [office.run(stage) for stage in ML_STAGES]
    training_runs = [] if options.skip_training else [office.run(stage) for stage in TRAINING_STAGES]

    with office.environment(), office.instance() as instance:
        mark = latest_storage_id(instance, office.per_month_assets)
    for path in office.held_back.iterdir():
        shutil.move(str(path), landing / path.name)
    incremental_runs = [office.run(stage) for stage in INCREMENTAL_STAGES]
    with office.environment(), office.instance() as instance:
        written = partitions_written_since(instance, office.per_month_assets, mark)
    year_end_run = None
    if options.year_end_factor:
        big = options.year_end_factor * options.rows_per_month
        generated.append(write_months(landing, [calendar.year_end], options, world, rows_per_month=big))
        year_end_run = office.run(YEAR_END_STAGE)

    with office.environment(), office.instance() as instance:
        month_run = incremental_runs[0].run_id
        by_run: dict[str, list[str]] = {}
        if month_run:
            entries = instance.all_logs(month_run, of_type=DagsterEventType.ASSET_MATERIALIZATION)
            for entry in entries:
                materialization = entry.asset_materialization
                by_run.setdefault(materialization.asset_key.to_user_string(), []).append(
                    materialization.partition or "(unpartitioned)"
                )
        months = sorted(instance.get_materialized_partitions(AssetKey("raw_ledger")))
        reads = time_reads(health_reads(instance, months, office.per_month_assets))
    sizes = instance_sizes(office.home / "dagster")
    return Report(
        options=options,
        calendar=calendar,
        root=str(root),
        per_month_assets=office.per_month_assets,
        assets_note=office.assets_note,
        code=code_description(office.env),
        generated=generated,
        data_runs=data_runs,
        ml_runs=ml_runs,
        training_runs=training_runs,
        incremental_runs=incremental_runs,
        year_end_run=year_end_run,
        written_since_incremental=written,
        incremental_run_partitions={k: sorted(v) for k, v in by_run.items()},
        instance_sizes=sizes,
        reads=reads,
        total_s=time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Measure, then print the report (stage progress goes to stderr)."""
    options = parse_options(argv)
    report = run_benchmark(options)
    print(render(report))


if __name__ == "__main__":
    main()
