"""`precedent_classifier`: the lookup of past bookings as a candidate, scored and registered like the others, and
the evidence shown beside every served proposal (its served lookup with each key's latest booking, and the
similar-lines index), stored with it once per training."""

import numpy as np
from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset
from pydantic import Field

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.defs.metadata_format import LEDGER_DATASET_VERSION, readable
from acctax_assets.ml.candidates.evidence import NeighbourIndex
from acctax_assets.ml.candidates.precedent import (
    LEVELS,
    PrecedentLookup,
    PrecedentModel,
    booking_dates,
    evaluate_precedent,
    level_table,
)
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.evaluation.metrics import classification_report


class PrecedentConfig(Config):
    smoothing: float = Field(
        default=1.0, gt=0.0, le=1_000.0, description="Pseudo-count of the back-off level at each level"
    )
    refit_on_all_rows: bool = Field(
        default=True,
        description="Serve the lookup over every labelled row (train + valid + test); figures stay those of the train-only fit",
    )
    similar_lines_per_client: int = Field(
        default=1_000,
        ge=1,
        le=100_000,
        description="Evidence: the most recent labelled lines of each client searched for similar lines (bounds memory: "
        "~1 KB a line)",
    )
    similar_lines_pool: int = Field(
        default=20_000,
        ge=1,
        le=1_000_000,
        description="Evidence: the most recent indexed lines searched for a client without history of its own",
    )


@asset(group_name="ml", io_manager_key="precedent_io_manager", kinds={"numpy"})
def precedent_classifier(
    context: AssetExecutionContext, config: PrecedentConfig, ledger_dataset: SavedDataset
) -> Output[PrecedentModel]:
    """How each client booked each counterparty before, backing off to the counterparty, the memo/item words and
    the client: what a clerk looks up first, so every other candidate must beat it on the same rows."""
    splits, label_slots = ledger_dataset.load(), ledger_dataset.label_slots()
    lookup = PrecedentLookup.fit(
        splits["train"]["text"], splits["train"]["label"], label_slots.max_classes, config.smoothing
    )
    outputs, levels = evaluate_precedent(
        lookup, {split: (splits[split]["text"], splits[split]["label"]) for split in ("valid", "test")}
    )
    reports = {
        split: classification_report(outputs.labels[split], outputs.predicted(split), label_slots)
        for split in ("valid", "test")
    }
    served_splits = ("train", "valid", "test") if config.refit_on_all_rows else ("train",)
    texts = [text for split in served_splits for text in splits[split]["text"]]
    labels = np.asarray([label for split in served_splits for label in splits[split]["label"]])
    dates = booking_dates(texts, [month for split in served_splits for month in splits[split]["month"]])
    # The served lookup is refitted with dates even without refit_on_all_rows: the evidence needs each key's latest
    # booking; the train-only lookup above gives the figures either way.
    served = PrecedentLookup.fit(texts, labels, label_slots.max_classes, config.smoothing, dates)
    neighbours = NeighbourIndex.fit(texts, labels, dates, config.similar_lines_per_client, config.similar_lines_pool)
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
        "evidence_dates": evidence_dates(dates),
        "similar_lines_indexed": neighbours.matrix.shape[0],
    }
    return Output(
        PrecedentModel(
            lookup=served,
            label_slots=label_slots,
            metrics=metrics,
            eval_outputs=outputs,
            text_spec=TextSpec(ledger_dataset.text_spec().text_features, None, ledger_dataset.path.name),
            neighbours=neighbours,
        ),
        metadata=readable(
            {
                "test_accuracy": reports["test"]["accuracy"],
                "test_f1_macro": reports["test"]["f1_macro"],
                "valid_accuracy": reports["valid"]["accuracy"],
                "valid_f1_macro": reports["valid"]["f1_macro"],
                "decided_by_level": MetadataValue.md(level_table(levels)),
                "levels_without_values": unused,
                "served_fit_rows": metrics["served_fit_rows"],
                LEDGER_DATASET_VERSION: ledger_dataset.path.name,
                "evidence_dates": metrics["evidence_dates"],
                "similar_lines_indexed": metrics["similar_lines_indexed"],
            }
        ),
    )


def evidence_dates(dates: list[str]) -> str:
    """Which date the evidence's `last …` is: the booking date when the model text carries it, else the month."""
    if dates and all(len(date) == len("2024-01") for date in dates):
        return "month (the model text has no date feature)"
    return "booking date where the model text carries it, else the month"
