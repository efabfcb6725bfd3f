"""Tests of acctax_assets.defs: the Dagster wiring (assets, checks, sensors, IO managers, resources, instances)."""
