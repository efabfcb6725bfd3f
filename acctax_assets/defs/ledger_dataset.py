"""`ledger_dataset`: every labelled month of `model_text` with stable class ids, split train/valid/test.

The months arrive already serialized (one `model_text` partition each), so a new month adds one month of
serialization to the data chain and this asset only concatenates, registers codes and splits. It reads the months
as pyarrow Tables (`AS_ARROW`) and builds the splits from Arrow: at an office's size (millions of rows) pandas object
columns cost most of its time and memory.

The split is by time by default (`split_strategy: temporal`): the office asks for the codes of months after the
ones it has booked, so the candidates are selected on the month(s) before the latest and scored on the latest
(`valid_months`, `test_months`), all earlier months train, as the served model will face the next month. Repeat
bookings in those months stay in valid/test (counted as `repeated_from_train`); codes of train absent from them
are reported (`train_only_classes`), codes new in them too (`unseen_in_train`). `stratified` (per class, within
the same months) remains for comparison; `ml/data/splits.py` has both.

Months whose blocking data checks failed on their current materialization are left out and listed with the
failing check, so one broken export does not stop the office. The ledger_features data version of every month
used is recorded (`month_versions`): retraining compares it with the current versions to find changed months.
"""

from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext, AssetIn, AssetKey, Config, Failure, MetadataValue, Output, asset
from pydantic import Field

from acctax_assets.defs.artifact_io_managers import DatasetArtifact
from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.io_managers import AS_ARROW
from acctax_assets.defs.jobs import ledger_data_job
from acctax_assets.defs.materialization_records import (
    CLEANED,
    DATASET,
    FEATURES,
    MODEL_TEXT,
    MONTH_VERSIONS,
    MonthStatus,
    latest_metadata,
    month_status,
)
from acctax_assets.defs.metadata_format import listing, mapping_table, readable
from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.defs.model_text import TEXT_FEATURES
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import TextSpec, concat_model_tables
from acctax_assets.ml.data.splits import SPLITS, SplitSettings

LABEL_TABLE_ROWS = 15


class DatasetConfig(Config):
    split_strategy: Literal["stratified", "temporal"] = Field(
        default="temporal",
        description="temporal: the latest labelled months are valid and test (as the served model meets the next "
        "month); stratified: each class split in proportions across all months (for comparison)",
    )
    test_months: int = Field(default=1, ge=1, le=24, description="temporal: the latest N labelled months are test")
    valid_months: int = Field(
        default=1, ge=1, le=24, description="temporal: the N labelled months before the test months are valid"
    )
    valid_size: float = Field(default=0.1, gt=0.0, lt=0.5, description="stratified: share of each class in valid")
    test_size: float = Field(default=0.1, gt=0.0, lt=0.5, description="stratified: share of each class in test")
    min_class_rows: int = Field(
        default=3, ge=3, le=1000, description="stratified: classes with fewer rows go to train only (reported)"
    )
    window_months: int | None = Field(
        default=None, ge=1, le=600, description="Only the latest N materialized months; default all"
    )
    seed: int = Field(default=42, ge=0, description="stratified: the shuffle's seed")


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


def _no_labelled_rows(window: list[str], status: MonthStatus, landing: str) -> str:
    """Why the window holds no labelled row, with the step that is actually missing: this asset reads model_text,
    so a month whose chain stopped before it is named with the asset it stopped before and the job that runs it."""
    job = ledger_data_job.name
    stopped: dict[AssetKey, list[str]] = {}
    for month, key in status.stopped_before.items():
        stopped.setdefault(key, []).append(month[:7])
    if stopped:
        missing = "; ".join(f"{key.to_user_string()} for {months}" for key, months in stopped.items())
        fix = f"materialize {missing} (run {job} for those months)"
    elif status.excluded:
        fix = f"correct the left-out months' files as their failing checks say, then run {job} for them"
    elif window:
        fix = (
            f"the {MODEL_TEXT.to_user_string()} of those months holds no labelled row: land exports that carry "
            f"account codes (계정과목코드) and run {job} for their months, or widen window_months"
        )
    else:
        fix = f"no month has {MODEL_TEXT.to_user_string()} yet: land ledger files in {landing} and run {job} for them"
    left_out = f" ({len(status.excluded)} left out: {'; '.join(status.excluded_lines())})" if status.excluded else ""
    return (
        f"{DATASET.to_user_string()} over months {[m[:7] for m in window]}: no labelled rows in the training "
        f"window{left_out}. Fix: {fix}"
    )


def _excluded_table(excluded: dict[str, str]) -> str:
    if not excluded:
        return "none: every materialized month passed its blocking checks"
    return pd.DataFrame({"month": [m[:7] for m in excluded], "why": list(excluded.values())}).to_markdown(index=False)


def _label_table(counts: pd.DataFrame, label_slots: LabelSlots) -> str:
    table = counts.copy()
    table.insert(0, "name", [label_slots.names.get(code, "") for code in table.index])
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
    from acctax_assets.ml.data.dataset import build_dataset

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
    if rows.num_rows == 0:
        raise Failure(description=_no_labelled_rows(months, status, str(settings.acctax_home.landing)))
    slots_path = settings.acctax_home.label_slots
    split = SplitSettings(
        strategy=config.split_strategy,
        valid_size=config.valid_size,
        test_size=config.test_size,
        test_months=config.test_months,
        valid_months=config.valid_months,
        min_class_rows=config.min_class_rows,
        seed=config.seed,
    )
    try:
        previous = LabelSlots.load(slots_path, model_settings.max_classes)
        dataset, label_slots, report = build_dataset(rows, previous, split)
    except AcctaxError as exc:
        left_out = f"; left out of training: {status.excluded_lines()}" if status.excluded else ""
        raise Failure(
            description=f"{DATASET.to_user_string()} over months {[m[:7] for m in months]}: {exc}{left_out}"
        ) from exc
    label_slots.save(slots_path)
    new_codes = list(label_slots.codes[previous.used :])
    if new_codes:
        context.log.info(f"Registered {len(new_codes)} new account code(s) in new slots: {new_codes}")
    for split_name, codes in report.unseen_in_train.items():
        if codes:
            context.log.warning(f"{split_name} has codes never seen in train: {codes}")
    if report.train_only_classes:
        context.log.info(
            f"{len(report.train_only_classes)} code(s) of train have no row in valid or test "
            f"(months {report.months['valid'] + report.months['test']}): {report.train_only_classes}"
        )
    return Output(
        DatasetArtifact(
            dataset=dataset, label_slots=label_slots, text_spec=TextSpec(tuple(model_settings.text_features))
        ),
        metadata=readable(
            {
                "months": [m[:7] for m in months],
                "excluded_months": MetadataValue.md(_excluded_table(status.excluded)),
                MONTH_VERSIONS: MetadataValue.json(latest_data_versions(context.instance, FEATURES, months)),
                "split_strategy": config.split_strategy,
                **{f"{name}_months": report.months[name] for name in SPLITS},
                **{f"{name}_rows": report.sizes[name] for name in SPLITS},
                "classes": pc.count_distinct(rows["code"]).as_py(),
                # The label slots' figures keep their metadata names of earlier releases (`registry_*`).
                "registry_slots_used": label_slots.used,
                "registry_max_classes": label_slots.max_classes,
                "new_codes": listing(new_codes),
                "train_only_classes": listing(report.train_only_classes),
                "unseen_in_train": mapping_table(
                    {split: listing(codes) for split, codes in report.unseen_in_train.items() if codes},
                    "split",
                    "codes",
                ),
                "leakage_removed": report.leakage_removed,
                "repeated_from_train": report.repeated_from_train,
                "label_counts": MetadataValue.md(_label_table(report.label_counts, label_slots)),
                "text_example": MetadataValue.md(f"`{dataset['train'][0]['text']}`")
                if report.sizes["train"]
                else "none: train is empty",
            }
        ),
    )
