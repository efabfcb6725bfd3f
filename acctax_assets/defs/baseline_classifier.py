"""`baseline_classifier`: the TF-IDF candidate, its settings chosen on valid, refitted on every labelled row to serve."""

import time

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, Config, Failure, Output, asset
from pydantic import Field

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.defs.metadata_format import LEDGER_DATASET_VERSION, frame_table, readable
from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.ml.candidates.baseline import (
    BaselineModel,
    BaselineSettings,
    SettingsGrid,
    calibrate,
    evaluate_baseline,
    search_settings,
    stratified_subset,
    train_baseline,
)
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.evaluation.reports import per_class_frame


class BaselineConfig(Config):
    """The grid tried on valid (README: baseline_classifier); one value per list fixes that setting."""

    char_ngram_ranges: list[list[int]] = Field(
        default=[[2, 4], [1, 3]], min_length=1, description="Character n-gram ranges [min, max] tried"
    )
    word_ngrams: list[int] = Field(default=[1, 2], min_length=1, description="Word n-gram lengths tried (1 or 2)")
    c: list[float] = Field(default=[0.3, 1.0, 3.0], min_length=1, description="SVM C values tried")
    balanced: list[bool] = Field(
        default=[False, True], min_length=1, description="Class weighting by inverse frequency, tried on/off"
    )
    max_features: int = Field(default=300_000, ge=1_000, le=5_000_000, description="Character n-gram vocabulary cap")
    max_iter: int = Field(default=2_000, ge=10, le=100_000)
    max_train_rows: int | None = Field(
        default=200_000,
        ge=1_000,
        description="Fit on a stratified sample of at most this many rows (every class kept); null: all rows",
    )
    refit_on_all_rows: bool = Field(
        default=True,
        description="Serve a model refitted with the chosen settings on train + valid + test (figures stay those of the train-only fit)",
    )
    seed: int = Field(default=42, ge=0, description="Seed of the stratified sample")

    def grid(self) -> SettingsGrid:
        for low, high, *rest in self.char_ngram_ranges:
            if rest or not 1 <= low <= high <= 8:
                raise Failure(
                    description=f"baseline_classifier: char_ngram_ranges entry {[low, high, *rest]} is not [min, max] with 1 <= min <= max <= 8"
                )
        if any(n not in (1, 2) for n in self.word_ngrams):
            raise Failure(description=f"baseline_classifier: word_ngrams {self.word_ngrams} must be 1 or 2")
        if any(not 0 < c <= 1e4 for c in self.c):
            raise Failure(description=f"baseline_classifier: every C in {self.c} must lie in (0, 10000]")
        return SettingsGrid(
            char_ngrams=tuple((low, high) for low, high in self.char_ngram_ranges),
            word_ngrams=tuple(self.word_ngrams),
            c=tuple(self.c),
            balanced=tuple(self.balanced),
        )


@asset(group_name="ml", io_manager_key="baseline_io_manager", kinds={"sklearn"})
def baseline_classifier(
    context: AssetExecutionContext, config: BaselineConfig, ledger_dataset: SavedDataset, model_settings: ModelSettings
) -> Output[BaselineModel]:
    """The bar every other candidate has to clear: a linear model over the ledger's fields, scored on the same
    valid/test rows as the others."""
    grid = config.grid()
    base = BaselineSettings(max_features=config.max_features, max_iter=config.max_iter, seed=config.seed)
    splits, label_slots = ledger_dataset.load(), ledger_dataset.label_slots()
    started = time.perf_counter()
    # In memory: an indices mapping written to disk would land inside the published ledger_dataset version.
    sample = stratified_subset(splits["train"]["label"], config.max_train_rows, config.seed)
    train = splits["train"].select(sample, keep_in_memory=True)
    if train.num_rows < splits["train"].num_rows:
        context.log.info(
            f"baseline trains on a stratified {train.num_rows:,} of {splits['train'].num_rows:,} train rows"
        )
    valid = (splits["valid"]["text"], splits["valid"]["label"])
    if not len(valid[0]):
        raise Failure(
            description="baseline_classifier: the valid split is empty, so no setting can be chosen. Fix: give ledger_dataset more labelled months or a larger valid_months"
        )
    chosen, pipeline, tried = search_settings(
        (train["text"], train["label"]), valid, base, grid, model_settings.selection_metric, context.log.info
    )
    calibrate(pipeline, *valid)
    search_seconds = time.perf_counter() - started
    reports, outputs = evaluate_baseline(
        pipeline, {split: (splits[split]["text"], splits[split]["label"]) for split in ("valid", "test")}, label_slots
    )
    context.log.info(
        f"baseline {chosen.describe()}: valid {model_settings.selection_metric} "
        f"{reports['valid'][model_settings.selection_metric]:.4f}, test accuracy {reports['test']['accuracy']:.4f}, "
        f"macro F1 {reports['test']['f1_macro']:.4f} ({len(tried)} settings tried in {search_seconds:.1f} s)"
    )
    served, served_rows = pipeline, train.num_rows
    if config.refit_on_all_rows:
        texts = [*train["text"], *splits["valid"]["text"], *splits["test"]["text"]]
        labels = np.asarray([*train["label"], *splits["valid"]["label"], *splits["test"]["label"]])
        everything = stratified_subset(labels, config.max_train_rows, config.seed)
        served = train_baseline([texts[i] for i in everything], labels[everything], chosen)
        served.model.scale = pipeline.model.scale
        served_rows = len(everything)
        context.log.info(f"served baseline refitted on {served_rows:,} labelled rows (train + valid + test)")
    metrics = {
        **reports,
        "settings": chosen.describe(),
        "softmax_scale": pipeline.model.scale,
        "train_seconds": time.perf_counter() - started,
        "served_fit_rows": served_rows,
        "dataset_version": ledger_dataset.path.name,
    }
    per_class = per_class_frame(reports["test"]).sort_values(["f1", "support"])
    search = pd.DataFrame(tried)
    shown = search[["stage", "char_ngram_min", "char_ngram_max", "word_ngrams", "c", "balanced"]].assign(
        valid_accuracy=search["valid_accuracy"], valid_f1_macro=search["valid_f1_macro"], seconds=search["seconds"]
    )
    return Output(
        BaselineModel(
            pipeline=served,
            label_slots=label_slots,
            metrics=metrics,
            eval_outputs=outputs,
            text_spec=TextSpec(ledger_dataset.text_spec().text_features, None, ledger_dataset.path.name),
            search=tried,
        ),
        metadata=readable(
            {
                "settings": chosen.describe(),
                "selection_metric": model_settings.selection_metric,
                "settings_search": frame_table(shown),
                "test_accuracy": reports["test"]["accuracy"],
                "test_f1_weighted": reports["test"]["f1_weighted"],
                "test_f1_macro": reports["test"]["f1_macro"],
                "valid_accuracy": reports["valid"]["accuracy"],
                "valid_f1_macro": reports["valid"]["f1_macro"],
                "train_rows": splits["train"].num_rows,
                "train_rows_used": train.num_rows,
                "served_fit_rows": served_rows,
                "test_rows": splits["test"].num_rows,
                "train_seconds": round(metrics["train_seconds"], 2),
                "predict_rows_per_second": round(reports["test"]["rows_per_second"], 1),
                "vocabulary": served.vocabulary,
                LEDGER_DATASET_VERSION: ledger_dataset.path.name,
                "weakest_classes_test": frame_table(per_class.head(10)),
            }
        ),
    )
