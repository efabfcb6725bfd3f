"""A published LoRA adapter folder: `reader` (imported by the Dagster process, torch-free at import), `report` (the
evaluation written beside it after training; torch-free), `masking` (untrained slots pinned low; torch) and `writer`
(the trainer's side, which imports torch and `ml.training`'s config and errors, and is imported only by
`acctax_assets.ml.training`)."""

from acctax_assets.ml.adapter.reader import (
    METRICS_FILE,
    TRAINED_CLASSES_FILE,
    TRAINING_CONFIG_FILE,
    AdapterRef,
    compare_with_baseline,
    grow_input_embeddings,
)

__all__ = [
    "METRICS_FILE",
    "TRAINED_CLASSES_FILE",
    "TRAINING_CONFIG_FILE",
    "AdapterRef",
    "compare_with_baseline",
    "grow_input_embeddings",
]
