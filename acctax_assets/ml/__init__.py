"""Pure ML logic (datasets / transformers / torch), importable without Dagster; the training entry point
`acctax_assets.ml.training` only uses dagster-pipes."""
