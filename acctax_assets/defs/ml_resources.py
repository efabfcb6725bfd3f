"""Resources of the ML layer: model settings, dagster-mlflow's MlFlow bound to ACCTAX_HOME's SQLite store, and
the MLflow Model Registry that records which candidate serves."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from dagster import ConfigurableResource, InitResourceContext, Noneable, StringSource, resource
from dagster import Field as DagsterField
from pydantic import Field

from acctax_assets.ml.data.base_model import default_base_model
from acctax_assets.ml.data.label_slots import DEFAULT_MAX_CLASSES
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES
from acctax_assets.ml.evaluation.confidence import DEFAULT_MAX_SHARE, DEFAULT_TARGET_ACCURACY, ReviewPolicy
from acctax_assets.ml.serving.model_registry import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    REGISTERED_MODEL,
    ModelRegistry,
    mlflow_ui_url,
)
from acctax_assets.paths import AcctaxHome

EXPERIMENT = "acctax_account_classifier"


class ModelSettings(ConfigurableResource):
    """Shared by tokenizer and trainer so both always use the same base model."""

    text_features: list[str] = Field(
        default=list(DEFAULT_TEXT_FEATURES),
        min_length=1,
        description=(
            "Columns serialized into the model text, in order (free text goes last); model_text serializes each month "
            "with them, so a change needs model_text re-materialized for every month"
        ),
    )
    base_model: str | None = Field(default=None, description="Local checkpoint dir; default: bundled all-MiniLM-L6-v2")
    max_classes: int = Field(
        default=DEFAULT_MAX_CLASSES, ge=2, le=100_000, description="Classifier head size (spare slots included)"
    )
    min_f1_macro: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Quality gate of every candidate: test macro F1 floor"
    )
    max_f1_drop: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Quality gate: allowed drop of test macro F1 vs the serving champion"
    )
    selection_metric: Literal["accuracy", "f1_macro"] = Field(
        default="accuracy",
        description=(
            "What chooses on the valid split (the months before the test months): the champion among candidates, the "
            "baseline's settings, the ensemble's weights. accuracy: the share of lines a clerk need not correct; "
            "f1_macro weighs every account code alike (rare codes count as much as rent)"
        ),
    )
    unreviewed_labels: Literal["keep", "drop"] = Field(
        default="keep",
        description=(
            "Lines of a reviewed export the clerk did not review (label_source unreviewed: the model's own proposal, "
            "auto-accepted): keep them as training rows, or drop them so the model never learns its own unchecked "
            "proposals. keep: over a simulated demo year (benchmarks/office_year.py) drop's weaker models sent most months "
            "wholly to review (README: the clerk's loop)"
        ),
    )
    review_target_accuracy: float = Field(
        default=DEFAULT_TARGET_ACCURACY,
        gt=0.0,
        le=1.0,
        description="Review queue: rows accepted without review must be right this often (on the champion's valid rows, calibrated confidences); the rest go to review",
    )
    review_max_share: float = Field(
        default=DEFAULT_MAX_SHARE,
        ge=0.0,
        le=1.0,
        description="Review queue: the largest share of rows the office finds useful to review. When the target accuracy needs more, the threshold stays the target's but served_classifier and ledger_predictions warn, with what this share would give; see the review trade-off in served_classifier's metadata",
    )
    review_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Review queue: if set, review exactly this share of the least confident rows (threshold: the valid quantile), overriding review_target_accuracy",
    )
    review_min_auto_rows: int = Field(
        default=20, ge=1, le=1_000_000, description="Valid rows that must back the chosen review threshold"
    )
    retrain_after_months: int = Field(
        default=3,
        ge=1,
        le=120,
        description="retraining_sensor: new labelled months (blocking checks passed) that trigger training_job",
    )

    @property
    def base_model_path(self) -> str:
        return self.base_model or default_base_model()

    def review_policy(self) -> ReviewPolicy:
        """The review queue's operating point, as the scorecards, the served model and predictions apply it."""
        return ReviewPolicy(
            target_accuracy=self.review_target_accuracy,
            min_auto_rows=self.review_min_auto_rows,
            max_share=self.review_max_share,
            share=self.review_share,
        )


def tracking_uri(home: AcctaxHome) -> str:
    return f"sqlite:///{home.mlflow / 'mlflow.db'}"


def ensure_experiment(uri: str, name: str, artifact_root: Path) -> str:
    """Create the experiment with its artifacts inside ACCTAX_HOME (MLflow would default to ./mlruns), marked as
    model training so the MLflow UI opens it on its runs rather than the GenAI view (traces, tokens, cost)."""
    import mlflow  # here, not at module level: loading the code location must not pay for MLflow's import

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        experiment_id = client.create_experiment(
            name, artifact_location=artifact_root.resolve().as_uri(), tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING}
        )
    else:
        experiment_id = experiment.experiment_id
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING:
            client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
    return experiment_id


def dagster_run_in_mlflow(mlflow: Any, dagster_run_id: str) -> Any:
    """The MLflow run of this Dagster run, active. dagster-mlflow opens it when the resource starts, but in one
    process (execute_in_process, the in-process executor) an earlier step may already have ended it: reopen it by
    its `dagster_run_id` tag, so every step of a training run logs into the same MLflow run."""
    active = mlflow.active_run()
    if active is not None:
        return active
    found = mlflow.search_runs(
        filter_string=f"tags.dagster_run_id = '{dagster_run_id}'", search_all_experiments=True, output_format="list"
    )
    if found:
        return mlflow.start_run(run_id=found[0].info.run_id)
    return mlflow.start_run(tags={"dagster_run_id": dagster_run_id})


@resource(
    config_schema={
        "experiment_name": DagsterField(str, default_value=EXPERIMENT, description="MLflow experiment"),
        "mlflow_tracking_uri": DagsterField(
            Noneable(StringSource),
            default_value=None,
            description="Default: sqlite in $ACCTAX_HOME/mlflow. A URI with credentials goes in as {env: VAR}, so the stored run config holds only the variable's name",
        ),
        "ui_url": DagsterField(
            Noneable(StringSource),
            default_value=None,
            description="MLflow UI that run links in metadata point at. Default: the tracking server (http/https), else `mlflow ui`'s http://127.0.0.1:5000",
        ),
    },
    description="dagster-mlflow's MlFlow: one MLflow run per Dagster run, tracked in $ACCTAX_HOME/mlflow.",
)
def mlflow_tracking(context: InitResourceContext) -> Any:
    from dagster_mlflow.resources import MlFlow

    home = AcctaxHome.from_env().ensure()
    uri = context.resource_config["mlflow_tracking_uri"] or tracking_uri(home)
    name = context.resource_config["experiment_name"]
    ensure_experiment(uri, name, home.mlflow / "artifacts")
    config = {
        "experiment_name": name,
        "mlflow_tracking_uri": uri,
        "parent_run_id": None,
        "mlflow_run_id": None,
        "env": {},
        "env_to_tag": None,
        "extra_tags": {},
    }
    shim = SimpleNamespace(log=context.log, dagster_run=context.run, run_id=context.run.run_id, resource_config=config)
    tracking = MlFlow(shim)
    # Read by the assets that link their MLflow run (account_classifier).
    tracking.ui_url = mlflow_ui_url(uri, context.resource_config["ui_url"])
    return tracking


class ModelRegistryResource(ConfigurableResource):
    """The MLflow Model Registry holding every candidate and the `champion`/`challenger` aliases."""

    tracking_uri: str | None = Field(
        default=None,
        description="Default: sqlite in $ACCTAX_HOME/mlflow (the mlflow resource's store). A URI with credentials goes in as {env: VAR}",
    )
    model_name: str = Field(default=REGISTERED_MODEL, min_length=1, description="Registered model of the candidates")

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.tracking_uri or tracking_uri(AcctaxHome.from_env().ensure()), self.model_name)
