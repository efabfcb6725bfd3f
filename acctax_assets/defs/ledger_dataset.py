"""`ledger_dataset`: every labelled month of `model_text` with stable class ids, split train/valid/test.

The months arrive already serialized (one `model_text` partition each), so a new month adds one month of
serialization to the data chain and this asset only concatenates, registers codes and splits. It reads the months
as pyarrow Tables (`AS_ARROW`) and builds the splits from Arrow: at an office's size (millions of rows) pandas object
columns cost most of its time and memory.

Months whose blocking data checks failed on their current materialization are left out and listed with the
failing check, so one broken export does not stop the office. The ledger_features data version of every month
used is recorded (`month_versions`): retraining compares it with the current versions to find changed months.
"""

from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext, AssetIn, Config, Failure, MetadataValue, Output, asset
from pydantic import Field

from acctax_assets.defs.artifact_io_managers import DatasetArtifact
from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.io_managers import AS_ARROW
from acctax_assets.defs.materialization_records import (
    CLEANED,
    FEATURES,
    MODEL_TEXT,
    MONTH_VERSIONS,
    latest_metadata,
    month_status,
)
from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.defs.model_text import TEXT_FEATURES
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.serialization import TextSpec, concat_model_tables
from acctax_assets.ml.splits import SplitSettings

LABEL_TABLE_ROWS = 15


class DatasetConfig(Config):
    split_strategy: Literal["stratified", "temporal"] = Field(
        default="stratified", description="stratified per class, or the latest months as test"
    )
    valid_size: float = Field(default=0.1, gt=0.0, lt=0.5)
    test_size: float = Field(default=0.1, gt=0.0, lt=0.5)
    temporal_test_months: int = Field(default=1, ge=1, le=24)
    min_class_rows: int = Field(
        default=3, ge=3, le=1000, description="Classes with fewer rows go to train only (reported)"
    )
    window_months: int | None = Field(
        default=None, ge=1, le=600, description="Only the latest N materialized months; default all"
    )
    seed: int = Field(default=42, ge=0)


def check_text_features(context: AssetExecutionContext, months: list[str], text_features: list[str]) -> None:
    """Every month must have been serialized with the current text features: one model never reads two formats."""
    stale = [
        month[:7]
        for month in months
        if latest_metadata(context.instance, MODEL_TEXT, month).get(TEXT_FEATURES, text_features) != text_features
    ]
    if stale:
        raise Failure(
            description=(
                f"model_text of months {stale} was serialized with other text features than the current "
                f"model_settings.text_features {text_features}. Fix: re-materialize model_text for those months "
                "(select model_text in the UI and materialize those partitions), or set text_features back"
            )
        )


def _excluded_table(excluded: dict[str, str]) -> str:
    if not excluded:
        return "none: every materialized month passed its blocking checks"
    return pd.DataFrame({"month": [m[:7] for m in excluded], "why": list(excluded.values())}).to_markdown(index=False)


def _label_table(counts: pd.DataFrame, registry: LabelRegistry) -> str:
    table = counts.copy()
    table.insert(0, "name", [registry.names.get(code, "") for code in table.index])
    shown = (
        table
        if len(table) <= 2 * LABEL_TABLE_ROWS
        else pd.concat([table.head(LABEL_TABLE_ROWS), table.tail(LABEL_TABLE_ROWS)])
    )
    return shown.rename_axis("code").to_markdown()


@asset(
    group_name="ml",
    io_manager_key="dataset_io_manager",
    ins={"model_text": AssetIn(metadata={AS_ARROW: True})},
    kinds={"huggingface"},
)
def ledger_dataset(
    context: AssetExecutionContext,
    config: DatasetConfig,
    model_text: dict[str, pa.Table],
    settings: LedgerSettings,
    model_settings: ModelSettings,
) -> Output[DatasetArtifact]:
    """Labelled rows of all materialized months (or a window); unlabelled months are never trained on."""
    # Imported here, when the asset runs: the code location itself stays free of `datasets` (and its torch).
    from acctax_assets.ml.dataset import build_dataset

    status = month_status(
        context.instance, sorted(set(model_text) | context.instance.get_materialized_partitions(CLEANED))
    )
    for line in status.excluded_lines():
        context.log.warning(f"Left out of training: {line}")
    months = [month for month in sorted(model_text) if month not in status.excluded]
    if config.window_months:
        months = months[-config.window_months :]
    check_text_features(context, months, model_settings.text_features)
    rows = concat_model_tables(model_text[month] for month in months)
    registry_path = settings.acctax_home.storage / REGISTRY_FILE
    split = SplitSettings(
        strategy=config.split_strategy,
        valid_size=config.valid_size,
        test_size=config.test_size,
        temporal_test_months=config.temporal_test_months,
        min_class_rows=config.min_class_rows,
        seed=config.seed,
    )
    try:
        previous = LabelRegistry.load(registry_path, model_settings.max_classes)
        dataset, registry, report = build_dataset(rows, previous, split)
    except AcctaxError as exc:
        left_out = (
            f"; left out because a blocking data check failed: {status.excluded_lines()}" if status.excluded else ""
        )
        raise Failure(description=f"ledger_dataset over months {[m[:7] for m in months]}: {exc}{left_out}") from exc
    registry.save(registry_path)
    new_codes = list(registry.codes[previous.used :])
    if new_codes:
        context.log.info(f"Registered {len(new_codes)} new account code(s) in new slots: {new_codes}")
    for split_name, codes in report.unseen_in_train.items():
        if codes:
            context.log.warning(f"{split_name} has codes never seen in train: {codes}")
    return Output(
        DatasetArtifact(dataset=dataset, registry=registry, text_spec=TextSpec(tuple(model_settings.text_features))),
        metadata={
            "months": [m[:7] for m in months],
            "excluded_months": MetadataValue.md(_excluded_table(status.excluded)),
            MONTH_VERSIONS: MetadataValue.json(latest_data_versions(context.instance, FEATURES, months)),
            "split_strategy": config.split_strategy,
            "train_rows": report.sizes["train"],
            "valid_rows": report.sizes["valid"],
            "test_rows": report.sizes["test"],
            "classes": pc.count_distinct(rows["code"]).as_py(),
            "registry_slots_used": registry.used,
            "registry_max_classes": registry.max_classes,
            "new_codes": new_codes,
            "train_only_classes": report.train_only_classes,
            "unseen_in_train": report.unseen_in_train,
            "leakage_removed": report.leakage_removed,
            "label_counts": MetadataValue.md(_label_table(report.label_counts, registry)),
            "text_example": MetadataValue.md(f"`{dataset['train'][0]['text']}`") if report.sizes["train"] else "",
        },
    )
