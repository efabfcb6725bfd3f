"""Thin Dagster wiring (assets, checks, sensors, resources, IO managers) over the pure `ledger` and `ml` logic."""

import warnings

from dagster import BetaWarning, PreviewWarning
from datasets.utils.logging import disable_progress_bar

# Features we opt into on purpose: per-partition asset checks (preview), dagster-mlflow (beta) and content data
# versions on outputs (beta; the automation decides on them, see materialization_records.py).
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)
warnings.filterwarnings("ignore", message=".*_create_mlflow_run_hook", category=BetaWarning)
warnings.filterwarnings("ignore", message="Parameter `data_version` of initializer `Output", category=BetaWarning)
# Progress bars of datasets' save/map end up as noise in the run logs; metadata carries the figures.
disable_progress_bar()
