"""Tests of acctax_assets.demo: the generated ledger and the defects it injects."""
