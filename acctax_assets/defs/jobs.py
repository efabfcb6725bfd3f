"""Jobs: the per-month data chain the sensor and the CLI run."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

DATA_LAYER = AssetSelection.assets("raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features")

ledger_data_job = define_asset_job(
    "ledger_data_job",
    selection=DATA_LAYER,
    description="raw_ledger → cleaned_ledger (+ rejected_ledger_rows) → ledger_features for one month, with their checks.",
)
