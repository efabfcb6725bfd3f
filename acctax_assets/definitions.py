"""The one place the code location is assembled (`dagster dev` and `dagster asset materialize` load it)."""

from __future__ import annotations

import os

from dagster import Definitions, PipesSubprocessClient, in_process_executor

from acctax_assets.defs.account_classifier import account_classifier
from acctax_assets.defs.artifact_io_managers import (
    AdapterIOManager,
    BaselineIOManager,
    DatasetIOManager,
    EnsembleIOManager,
    PrecedentIOManager,
)
from acctax_assets.defs.baseline_classifier import baseline_classifier
from acctax_assets.defs.classifier_checks import classifier_beats_baseline, classifier_quality_gate
from acctax_assets.defs.cleaned_ledger import cleaned_ledger
from acctax_assets.defs.ensemble_classifier import ensemble_classifier
from acctax_assets.defs.feedback_sensor import proposal_feedback_sensor
from acctax_assets.defs.io_managers import ParquetIOManager
from acctax_assets.defs.jobs import feedback_job, ledger_data_job, prediction_job, training_job
from acctax_assets.defs.ledger_checks import ledger_checks
from acctax_assets.defs.ledger_dataset import ledger_dataset
from acctax_assets.defs.ledger_features import ledger_features
from acctax_assets.defs.ledger_file_sensor import build_ledger_file_sensor
from acctax_assets.defs.ledger_predictions import ledger_predictions
from acctax_assets.defs.ml_resources import ModelRegistryResource, ModelSettings, mlflow_tracking
from acctax_assets.defs.model_text import model_text
from acctax_assets.defs.partitions import ledger_months
from acctax_assets.defs.precedent_classifier import precedent_classifier
from acctax_assets.defs.prediction_export import prediction_export
from acctax_assets.defs.prediction_sensor import ledger_prediction_sensor
from acctax_assets.defs.proposal_feedback import proposal_feedback
from acctax_assets.defs.raw_ledger import raw_ledger
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.defs.retraining import monthly_retraining_schedule, retraining_sensor
from acctax_assets.defs.served_classifier import served_classifier
from acctax_assets.defs.tokenized_dataset import tokenized_dataset

RETRAIN_AFTER_MONTHS_ENV = "ACCTAX_RETRAIN_AFTER_MONTHS"


def model_settings_from_env() -> ModelSettings:
    """ModelSettings with retraining_sensor's threshold taken from ACCTAX_RETRAIN_AFTER_MONTHS when set (sensors
    read resources from the code location, not from a launchpad)."""
    value = os.environ.get(RETRAIN_AFTER_MONTHS_ENV)
    return ModelSettings(retrain_after_months=int(value)) if value else ModelSettings()


def build_definitions(settle_seconds: float | None = None) -> Definitions:
    """All assets, checks, jobs, sensors and resources; tests pass a zero settle time for the sensor."""
    sensor_kwargs = {} if settle_seconds is None else {"settle_seconds": settle_seconds}
    return Definitions(
        assets=[
            raw_ledger,
            cleaned_ledger,
            ledger_features,
            model_text,
            ledger_dataset,
            tokenized_dataset,
            account_classifier,
            baseline_classifier,
            precedent_classifier,
            ensemble_classifier,
            served_classifier,
            ledger_predictions,
            prediction_export,
            proposal_feedback,
        ],
        asset_checks=[*ledger_checks, classifier_quality_gate, classifier_beats_baseline],
        jobs=[ledger_data_job, training_job, prediction_job, feedback_job],
        executor=in_process_executor,
        schedules=[monthly_retraining_schedule],
        sensors=[
            build_ledger_file_sensor(ledger_data_job, ledger_months, **sensor_kwargs),
            retraining_sensor,
            ledger_prediction_sensor,
            proposal_feedback_sensor,
        ],
        resources={
            "io_manager": ParquetIOManager(),
            "dataset_io_manager": DatasetIOManager(),
            "adapter_io_manager": AdapterIOManager(),
            "baseline_io_manager": BaselineIOManager(),
            "precedent_io_manager": PrecedentIOManager(),
            "ensemble_io_manager": EnsembleIOManager(),
            "model_registry": ModelRegistryResource(),
            "settings": LedgerSettings(),
            "model_settings": model_settings_from_env(),
            "mlflow": mlflow_tracking,
            "pipes_subprocess_client": PipesSubprocessClient(),
        },
    )


defs = build_definitions()
