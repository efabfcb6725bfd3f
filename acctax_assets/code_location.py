"""One code location, `acctax_assets`, for every process that creates runs, so that the UI lists them all.

The Dagster UI selects a job's runs by their remote origin: the Overview timeline drops a run without one, and
a job's Runs tab and the asset pages filter on the `.dagster/repository` tag (`__repository__@<location>`) that
Dagster derives from it. `dagster dev -m acctax_assets.definitions` would name the location after the module, so
`acctax ui` and `acctax backfill` load it through `workspace_file` under the name the checkout's workspace.yaml
and pyproject give it; the CLI's in-process runs (`execute_in_this_process`) carry the same origin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from acctax_assets.paths import AcctaxHome

if TYPE_CHECKING:
    from dagster import DagsterInstance, JobExecutionResult
    from dagster._core.remote_representation.code_location import CodeLocation

CODE_LOCATION = "acctax_assets"
DEFINITIONS_MODULE = "acctax_assets.definitions"
# The repository Dagster builds from a module-level `Definitions`.
REPOSITORY = "__repository__"
# The run config that keeps a job whose executor is `multi_or_in_process_executor` (training_job) in this process.
IN_PROCESS_EXECUTION = {"execution": {"config": {"in_process": {}}}}


def workspace_file(home: AcctaxHome) -> Path:
    """A workspace.yaml in the instance folder that loads the definitions module as CODE_LOCATION, from the current
    directory as `-m` would (rewritten each time: the command may run from another directory)."""
    path = home.dagster_home / "workspace.yaml"
    module = {"module_name": DEFINITIONS_MODULE, "location_name": CODE_LOCATION, "working_directory": os.getcwd()}
    path.write_text(yaml.safe_dump({"load_from": [{"python_module": module}]}, sort_keys=False), encoding="utf-8")
    return path


@lru_cache(maxsize=1)
def _in_process_location(instance: DagsterInstance) -> CodeLocation:
    """The code location loaded in this process under CODE_LOCATION (the module is imported once; building its
    snapshot is not cheap, so one per instance)."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=DEFINITIONS_MODULE), location_name=CODE_LOCATION
    )
    return origin.create_location(instance)


def execute_in_this_process(
    instance: DagsterInstance, job_name: str, run_config: Mapping[str, Any], partition_key: str | None = None
) -> JobExecutionResult:
    """Run `job_name` here, on the in-process executor, as a run the UI lists under its job.

    The run is created as `dagster job launch` creates it from the workspace (remote origin and code origin of the
    location's job, so Dagster itself writes the repository tag), then executed in this process the way a run
    worker executes a launched run. `execute_in_process` cannot do this: it creates its runs without any origin.
    A partitioned run gets the tags `execute_in_process` gives it; an unknown partition key raises
    DagsterUnknownPartitionError before any run exists, as it did there."""
    from dagster import DagsterUnknownPartitionError, multi_or_in_process_executor
    from dagster._core.execution.api import execute_run

    location = _in_process_location(instance)
    remote_job = location.get_repository(REPOSITORY).get_full_job(job_name)
    job = location.get_reconstructable_job(REPOSITORY, job_name)
    job_def = job.get_definition()
    tags = dict(job_def.run_tags)
    if partition_key is not None:
        if job_def.partitions_def is None or not job_def.partitions_def.has_partition_key(partition_key):
            raise DagsterUnknownPartitionError(f"Could not find a partition with key `{partition_key}`.")
        tags.update(job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=None))
    if job_def.executor_def is multi_or_in_process_executor:
        run_config = {**run_config, **IN_PROCESS_EXECUTION}
    run = instance.create_run_for_job(
        job_def,
        run_config=run_config,
        tags=tags,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
    )
    return execute_run(job, run, instance, raise_on_error=False)
