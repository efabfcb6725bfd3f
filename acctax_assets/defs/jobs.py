"""Jobs: the per-month data chain (sensor, CLI) and the training chain over all months.

The code location's default executor is in-process (definitions.py), measured rather than assumed: the
multiprocess executor's step processes each start Python, import Dagster and load the location for steps that take
milliseconds to seconds, so one month's `ledger_data_job` ran several times slower on it (benchmarks/README.md,
executors.py). Months run in parallel as separate runs (backfills, the sensor), not as steps of one
run. That default also serves *Materialize* in the UI. `training_job` uses the multiprocess executor, so the
baseline trains beside the adapter; the `training` pool keeps adapters to one at a time across runs. Its executor is
`multi_or_in_process_executor` (multiprocess unless the run config picks `in_process`) so that `acctax materialize`
can train in its own process in a run of the same job.
"""

from typing import Any

from dagster import AssetSelection, HookDefinition, define_asset_job, multi_or_in_process_executor


def _end_mlflow_run(context: Any, event_list: Any) -> Any:
    """dagster-mlflow's own hook, imported when a step ends rather than when the code location loads (MLflow's import
    would be paid by every code-location load; benchmarks/README.md, code_location.py)."""
    from dagster_mlflow import end_mlflow_on_run_finished as library_hook

    return library_hook.hook_fn(context, event_list)


end_mlflow_on_run_finished = HookDefinition(
    name="end_mlflow_on_run_finished", hook_fn=_end_mlflow_run, required_resource_keys={"mlflow"}
)

DATA_LAYER = AssetSelection.assets(
    "raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features", "model_text"
)
ML_LAYER = AssetSelection.assets(
    "ledger_dataset",
    "tokenized_dataset",
    "account_classifier",
    "baseline_classifier",
    "precedent_classifier",
    "ensemble_classifier",
    "served_classifier",
)
PREDICTIONS = AssetSelection.assets("ledger_predictions", "prediction_export")
FEEDBACK = AssetSelection.assets("proposal_feedback")

ledger_data_job = define_asset_job(
    "ledger_data_job",
    selection=DATA_LAYER,
    description="raw_ledger → cleaned_ledger (+ rejected_ledger_rows) → ledger_features → model_text for one month, with their checks.",
)

training_job = define_asset_job(
    "training_job",
    selection=ML_LAYER,
    executor_def=multi_or_in_process_executor,
    hooks={end_mlflow_on_run_finished},
    description=(
        "ledger_dataset → tokenized_dataset → account_classifier + baseline_classifier + precedent_classifier → ensemble_classifier → served_classifier "
        "(the champion, registered in MLflow) over every materialized month; one MLflow run."
    ),
)

prediction_job = define_asset_job(
    "prediction_job",
    selection=PREDICTIONS,
    description="ledger_predictions → prediction_export for one month with the model the MLflow alias `champion` points at.",
)

feedback_job = define_asset_job(
    "feedback_job",
    selection=FEEDBACK,
    description="proposal_feedback for one month: what the clerk changed of its proposals, logged to the served model's MLflow run.",
)
