"""Helpers the tests share: ledger files, Dagster runs, training runs, ML frames, stored candidates, PostgreSQL and
the browser."""
