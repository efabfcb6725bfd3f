"""`baseline_classifier`: TF-IDF char n-grams + logistic regression on the same splits as the adapter."""

import time

from dagster import AssetExecutionContext, Config, Failure, MetadataValue, Output, asset
from pydantic import Field

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.ml.baseline import (
    BaselineModel,
    BaselineSettings,
    evaluate_baseline,
    stratified_subset,
    train_baseline,
)
from acctax_assets.ml.reports import per_class_frame
from acctax_assets.ml.serialization import TextSpec


class BaselineConfig(Config):
    ngram_min: int = Field(default=1, ge=1, le=5)
    ngram_max: int = Field(default=3, ge=1, le=8, description="Longest character n-gram")
    max_features: int = Field(default=200_000, ge=1_000, le=5_000_000)
    c: float = Field(default=10.0, gt=0.0, le=1e6, description="Inverse regularisation strength")
    max_iter: int = Field(default=300, ge=10, le=10_000)
    balanced: bool = Field(default=True, description="Weight classes by inverse frequency (macro F1 counts rare codes)")
    max_train_rows: int | None = Field(
        default=200_000,
        ge=1_000,
        description="Train on a stratified sample of at most this many rows (every class kept); null: all rows",
    )
    seed: int = Field(default=42, ge=0, description="Seed of the stratified sample")


@asset(group_name="ml", io_manager_key="baseline_io_manager", kinds={"sklearn"})
def baseline_classifier(
    context: AssetExecutionContext, config: BaselineConfig, ledger_dataset: SavedDataset
) -> Output[BaselineModel]:
    """The bar the LoRA adapter has to clear: a classic text classifier on identical train/test rows."""
    settings = BaselineSettings(**config.model_dump())
    if settings.ngram_min > settings.ngram_max:
        raise Failure(
            description=f"baseline_classifier: ngram_min={settings.ngram_min} > ngram_max={settings.ngram_max}. Fix: ngram_min <= ngram_max"
        )
    splits, registry = ledger_dataset.load(), ledger_dataset.registry()
    started = time.perf_counter()
    # In memory: an indices mapping written to disk would land inside the published ledger_dataset version.
    sample = stratified_subset(splits["train"]["label"], settings.max_train_rows, settings.seed)
    train = splits["train"].select(sample, keep_in_memory=True)
    if train.num_rows < splits["train"].num_rows:
        context.log.info(
            f"baseline trains on a stratified {train.num_rows:,} of {splits['train'].num_rows:,} train rows"
        )
    pipeline = train_baseline(train["text"], train["label"], settings)
    train_seconds = time.perf_counter() - started
    reports, outputs = evaluate_baseline(
        pipeline, {split: (splits[split]["text"], splits[split]["label"]) for split in ("valid", "test")}, registry
    )
    context.log.info(
        f"baseline test accuracy={reports['test']['accuracy']:.4f} f1_macro={reports['test']['f1_macro']:.4f} (trained in {train_seconds:.1f} s)"
    )
    metrics = {**reports, "train_seconds": train_seconds, "dataset_version": ledger_dataset.path.name}
    per_class = per_class_frame(reports["test"]).sort_values(["f1", "support"])
    return Output(
        BaselineModel(
            pipeline=pipeline,
            registry=registry,
            metrics=metrics,
            eval_outputs=outputs,
            text_spec=TextSpec(ledger_dataset.text_spec().text_features, None, ledger_dataset.path.name),
        ),
        metadata={
            "test_accuracy": reports["test"]["accuracy"],
            "test_f1_weighted": reports["test"]["f1_weighted"],
            "test_f1_macro": reports["test"]["f1_macro"],
            "valid_f1_macro": reports["valid"]["f1_macro"],
            "train_rows": splits["train"].num_rows,
            "train_rows_used": train.num_rows,
            "test_rows": splits["test"].num_rows,
            "train_seconds": round(train_seconds, 2),
            "predict_rows_per_second": round(reports["test"]["rows_per_second"], 1),
            "vocabulary": len(pipeline.named_steps["tfidf"].vocabulary_),
            "dataset_version": ledger_dataset.path.name,
            "weakest_classes_test": MetadataValue.md(per_class.head(10).round(3).to_markdown(index=False)),
        },
    )
