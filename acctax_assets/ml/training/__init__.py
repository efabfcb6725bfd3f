"""LoRA fine-tuning of a sequence classifier on the tokenized ledger dataset, run by the DeepSpeed launcher one
process per rank:

    deepspeed --num_gpus N --master_port P --module acctax_assets.ml.training --config /path/config.json

It imports `dagster_pipes` only (never `dagster`): the Dagster process owns orchestration and the MLflow run, this
process owns every torch byte (ARCHITECTURE.md §4). `entry` holds the run itself; the other modules each hold one concern
(reporting, progress curves, the model, the Trainer, checkpoints, scoring). The Dagster side of the same run lives
here too and stays torch-free: `config` (the typed configuration both sides share), `launch` (the command and
environment) and `supervise` (the launcher's supervisor); `miniature` builds tiny decoder checkpoints for tests.
This file imports nothing, so the Dagster process can import those without loading the trainer.
"""
