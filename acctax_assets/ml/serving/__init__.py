"""What the office is served: the MLflow model registry, promotion (which candidate serves: `promotion`), loading the
served model of any kind and a month's proposals (`served_model`), batch inference with an adapter, the prediction
table and the pyfunc wrapper. The top room of `ml/`: it may import `data`, `evaluation`, `candidates` and `adapter`;
nothing in `ml/` imports it."""
