"""Tests of acctax_assets.ml: data preparation, training, candidates, evaluation and predictions."""
