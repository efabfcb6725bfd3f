"""Jobs: the per-month data chain (sensor, CLI) and the training chain over all months.

The code location's default executor is in-process (definitions.py), measured rather than assumed: with the code
location torch-free (1.2 s to import and load), one month of `ledger_data_job` (2,000 demo rows, `dagster job
execute`, 2 cores) takes 4.8 s in-process and 26.7 s on the multiprocess executor (5.6x), whose step processes each
start Python, import Dagster and load the location for steps that take milliseconds to seconds
(benchmarks/executors.py). Months run in parallel as separate runs (backfills, the sensor), not as steps of one
run. That default also serves *Materialize* in the UI. `training_job` uses the multiprocess executor, so the
baseline trains beside the adapter; the `training` pool keeps adapters to one at a time across runs. Its executor is
`multi_or_in_process_executor` (multiprocess unless the run config picks `in_process`) so that `acctax materialize`
can keep training in its own process, as before, in a run of the same job.
"""

from typing import Any

from dagster import AssetSelection, HookDefinition, define_asset_job, multi_or_in_process_executor


def _end_mlflow_run(context: Any, event_list: Any) -> Any:
    """dagster-mlflow's own hook, imported when a step ends rather than when the code location loads (MLflow costs
    ~0.7 s of import)."""
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
