"""Tests of acctax_assets.ledger: reading, cleaning, features and the office export, without Dagster."""
