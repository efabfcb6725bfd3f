"""Helpers the tests share: ledger files, Dagster runs, training runs, ML frames, PostgreSQL and the browser."""
