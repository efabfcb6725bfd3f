"""The Dagster UI in a real browser, driven the way an office user drives it: the daemon's first sensor ticks launch
nothing for months already materialized outside it; find the CLI's runs on Overview's timeline and under their jobs;
look at the asset graph, materialize
one month of the data layer, read that month's row counts and check results, backfill a range of months, read
the adapter's F1, and terminate a running training; meanwhile an uncoded month dropped into landing gets its
proposals with no click (landing sensor, then prediction sensor) — then confirm through the instance that the UI really
materialized, and through the process table that no DeepSpeed rank outlived the terminated run.

The months' first materialization and a 12-step adapter are produced beforehand by the CLI's own `run_job`, in its
process (training through the UI takes minutes); everything after that happens in `acctax ui` (webserver + daemon)
and headless Chromium.
Screenshots and the UI's log land in test-artifacts/ui/ (or $ACCTAX_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.scheduler.instigation import InstigatorTick, InstigatorType, TickStatus
from playwright.sync_api import Locator, Page, expect

from acctax_assets import cli, demo
from acctax_assets.code_location import CODE_LOCATION
from acctax_assets.definitions import RETRAIN_AFTER_MONTHS_ENV
from acctax_assets.defs.ledger_checks import ledger_checks
from acctax_assets.defs.metadata_format import significant
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.training_runs import run_config as tiny_training_config
from acctax_assets_tests.support.ui_browser import (
    CHROMIUM,
    DagsterUI,
    acctax_ui,
    artifacts_dir,
    chromium,
    labelled,
    metadata_number,
    metadata_row,
    nav_link,
    open_page,
    screenshot,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.ui,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (Debian package `chromium`; CI installs it)"
    ),
]

MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01"]
ONE_MONTH = "2024-02-01"
DATA_LAYER = ["raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features", "model_text"]
RUN_TIMEOUT_S = 600
BACKFILL_TIMEOUT_S = 900
FINAL_RUN_STATUS = re.compile(r"^(Success|Failure|Canceled)$")
UNFINISHED_BACKFILL = ("", "Requested", "In progress", "Canceling")
UNCODED_MONTH = "2024-04-01"
AUTOMATION_TIMEOUT_S = 420
FIRST_TICKS_TIMEOUT_S = 150
TRAINER_START_TIMEOUT_S = 420
TRAINER_EXIT_TIMEOUT_S = 90
# Runs of each job that land_and_train executes through the CLI.
JOBS_RUN_BY_CLI = {"ledger_data_job": len(MONTHS), "training_job": 1}


def land_and_train(home: AcctaxHome) -> None:
    """Demo files for three months, their data layer and a tiny adapter, on the persistent instance the UI opens,
    run by `acctax materialize`'s own `run_job` (in its process, no sensor involved)."""
    demo.main(["--start", "2024-01", "--end", "2024-03", "--rows-per-month", "200", "--out", str(home.landing)])
    with DagsterInstance.get() as instance:
        for month in MONTHS:
            assert cli.run_job(instance, "ledger_data_job", month[:7], partition_key=month).success, (
                f"data layer for {month} failed in process"
            )
        training = cli.run_job(instance, "training_job", "training", run_config=tiny_training_config())
        assert training.success, "tiny training_job failed in process"


@pytest.fixture
def ui(home: AcctaxHome) -> Iterator[DagsterUI]:
    land_and_train(home)
    # Retrain after a single changed month: the UI run and the backfill below re-materialize unchanged months,
    # which must not count as changed.
    env = {**os.environ, RETRAIN_AFTER_MONTHS_ENV: "1"}
    with acctax_ui(env, artifacts_dir() / "dagster-dev.log") as running:
        yield running


def sensor_ticks(instance: DagsterInstance) -> dict[str, list[InstigatorTick]]:
    """Every finished tick the daemon recorded, per sensor name (a tick still being evaluated reads STARTED, and
    is neither a skip nor a launch yet)."""
    states = instance.schedule_storage.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    return {
        state.instigator_name: [
            tick
            for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id)
            if tick.status != TickStatus.STARTED
        ]
        for state in states
    }


def first_ticks_launch_nothing(ui: DagsterUI) -> None:
    """Two ticks of ledger_file_sensor and one of each other sensor, over months materialized outside the daemon:
    all skipped, no run launched."""
    wanted = {
        "ledger_file_sensor": 2,
        "ledger_prediction_sensor": 1,
        "proposal_feedback_sensor": 1,
        "retraining_sensor": 1,
    }
    deadline = time.monotonic() + FIRST_TICKS_TIMEOUT_S
    with DagsterInstance.get() as instance:
        runs_before = instance.get_runs_count()
        while time.monotonic() < deadline:
            ticks = sensor_ticks(instance)
            if all(len(ticks.get(name, [])) >= count for name, count in wanted.items()):
                break
            time.sleep(2)
        counts = {name: len(ticks.get(name, [])) for name in wanted}
        assert all(counts[name] >= count for name, count in wanted.items()), (
            f"sensor ticks {counts} after {FIRST_TICKS_TIMEOUT_S} s:\n{ui.log_tail()}"
        )
        launched = {
            name: [tick.status.value for tick in ticks[name] if tick.status != TickStatus.SKIPPED] for name in wanted
        }
        assert not any(launched.values()), f"sensor ticks that were not skipped: {launched}"
        assert instance.get_runs_count() == runs_before, (
            "the daemon launched runs for content that was already materialized"
        )


def cleaned_ledger_checks() -> list[str]:
    return sorted(
        spec.name
        for checks in ledger_checks
        for spec in checks.check_specs
        if spec.asset_key == AssetKey("cleaned_ledger")
    )


def visible_text(page: Page, text: str) -> Locator:
    """Dagster renders names twice (one hidden copy measures truncation); the visible one is what a user sees."""
    return page.get_by_text(text, exact=True).filter(visible=True).first


def find_the_cli_runs(page: Page, ui: DagsterUI) -> None:
    """The runs the CLI executed in its own process, where a Dagster user looks for runs: Overview's timeline has
    a row for each job, and each job's Runs tab lists them, as it lists runs launched in the UI."""
    with DagsterInstance.get() as instance:
        cli_runs = {job: [run.run_id for run in instance.get_runs(RunsFilter(job_name=job))] for job in JOBS_RUN_BY_CLI}
    assert {job: len(runs) for job, runs in cli_runs.items()} == JOBS_RUN_BY_CLI
    page.goto(f"{ui.url}/overview/activity/timeline")
    for job in cli_runs:
        row = page.get_by_role("link", name=labelled(job)).filter(visible=True).first
        expect(row, f"a timeline row for {job}, the CLI's runs").to_have_attribute(
            "href", re.compile(rf"/locations/{CODE_LOCATION}/jobs/{job}$")
        )
    expect(page.get_by_text("No runs or scheduled ticks in this time period.")).to_have_count(0)
    screenshot(page, "00a-overview-timeline-cli-runs")
    for job, run_ids in cli_runs.items():
        page.goto(f"{ui.url}/locations/{CODE_LOCATION}/jobs/{job}/runs")
        for run_id in run_ids:
            expect(visible_text(page, run_id[:8]), f"the CLI's run {run_id[:8]} on {job}'s Runs tab").to_be_visible()
        screenshot(page, f"00b-{job}-runs-from-the-cli")


def look_at_the_asset_graph(page: Page, ui: DagsterUI) -> None:
    nav_link(page, "Lineage").click()
    for group in ("ledger", "ml", "predictions"):
        expect(visible_text(page, group), f"asset group {group} on the global lineage").to_be_visible()
    expect(page.get_by_text("fetching statuses"), "asset statuses loaded on the global lineage").to_have_count(0)
    screenshot(page, "01-global-lineage")

    page.goto(f"{ui.url}/locations/{CODE_LOCATION}/asset-groups/ledger")
    for asset in DATA_LAYER:
        expect(visible_text(page, asset), f"{asset} in the ledger group's graph").to_be_visible()
    checks = len(cleaned_ledger_checks())
    expect(
        visible_text(page, f"{checks} / {checks} Passed"), "cleaned_ledger's checks passed on the months landed"
    ).to_be_visible()
    screenshot(page, "02-ledger-group-graph")


def launch_from_job_page(page: Page, selection: str, partitions: int, button: str, shot: str) -> str:
    """Jobs → ledger_data_job → Materialize all… → type the partitions → launch; returns the toast's View link."""
    nav_link(page, "Jobs").click()
    page.get_by_role("link", name=labelled("ledger_data_job")).click()
    expect(visible_text(page, "raw_ledger")).to_be_visible()
    page.get_by_role("button", name=labelled("Materialize all…")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"materialize {len(DATA_LAYER)} assets")
    # The dialog starts on the last 90 days; the demo months are older.
    dialog.get_by_role("button", name="Show all partitions").click()
    box = dialog.get_by_role("textbox")
    box.fill(selection)
    box.press("Enter")
    selected = dialog.get_by_text(re.compile(rf"^{partitions} partitions?$"))
    expect(selected, f"{selection} selects {partitions} partition(s) in the dialog").to_be_visible()
    launch = dialog.get_by_role("button", name=button, exact=True)
    expect(launch, f"the partition dialog should offer {button!r} for {selection}").to_be_enabled()
    screenshot(page, shot)
    launch.click()
    view = page.get_by_role("link", name="View", exact=True)
    expect(view, f"a toast with a View link after {button!r}").to_be_visible()
    return view.get_attribute("href") or ""


def wait_for_run(page: Page, ui: DagsterUI, run_path: str) -> str:
    """Open the run page and wait until its status tag shows a final state."""
    page.goto(f"{ui.url}{run_path}")
    status = page.get_by_text(FINAL_RUN_STATUS).first
    expect(status, f"run {run_path} reaches a final status within {RUN_TIMEOUT_S} s").to_be_visible(
        timeout=RUN_TIMEOUT_S * 1000
    )
    return status.inner_text()


def read_month_metadata_and_checks(page: Page, ui: DagsterUI, run_id: str) -> None:
    """cleaned_ledger → Partitions → the month: counts as stored by the UI's run; then the Checks tab."""
    with DagsterInstance.get() as instance:
        record = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("cleaned_ledger"), asset_partitions=[ONE_MONTH]), limit=1
        ).records[0]
    assert record.run_id == run_id, "the month's latest cleaned_ledger comes from the run launched in the UI"
    stored = record.asset_materialization.metadata
    page.goto(f"{ui.url}/assets/cleaned_ledger?view=partitions&partition={ONE_MONTH}")
    expect(visible_text(page, run_id[:8]), "the partition's latest materialization names the UI run").to_be_visible()
    shown = {key: metadata_number(page, key) for key in ("rows_in", "rows_out", "rows_rejected", "dagster/row_count")}
    for key, value in shown.items():
        assert value == stored[key].value, (
            f"cleaned_ledger {ONE_MONTH} should show {key}={stored[key].value}, shows {value}"
        )
    assert shown["rows_in"] == shown["rows_out"] + shown["rows_rejected"], shown
    screenshot(page, "04-cleaned-ledger-month-metadata")

    page.get_by_role("tab", name="Checks").click()
    checks = cleaned_ledger_checks()
    for check in checks:
        expect(visible_text(page, check), f"check {check} listed on the Checks tab").to_be_visible()
    expect(
        page.get_by_text("Succeeded", exact=True), f"all {len(checks)} checks of cleaned_ledger succeeded"
    ).to_have_count(len(checks))
    expect(visible_text(page, "Passed"), "the selected check's latest evaluation passed").to_be_visible()
    expect(visible_text(page, ONE_MONTH), "the latest check evaluation is for the month run in the UI").to_be_visible()
    screenshot(page, "05-cleaned-ledger-checks")


def read_adapter_f1(page: Page, ui: DagsterUI) -> None:
    with DagsterInstance.get() as instance:
        stored = (
            instance.fetch_materializations(AssetKey("account_classifier"), limit=1)
            .records[0]
            .asset_materialization.metadata
        )
    page.goto(f"{ui.url}/assets/account_classifier")
    for key in ("test_f1_macro", "test_f1_weighted", "test_accuracy"):
        shown = metadata_number(page, key)
        assert shown == pytest.approx(stored[key].value), (
            f"account_classifier should show {key}={stored[key].value}, shows {shown}"
        )
    screenshot(page, "07-account-classifier-f1")


def read_served_classifier(page: Page, ui: DagsterUI) -> None:
    """served_classifier names the champion and shows, on the asset page itself (no modal), the comparison as a
    table, its plots as images a screen holds and its figures rounded; nothing reads `nan` or `{}`."""
    with DagsterInstance.get() as instance:
        stored = (
            instance.fetch_materializations(AssetKey("served_classifier"), limit=1)
            .records[0]
            .asset_materialization.metadata
        )
    page.goto(f"{ui.url}/assets/served_classifier")
    champion = stored["champion"].value
    expect(metadata_row(page, "champion").get_by_text(champion), "the champion is named").to_be_visible()
    comparison = metadata_row(page, "comparison").locator("table")
    expect(comparison, "the comparison is a table on the page").to_be_visible()
    expect(comparison.get_by_text(champion, exact=True), "the comparison lists the champion").to_be_visible()
    viewport = page.viewport_size or {"height": 900}
    for key in ("confusion_matrix_test", "reliability_test", "review_tradeoff_plot"):
        row = metadata_row(page, key)
        expect(row.get_by_text("[Show Markdown]"), f"{key} needs no click").to_have_count(0)
        image = row.locator('img[src*="/logs/acctax_figures/"]')
        expect(image, f"{key} renders as an inline image").to_be_visible()
        width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert width > 200 and 200 < height <= viewport["height"], f"{key} is readable and a screen holds it"
        image.scroll_into_view_if_needed()
        screenshot(page, f"07b-served-classifier-{key}")
    shown = metadata_number(page, "valid_f1_macro")
    assert shown == significant(shown), f"valid_f1_macro is rounded to 4 significant digits, shows {shown}"
    text = page.locator("table").first.inner_text()
    assert not re.search(r"\bnan\b", text, re.IGNORECASE) and "{}" not in text, "no nan or {} on the page"


def backfill_status(page: Page) -> str:
    """The value under the "Status" label of a backfill's overview."""
    return page.get_by_text("Status", exact=True).locator("xpath=..").inner_text().replace("Status", "", 1).strip()


def wait_for_backfill(page: Page, ui: DagsterUI, backfill_path: str) -> str:
    """The backfill page refreshes itself; wait until its Status is final."""
    page.goto(f"{ui.url}{backfill_path}")
    expect(page.get_by_text("Status", exact=True)).to_be_visible()
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while backfill_status(page) in UNFINISHED_BACKFILL and time.monotonic() < deadline:
        page.wait_for_timeout(2000)
    status = backfill_status(page)
    assert status not in UNFINISHED_BACKFILL, (
        f"backfill {backfill_path} still {status!r} after {BACKFILL_TIMEOUT_S} s:\n{ui.log_tail()}"
    )
    return status


def materialized_by(instance: DagsterInstance, run_id: str, month: str) -> list[str]:
    """The data-layer assets whose materialization of `month` came from run `run_id`."""
    return [
        asset
        for asset in DATA_LAYER
        if run_id
        in {
            r.run_id
            for r in instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[month]), limit=10
            ).records
        }
    ]


def land_uncoded_month(home: AcctaxHome, scratch: Path) -> None:
    """A month without account codes dropped into landing while the UI runs (generated aside, then copied, so
    the coded months' files keep their mtimes)."""
    demo.main(
        [
            "--start",
            "2024-01",
            "--end",
            "2024-03",
            "--unlabelled-months",
            "1",
            "--rows-per-month",
            "200",
            "--out",
            str(scratch),
        ]
    )
    (uncoded,) = [path for path in scratch.iterdir() if "2024-04" in path.name]
    shutil.copy2(uncoded, home.landing / uncoded.name)
    os.utime(home.landing / uncoded.name)


def wait_for_automatic_proposals(home: AcctaxHome, ui: DagsterUI) -> None:
    """No click: ledger_file_sensor runs the month's data layer, then ledger_prediction_sensor its proposals."""
    deadline = time.monotonic() + AUTOMATION_TIMEOUT_S
    export = home.exports / f"account_proposals_{UNCODED_MONTH[:7]}.csv"
    with DagsterInstance.get() as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs(RunsFilter(job_name="prediction_job", tags={"dagster/partition": UNCODED_MONTH}))
            if runs and runs[0].status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
                break
            time.sleep(3)
        assert runs, f"no prediction_job run for {UNCODED_MONTH} within {AUTOMATION_TIMEOUT_S} s:\n{ui.log_tail()}"
        assert runs[0].status == DagsterRunStatus.SUCCESS, (
            f"the automatic prediction run ended {runs[0].status}:\n{ui.log_tail()}"
        )
        assert runs[0].tags.get("dagster/sensor_name") == "ledger_prediction_sensor"
        data_runs = instance.get_runs(RunsFilter(job_name="ledger_data_job", tags={"dagster/partition": UNCODED_MONTH}))
        assert [r.tags.get("dagster/sensor_name") for r in data_runs] == ["ledger_file_sensor"], (
            "the data layer ran once, by the landing sensor"
        )
        by_sensors = [
            (r.job_name, r.tags.get("dagster/partition"))
            for r in instance.get_runs()
            if r.tags.get("dagster/sensor_name")
        ]
        assert sorted(by_sensors) == [("ledger_data_job", UNCODED_MONTH), ("prediction_job", UNCODED_MONTH)], (
            "the sensors ran exactly the new month's chain and its predictions: no other month, no retraining"
        )
    proposals = pd.read_csv(export, encoding="utf-8-sig")
    proposed = proposals[~proposals["검토사유"].fillna("").str.startswith("rejected")]
    assert len(proposals) == 200, "the export holds every raw line of the month"
    assert len(proposed) and proposed["계정과목코드"].notna().all(), "every cleaned line got a proposed code"


def trainer_processes(home: AcctaxHome) -> list[psutil.Process]:
    """The supervisor, launcher and ranks of a training in `home` (their command lines name its work folder)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if str(home.root) in command and (
            "acctax_assets.ml.training" in command or "acctax_assets.ml.training.supervise" in command
        ):
            found.append(process)
    return found


def terminate_training_from_the_ui(page: Page, ui: DagsterUI, home: AcctaxHome) -> None:
    """Jobs → training_job → Materialize all; once the DeepSpeed ranks run, Terminate on the run page: the run
    ends Canceled and no rank, launcher or supervisor outlives it."""
    nav_link(page, "Jobs").click()
    page.get_by_role("link", name=labelled("training_job")).click()
    materialize = page.get_by_role("button", name=re.compile(r"(^|\s)Materialize all…?$"))
    expect(materialize, "training_job's page offers Materialize all").to_be_enabled()
    materialize.click()
    view = page.get_by_role("link", name="View", exact=True)
    expect(view, "a toast with a View link after launching training_job").to_be_visible()
    run_path = view.get_attribute("href") or ""
    deadline = time.monotonic() + TRAINER_START_TIMEOUT_S
    while (
        not any("acctax_assets.ml.training" in " ".join(p.cmdline()) for p in trainer_processes(home))
        and time.monotonic() < deadline
    ):
        time.sleep(2)
    assert trainer_processes(home), f"no DeepSpeed rank started within {TRAINER_START_TIMEOUT_S} s:\n{ui.log_tail()}"

    page.goto(f"{ui.url}{run_path}")
    page.get_by_role("button", name=labelled("Terminate")).click()
    dialog = page.get_by_role("dialog")
    screenshot(page, "10-terminate-training")
    dialog.get_by_role("button", name=re.compile(r"^Terminate \d+ runs?$")).click()
    expect(page.get_by_text("Canceled", exact=True).first, "the terminated training run ends Canceled").to_be_visible(
        timeout=RUN_TIMEOUT_S * 1000
    )
    screenshot(page, "11-training-canceled")
    deadline = time.monotonic() + TRAINER_EXIT_TIMEOUT_S
    while trainer_processes(home) and time.monotonic() < deadline:
        time.sleep(1)
    left = [" ".join(p.cmdline())[:160] for p in trainer_processes(home)]
    assert not left, f"training processes outlived the terminated run: {left}"


def test_office_user_materializes_and_backfills_months_in_the_ui(
    ui: DagsterUI, home: AcctaxHome, tmp_path: Path
) -> None:
    first_ticks_launch_nothing(ui)
    with chromium() as browser:
        page = open_page(browser)
        page.goto(ui.url)
        find_the_cli_runs(page, ui)
        look_at_the_asset_graph(page, ui)
        expect(
            page.get_by_text("Join the Dagster community"), "a first visit shows no community/newsletter dialog"
        ).to_have_count(0)

        run_path = launch_from_job_page(page, ONE_MONTH, 1, "Launch 1 run", "03a-launch-one-month")
        assert run_path.startswith("/runs/"), f"the toast should link a run page, links {run_path!r}"
        run_id = run_path.rsplit("/", 1)[-1]
        status = wait_for_run(page, ui, run_path)
        expect(page.get_by_text(f"partition: {ONE_MONTH}"), "the run page names the month").to_be_visible()
        screenshot(page, "03b-run-of-one-month")
        assert status == "Success", f"the UI run of {ONE_MONTH} ended {status}:\n{ui.log_tail()}"

        read_month_metadata_and_checks(page, ui, run_id)
        # Landed only now: the sensors' run of this month would otherwise be cleaned_ledger's latest check evaluation.
        land_uncoded_month(home, tmp_path / "uncoded")

        backfill_path = launch_from_job_page(
            page, f"[{MONTHS[0]}...{MONTHS[-1]}]", len(MONTHS), "Launch backfill", "06-launch-backfill"
        )
        assert backfill_path.startswith("/runs/b/"), f"the toast should link a backfill page, links {backfill_path!r}"
        backfill_id = backfill_path.rsplit("/", 1)[-1]
        # While the daemon works through the months: the adapter's figures, and the backfill in Runs → Backfills.
        read_adapter_f1(page, ui)
        read_served_classifier(page, ui)
        nav_link(page, "Runs").click()
        page.get_by_role("tab", name="Backfills").click()
        expect(visible_text(page, backfill_id), "the new backfill listed under Runs → Backfills").to_be_visible()
        screenshot(page, "08-backfills")

        status = wait_for_backfill(page, ui, backfill_path)
        expect(page.get_by_text("100% completed"), "every partition of the backfill done").to_be_visible()
        screenshot(page, "09-backfill-done")
        assert status == "Succeeded", f"backfill {backfill_id} ended {status!r}:\n{ui.log_tail()}"

        wait_for_automatic_proposals(home, ui)
        terminate_training_from_the_ui(page, ui, home)

    with DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
        assert materialized_by(instance, run_id, ONE_MONTH) == DATA_LAYER, (
            "the UI run materialized the month's whole data layer"
        )
        runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert sorted(r.tags["dagster/partition"] for r in runs) == MONTHS, "one backfill run per month of the range"
        for run in runs:
            month = run.tags["dagster/partition"]
            assert run.status == DagsterRunStatus.SUCCESS, f"backfill run for {month}: {run.status}"
            assert materialized_by(instance, run.run_id, month) == DATA_LAYER, (
                f"the backfill run for {month} materialized the data layer"
            )
