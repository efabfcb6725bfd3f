"""Thin Dagster wiring (assets, checks, sensors, resources, IO managers) over the pure `ledger` and `ml` logic."""

import os
import warnings

from dagster import BetaWarning, PreviewWarning

# Features we opt into on purpose: per-partition asset checks (preview), dagster-mlflow (beta) and content data
# versions on outputs (beta; the automation decides on them, see materialization_records.py).
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)
warnings.filterwarnings("ignore", message=".*_create_mlflow_run_hook", category=BetaWarning)
warnings.filterwarnings("ignore", message="Parameter `data_version` of initializer `Output", category=BetaWarning)
# Progress bars of datasets' save/map end up as noise in the run logs; metadata carries the figures. Said through
# the environment variable `datasets` reads when first imported, so this module does not import it (the code
# location stays free of torch-sized imports; the assets import `datasets` when they run).
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
