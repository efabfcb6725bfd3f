"""Pure ML logic (datasets / transformers / torch), importable without Dagster, in rooms that import downwards
only: `data` <- `evaluation` <- `candidates` <- `adapter` <- `serving`, and `training` (the DeepSpeed entry point,
which uses dagster-pipes only) beside `serving` on `data`, `evaluation` and `adapter`."""
