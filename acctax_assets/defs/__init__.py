"""Thin Dagster wiring (assets, checks, sensors, resources, IO managers) over the pure `ledger` logic."""
