"""`precedent_classifier`: the lookup of past bookings as a candidate, scored and registered like the others."""

import numpy as np
from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset
from pydantic import Field

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.ml.metrics import classification_report
from acctax_assets.ml.precedent import LEVELS, PrecedentLookup, PrecedentModel, evaluate_precedent, level_table
from acctax_assets.ml.serialization import TextSpec


class PrecedentConfig(Config):
    smoothing: float = Field(
        default=1.0, gt=0.0, le=1_000.0, description="Pseudo-count of the back-off level at each level"
    )
    refit_on_all_rows: bool = Field(
        default=True,
        description="Serve the lookup over every labelled row (train + valid + test); figures stay those of the train-only fit",
    )


@asset(group_name="ml", io_manager_key="precedent_io_manager", kinds={"numpy"})
def precedent_classifier(
    context: AssetExecutionContext, config: PrecedentConfig, ledger_dataset: SavedDataset
) -> Output[PrecedentModel]:
    """How each client booked each counterparty before, backing off to the counterparty, the memo/item words and
    the client: what a clerk looks up first, so every other candidate must beat it on the same rows."""
    splits, registry = ledger_dataset.load(), ledger_dataset.registry()
    lookup = PrecedentLookup.fit(
        splits["train"]["text"], splits["train"]["label"], registry.max_classes, config.smoothing
    )
    outputs, levels = evaluate_precedent(
        lookup, {split: (splits[split]["text"], splits[split]["label"]) for split in ("valid", "test")}
    )
    reports = {
        split: classification_report(outputs.labels[split], outputs.predicted(split), registry)
        for split in ("valid", "test")
    }
    served, fit_rows = lookup, splits["train"].num_rows
    if config.refit_on_all_rows:
        texts = [*splits["train"]["text"], *splits["valid"]["text"], *splits["test"]["text"]]
        labels = np.asarray([*splits["train"]["label"], *splits["valid"]["label"], *splits["test"]["label"]])
        served = PrecedentLookup.fit(texts, labels, registry.max_classes, config.smoothing)
        fit_rows = len(texts)
    unused = [LEVELS[level] for level, table in enumerate(lookup.tables) if not table.index]
    if unused:
        context.log.warning(
            f"precedent lookup: no train row has a value for {unused} (a ledger without that column, or without "
            "client/counterparty names): rows back off to the next level"
        )
    context.log.info(
        f"precedent test accuracy {reports['test']['accuracy']:.4f}, macro F1 {reports['test']['f1_macro']:.4f}; "
        f"test rows decided by level: {levels['test']}"
    )
    metrics = {
        **reports,
        "levels": levels,
        "smoothing": config.smoothing,
        "served_fit_rows": fit_rows,
        "dataset_version": ledger_dataset.path.name,
    }
    return Output(
        PrecedentModel(
            lookup=served,
            registry=registry,
            metrics=metrics,
            eval_outputs=outputs,
            text_spec=TextSpec(ledger_dataset.text_spec().text_features, None, ledger_dataset.path.name),
        ),
        metadata={
            "test_accuracy": reports["test"]["accuracy"],
            "test_f1_macro": reports["test"]["f1_macro"],
            "valid_accuracy": reports["valid"]["accuracy"],
            "valid_f1_macro": reports["valid"]["f1_macro"],
            "decided_by_level": MetadataValue.md(level_table(levels)),
            "levels_without_values": unused,
            "served_fit_rows": metrics["served_fit_rows"],
            "dataset_version": ledger_dataset.path.name,
        },
    )
