"""The CLI's runs, seen through the webserver's own GraphQL API on the workspace `acctax ui` loads: each one names
the `acctax_assets` location (the Overview timeline drops runs without that origin) and is listed under its job
(the job's Runs tab filters on the repository tag)."""

from pathlib import Path

import yaml
from dagster import DagsterInstance, RunsFilter
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from acctax_assets import cli, demo
from acctax_assets.code_location import CODE_LOCATION, REPOSITORY, workspace_file
from acctax_assets.paths import AcctaxHome

RUN_QUERY = """query ($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run {
  pipelineName repositoryOrigin { repositoryName repositoryLocationName } } } }"""
JOB_RUNS_QUERY = """query ($selector: PipelineSelector!) { pipelineOrError(params: $selector) { __typename
  ... on Pipeline { runs { runId } } } }"""
REPO_WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"


def test_the_checkout_workspace_names_the_same_location() -> None:
    """`dagster dev` in the checkout and `acctax ui` show the same location, so each lists the other's runs."""
    (entry,) = yaml.safe_load(REPO_WORKSPACE.read_text(encoding="utf-8"))["load_from"]
    assert entry["python_module"]["location_name"] == CODE_LOCATION


def test_cli_runs_are_listed_under_their_job_as_in_the_ui(home: AcctaxHome) -> None:
    demo.main(["--start", "2024-05", "--end", "2024-06", "--rows-per-month", "60", "--out", str(home.landing)])
    assert cli.main(["materialize", "--no-train"]) == 0
    with (
        DagsterInstance.get() as instance,
        define_out_of_process_context(str(workspace_file(home)), None, instance) as context,
    ):
        runs = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == ["2024-05-01", "2024-06-01"]
        remote_job = context.get_code_location(CODE_LOCATION).get_repository(REPOSITORY).get_full_job("ledger_data_job")
        label = remote_job.get_remote_origin().repository_origin.get_label()
        assert label == f"{REPOSITORY}@{CODE_LOCATION}"
        tagged = instance.get_runs(RunsFilter(job_name="ledger_data_job", tags={REPOSITORY_LABEL_TAG: label}))
        assert {run.run_id for run in tagged} == {run.run_id for run in runs}, "the repository tag Dagster stores"
        for run in runs:
            shown = execute_dagster_graphql(context, RUN_QUERY, {"runId": run.run_id}).data["runOrError"]
            assert shown["pipelineName"] == "ledger_data_job"
            assert shown["repositoryOrigin"] == {"repositoryName": REPOSITORY, "repositoryLocationName": CODE_LOCATION}
        selector = {
            "pipelineName": "ledger_data_job",
            "repositoryName": REPOSITORY,
            "repositoryLocationName": CODE_LOCATION,
        }
        job = execute_dagster_graphql(context, JOB_RUNS_QUERY, {"selector": selector}).data["pipelineOrError"]
    assert job["__typename"] == "Pipeline"
    assert sorted(r["runId"] for r in job["runs"]) == sorted(run.run_id for run in runs)
