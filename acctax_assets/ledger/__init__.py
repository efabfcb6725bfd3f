"""Pure ledger logic (pandas in, pandas out): no Dagster imports, so every stage is testable on a small frame."""
