"""benchmarks/office_scale.py at a tiny size: every stage runs through the real Dagster CLI and reports rows, and the
month landed last is the only partition any per-month asset materializes afterwards (read back from the instance's
materialization records); a year-end month with several times the rows runs through the data layer last. No timing
is asserted: the benchmark measures, it does not judge."""

import importlib
from pathlib import Path

import pandas as pd
import pytest

from acctax_assets.demo.generator import generate_month
from acctax_assets.demo.tables import CODES
from acctax_assets.ledger.schema import KOREAN_HEADERS
from acctax_assets_tests.support.benchmark_scripts import load_benchmark


def test_widened_month_has_the_office_cardinality_and_keeps_duplicates_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    generation = load_benchmark(monkeypatch, "office_scale_generation")
    world = generation.office_world(companies=60, codes=200, seed=7)
    demo = generate_month("2024-03", 6000, 7).frame
    widened = generation.widen(demo, world, "2024-03", 7)
    code, name, company = KOREAN_HEADERS["acct_code"], KOREAN_HEADERS["acct_name"], KOREAN_HEADERS["company_name"]
    key = [KOREAN_HEADERS["voucher_key"], KOREAN_HEADERS["journal_key_count"]]

    assert len(widened) == len(demo)
    assert widened[company].nunique() > demo[company].nunique()
    assert widened[code].nunique() > demo[code].nunique()
    assert set(widened[company]) <= set(world.company_name)
    coded = widened[widened[code].str.fullmatch(r"\d{5}")]  # the demo's invalid labels are never 5 digits
    assert set(coded[code]) <= {c for subcodes in world.subcodes.values() for c in subcodes}
    assert {c[:4] for c in coded[code]} <= {c[:4] for c in CODES}
    assert coded.groupby(code)[name].nunique().max() == 1  # the account name follows the code
    # One company per voucher, and the demo's duplicate lines still identical (dedupe on the voucher key holds).
    assert widened.groupby(KOREAN_HEADERS["voucher_key"])[company].nunique().max() == 1
    repeated = widened[widened.duplicated(key, keep=False)]
    assert len(repeated) and (repeated.groupby(key).nunique(dropna=False) == 1).all().all()
    pd.testing.assert_frame_equal(widened, generation.widen(demo, world, "2024-03", 7))


@pytest.mark.slow
def test_every_stage_runs_and_the_new_month_touches_only_its_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    office_scale = load_benchmark(monkeypatch, "office_scale")
    plan = importlib.import_module("office_scale_plan")  # the stage tables office_scale.py runs
    options = office_scale.Options(
        months=3,  # ledger_dataset's time split needs a train, a valid and a test month
        rows_per_month=600,
        companies=24,
        codes=60,
        skip_training=True,
        stage_timeout=600,
        max_rss_gb=8,
        year_end_factor=3,
    )
    report = office_scale.run_benchmark(options, root=tmp_path / "office")

    runs = [*report.data_runs, *report.ml_runs, *report.incremental_runs, report.year_end_run]
    assert len(report.data_runs) == 3
    assert [r.stage for r in report.ml_runs] == [stage.name for stage in plan.ML_STAGES]
    assert [r.stage for r in report.incremental_runs] == [stage.name for stage in plan.INCREMENTAL_STAGES]
    for run in runs:
        assert run.status == "ok", (run.stage, run.partition, Path(run.log).read_text()[-3000:])
        assert run.rows > 0, run.stage
        assert run.run_id and run.steps, run.stage
        assert run.peak_rss > 0 and run.wall_s > 0, run.stage
    assert set(plan.PER_MONTH_ASSETS) <= set(report.per_month_assets)
    first_dataset, dataset_with_new_month = report.ml_runs[0], report.incremental_runs[1]
    assert dataset_with_new_month.rows > first_dataset.rows
    assert report.year_end_run.partition == plan.Calendar.partition(report.calendar.year_end)
    assert report.year_end_run.rows > 2 * max(run.rows for run in report.data_runs)

    new_month = plan.Calendar.partition(report.calendar.incremental)
    for asset in report.per_month_assets:
        assert report.written_since_incremental[asset] == [new_month], asset
        assert report.incremental_run_partitions[asset] == [new_month], asset

    text = office_scale.render(report)
    for section in (
        "## Generation",
        "## Data layer",
        "## ML stages",
        "## Incremental",
        "## Year-end month",
        "## Instance health",
    ):
        assert section in text
    assert "error:" not in text  # every instance read ran
