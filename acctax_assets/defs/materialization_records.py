"""What the automation reads back from the instance's event log: the asset keys it watches and the row counts
`cleaned_ledger` records for a month (both sensors decide on them without opening any Parquet file)."""

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

CLASSIFIER = AssetKey("account_classifier")
CLEANED = AssetKey("cleaned_ledger")
FEATURES = AssetKey("ledger_features")
SERVED = AssetKey("served_classifier")
ROW_COUNTS = ("rows_out", "labelled_rows")


def cleaned_row_counts(instance: DagsterInstance, month: str) -> dict[str, int]:
    """`rows_out` and `labelled_rows` of the month's latest cleaned_ledger materialization (the keys present)."""
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=CLEANED, asset_partitions=[month]), limit=1).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None:
        return {}
    return {key: int(materialization.metadata[key].value) for key in ROW_COUNTS if key in materialization.metadata}
