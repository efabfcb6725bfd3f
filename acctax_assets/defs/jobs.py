"""Jobs: the per-month data chain (sensor, CLI) and the training chain over all months.

The code location's default executor is in-process (definitions.py): data steps take milliseconds to seconds,
while a step process of the multiprocess executor spends several seconds importing the code location; that
default also serves *Materialize* in the UI. `training_job` uses the multiprocess executor, so the baseline
trains beside the adapter; the `training` pool keeps adapters to one at a time across runs.
"""

from typing import Any

from dagster import AssetSelection, HookDefinition, define_asset_job, multiprocess_executor


def _end_mlflow_run(context: Any, event_list: Any) -> Any:
    """dagster-mlflow's own hook, imported when a step ends rather than when the code location loads (MLflow costs
    ~0.7 s of import)."""
    from dagster_mlflow import end_mlflow_on_run_finished as library_hook

    return library_hook.hook_fn(context, event_list)


end_mlflow_on_run_finished = HookDefinition(
    name="end_mlflow_on_run_finished", hook_fn=_end_mlflow_run, required_resource_keys={"mlflow"}
)

DATA_LAYER = AssetSelection.assets("raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features")
ML_LAYER = AssetSelection.assets(
    "ledger_dataset",
    "tokenized_dataset",
    "account_classifier",
    "baseline_classifier",
    "ensemble_classifier",
    "served_classifier",
)
PREDICTIONS = AssetSelection.assets("ledger_predictions", "prediction_export")

ledger_data_job = define_asset_job(
    "ledger_data_job",
    selection=DATA_LAYER,
    description="raw_ledger → cleaned_ledger (+ rejected_ledger_rows) → ledger_features for one month, with their checks.",
)

training_job = define_asset_job(
    "training_job",
    selection=ML_LAYER,
    executor_def=multiprocess_executor,
    hooks={end_mlflow_on_run_finished},
    description=(
        "ledger_dataset → tokenized_dataset → account_classifier + baseline_classifier → ensemble_classifier → served_classifier "
        "(the champion, registered in MLflow) over every materialized month; one MLflow run."
    ),
)

prediction_job = define_asset_job(
    "prediction_job",
    selection=PREDICTIONS,
    description="ledger_predictions → prediction_export for one month with the model the MLflow alias `champion` points at.",
)
