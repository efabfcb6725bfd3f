"""What the office is served: the MLflow model registry, loading the served model of any kind (`served_model`),
batch inference with an adapter, the prediction table and the pyfunc wrapper. The top room of `ml/`: it may import
`data`, `evaluation`, `candidates` and `adapter`; nothing in `ml/` imports it."""
