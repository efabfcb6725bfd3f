"""End-to-end tests: real Dagster runs, the daemon and the UI over the whole pipeline (slow)."""
