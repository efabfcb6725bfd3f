"""office_scale.py's report: what one run measured, printed as one markdown table per section, figures only."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psutil
from office_scale_generation import Generated
from office_scale_plan import ADAPTER, DATA_JOB, Calendar, Options
from office_scale_runs import GB, MB, StageRun

# The memory a month's data-layer run may use; the year-end month's growth says how large a month fits in it.
MEMORY_BUDGET_GB = 8.0


@dataclass
class Report:
    """Everything one run measured, kept apart from its rendering so tests can read the figures."""

    options: Options
    calendar: Calendar
    root: str
    per_month_assets: tuple[str, ...]
    assets_note: str
    code: str
    generated: list[Generated]
    data_runs: list[StageRun]  # one per coded month
    ml_runs: list[StageRun]
    training_runs: list[StageRun]
    incremental_runs: list[StageRun]
    year_end_run: StageRun | None
    written_since_incremental: dict[str, list[str]]
    incremental_run_partitions: dict[str, list[str]]
    instance_sizes: list[tuple[str, int, int]]
    reads: list[tuple[str, float, float, str]]
    total_s: float


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mb(value: float) -> str:
    return f"{value / MB:,.1f}"


def num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _steps_text(run: StageRun, top: int = 3) -> str:
    if not run.steps:
        return ""
    longest = sorted(run.steps.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{key} {seconds:.1f} s" for key, seconds in longest)


def stage_rows(runs: Sequence[StageRun], options: Options) -> list[list[str]]:
    rows = []
    for run in runs:
        name = run.stage
        if name == ADAPTER:
            name = f"{ADAPTER} (fixed {options.train_steps} steps × batch {options.train_batch} + final evaluation)"
        overhead = f"{run.wall_s - run.run_s:.1f}" if run.run_s is not None else ""
        rows.append(
            [
                name,
                run.status,
                num(run.wall_s, 1),
                num(run.rows) if run.ok else "",
                num(run.rows_per_s) if run.ok else "",
                mb(run.peak_rss),
                mb(run.storage_bytes),
                mb(run.home_bytes),
                ", ".join(f"{name} {delta / MB:+,.0f}" for name, delta in run.other_bytes.items()),
                overhead,
                _steps_text(run),
            ]
        )
    return rows


STAGE_HEADER = (
    "stage",
    "status",
    "wall s",
    "rows",
    "rows/s",
    "peak RSS MB",
    "storage added MB",
    "ACCTAX_HOME added MB",
    "other folders changed MB",
    "process overhead s",
    "longest steps (event log)",
)


def render(report: Report) -> str:
    o, c = report.options, report.calendar
    out: list[str] = []
    add = out.append
    add("## Setup\n")
    add(
        table(
            ("parameter", "value"),
            [
                ("coded months", f"{o.months} ({c.coded[0]} … {c.coded[-1]})"),
                ("month N+1 (held back, incremental)", c.incremental),
                ("uncoded month (predictions)", c.uncoded if not o.skip_training else "not run (--skip-training)"),
                ("rows per month", num(o.rows_per_month)),
                ("client companies / account codes", f"{o.companies} / {o.codes}"),
                ("per-month assets (ledger_data_job)", ", ".join(report.per_month_assets)),
                ("note", report.assets_note or "the script's table matches the code location"),
                ("code", report.code),
                ("CPU cores / memory", f"{os.cpu_count()} / {psutil.virtual_memory().total / GB:.0f} GB"),
                ("threads per run (OMP_NUM_THREADS)", str(o.threads) if o.threads else "unset: every core"),
                ("limits per run", f"{o.stage_timeout:.0f} s, {o.max_rss_gb:g} GB RSS"),
                ("root (home, logs)", report.root),
                ("total wall time", f"{report.total_s:,.0f} s"),
            ],
        )
    )
    add("\n## Generation (demo generator, widened; not a Dagster stage)\n")
    add(
        table(
            ("files", "months", "rows", "seconds", "rows/s", "MB on disk"),
            [
                (
                    g.folder,
                    f"{len(g.months)} ({g.months[0]}{' … ' + g.months[-1] if len(g.months) > 1 else ''})",
                    num(g.rows),
                    num(g.seconds, 1),
                    num(g.rows / g.seconds if g.seconds else 0),
                    mb(g.bytes),
                )
                for g in report.generated
            ],
        )
    )
    add(_data_layer(report))
    add("\n## ML stages (`dagster asset materialize --select <asset>`)\n")
    add(table(STAGE_HEADER, stage_rows(report.ml_runs, o)))
    if report.training_runs:
        add("\n## Training and predictions\n")
        add(table(STAGE_HEADER, stage_rows(report.training_runs, o)))
    add(_incremental(report))
    add(_year_end(report))
    add("\n## Instance health (SQLite instance in DAGSTER_HOME)\n")
    add(table(("what", "files", "MB"), [(n, num(f), mb(b)) for n, f, b in report.instance_sizes]))
    add("")
    add(
        table(
            ("read", "first s", "median of 3 s", "result size"),
            [(n, f"{first:.3f}", f"{median:.3f}", size) for n, first, median, size in report.reads],
        )
    )
    return "\n".join(out)


def _data_layer(report: Report) -> str:
    runs = report.data_runs
    ok = [r for r in runs if r.ok]
    out = [f"\n## Data layer (`dagster job execute -j {DATA_JOB}`, one run per month)\n"]
    failed = [f"{r.partition[:7]}: {r.status}" for r in runs if not r.ok]
    if failed:
        out.append(f"Months not ok: {', '.join(failed)}\n")
    if not ok:
        return "\n".join(out)

    def figures(pick: Callable[[StageRun], float], fmt: Callable[[float], str]) -> list[str]:
        values = [pick(r) for r in ok]
        return [
            fmt(sum(values)),
            fmt(statistics.median(values)),
            fmt(values[0]),
            fmt(values[-1]),
            fmt(min(values)),
            fmt(max(values)),
        ]

    total_rows, total_wall = sum(r.rows for r in ok), sum(r.wall_s for r in ok)
    rows = [
        ["wall s", *figures(lambda r: r.wall_s, lambda v: num(v, 1))],
        ["rows", *figures(lambda r: r.rows, num)],
        ["rows/s", num(total_rows / total_wall), *figures(lambda r: r.rows_per_s, num)[1:]],
        ["peak RSS MB", "", *figures(lambda r: r.peak_rss, mb)[1:]],
        ["storage added MB", *figures(lambda r: r.storage_bytes, mb)],
        ["ACCTAX_HOME added MB", *figures(lambda r: r.home_bytes, mb)],
        [
            "process overhead s (wall − run)",
            *figures(lambda r: r.wall_s - (r.run_s if r.run_s is not None else r.wall_s), lambda v: num(v, 1)),
        ],
    ]
    first, last = ok[0].partition[:7], ok[-1].partition[:7]
    header = ("per run", f"total ({len(ok)} months)", "per-month median", f"month 1 ({first})", f"last ({last})")
    out.append(table((*header, "min", "max"), rows))
    out.append("")
    out.append(
        table(
            ("asset folder", "total MB", "per-month median MB"),
            [
                (
                    asset,
                    mb(sum(r.folder_bytes.get(asset, 0) for r in ok)),
                    mb(statistics.median(r.folder_bytes.get(asset, 0) for r in ok)),
                )
                for asset in report.per_month_assets
            ],
        )
    )
    out.append("")
    step_keys = sorted({key for r in ok for key in r.steps}, key=lambda k: -sum(r.steps.get(k, 0) for r in ok))
    out.append(
        table(
            ("step (event log)", "total s", "per-month median s", "max s"),
            [
                (
                    key,
                    num(sum(r.steps.get(key, 0) for r in ok), 1),
                    num(statistics.median(r.steps.get(key, 0) for r in ok), 2),
                    num(max(r.steps.get(key, 0) for r in ok), 2),
                )
                for key in step_keys
            ],
        )
    )
    return "\n".join(out)


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}×" if old else ""


def _incremental(report: Report) -> str:
    inc = {r.stage: r for r in report.incremental_runs}
    ml = {r.stage: r for r in report.ml_runs}
    ok_months = [r for r in report.data_runs if r.ok]
    out = [f"\n## Incremental month N+1 ({report.calendar.incremental})\n"]
    rows = []
    month = inc.get("ledger_data_job (month N+1)")
    if month and ok_months:
        median = statistics.median(r.wall_s for r in ok_months)
        rows.append(
            (
                "data layer wall s (vs month 1)",
                num(ok_months[0].wall_s, 1),
                num(month.wall_s, 1),
                _ratio(month.wall_s, ok_months[0].wall_s),
            )
        )
        rows.append(
            (
                "data layer wall s (vs per-month median)",
                num(median, 1),
                num(month.wall_s, 1),
                _ratio(month.wall_s, median),
            )
        )
        rows.append(
            (
                "data layer peak RSS MB (vs month 1)",
                mb(ok_months[0].peak_rss),
                mb(month.peak_rss),
                _ratio(month.peak_rss, ok_months[0].peak_rss),
            )
        )
    for name in ("ledger_dataset", "tokenized_dataset"):
        first, again = ml.get(name), inc.get(f"{name} (with month N+1)")
        if first and again:
            for label, pick, fmt in (
                ("wall s", lambda r: r.wall_s, lambda v: num(v, 1)),
                ("rows", lambda r: r.rows, num),
                ("peak RSS MB", lambda r: r.peak_rss, mb),
            ):
                rows.append((f"{name} {label}", fmt(pick(first)), fmt(pick(again)), _ratio(pick(again), pick(first))))
    out.append(table(("measure", "first build / month 1", "with month N+1", "ratio"), rows))
    out.append("")
    out.append(
        table(
            ("per-month asset", "partitions materialized since month N+1 landed (all runs)", "by the month N+1 run"),
            [
                (
                    asset,
                    ", ".join(p[:7] for p in report.written_since_incremental.get(asset, [])) or "none",
                    ", ".join(p[:7] for p in report.incremental_run_partitions.get(asset, [])) or "none",
                )
                for asset in report.per_month_assets
            ],
        )
    )
    return "\n".join(out)


def _year_end(report: Report) -> str:
    """The big month against the per-month median: memory per extra row and the month size the budget holds."""
    run, ok_months = report.year_end_run, [r for r in report.data_runs if r.ok]
    if run is None:
        return "\n## Year-end month\n\nnot run (--year-end-factor 0)"
    out = [f"\n## Year-end month {report.calendar.year_end} ({report.options.year_end_factor}× the rows)\n"]
    if not run.ok or not ok_months:
        out.append(f"ledger_data_job: {run.status}")
        return "\n".join(out)
    median_rows = statistics.median(r.rows for r in ok_months)
    median_rss = statistics.median(r.peak_rss for r in ok_months)
    median_wall = statistics.median(r.wall_s for r in ok_months)
    rows = [
        ("rows", num(median_rows), num(run.rows), _ratio(run.rows, median_rows)),
        ("wall s", num(median_wall, 1), num(run.wall_s, 1), _ratio(run.wall_s, median_wall)),
        ("peak RSS MB", mb(median_rss), mb(run.peak_rss), _ratio(run.peak_rss, median_rss)),
        ("longest steps (event log)", "", _steps_text(run), ""),
    ]
    out.append(table(("ledger_data_job", "per-month median", "year-end month", "ratio"), rows))
    extra_rows = run.rows - median_rows
    if extra_rows > 0 and run.peak_rss > median_rss:
        per_row = (run.peak_rss - median_rss) / extra_rows
        fits = median_rows + (MEMORY_BUDGET_GB * GB - median_rss) / per_row
        out.append(
            f"\nPeak RSS grows by {per_row / 1024:.2f} KB per extra row: a month of about {fits:,.0f} rows fits "
            f"in {MEMORY_BUDGET_GB:g} GB."
        )
    return "\n".join(out)
