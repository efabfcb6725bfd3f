"""Tests of acctax_assets, laid out like the package; support/ holds the helpers they share."""
