"""acctax_assets: learn account codes from ledger exports with a Dagster asset graph."""
