"""`tokenized_dataset`: the dataset tokenized for the configured base model (truncated, never padded)."""

from dataclasses import replace

from dagster import AssetExecutionContext, Config, Failure, Output, asset
from pydantic import Field

from acctax_assets.ml.launch import BaseModelError
from acctax_assets.ml.serialization import MissingTextSpecError
from acctax_assets.ml.tokenization import load_tokenizer, tokenize_dataset
from acctax_assets.defs.artifact_io_managers import DatasetArtifact, SavedDataset
from acctax_assets.defs.ml_resources import ModelSettings


class TokenizationConfig(Config):
    max_length: int = Field(default=160, ge=8, le=32_768, description="Tokens kept per row (the collator pads per batch)")
    num_proc: int = Field(default=1, ge=1, le=64, description="Processes for datasets.map")


@asset(group_name="ml", io_manager_key="dataset_io_manager", kinds={"huggingface"})
def tokenized_dataset(
    context: AssetExecutionContext, config: TokenizationConfig, ledger_dataset: SavedDataset, model_settings: ModelSettings
) -> Output[DatasetArtifact]:
    """Token ids for train/valid/test with length statistics, so truncation is visible before training."""
    try:
        tokenizer = load_tokenizer(model_settings.base_model_path)
        text_spec = replace(ledger_dataset.text_spec(), max_length=config.max_length, ledger_dataset_version=ledger_dataset.path.name)
    except (BaseModelError, MissingTextSpecError) as exc:
        raise Failure(description=str(exc)) from exc
    tokenized, stats = tokenize_dataset(ledger_dataset.load(), tokenizer, config.max_length, config.num_proc)
    if stats.truncation_rate > 0.05:
        context.log.warning(f"{stats.truncation_rate:.1%} of rows exceed max_length={config.max_length} tokens and are truncated")
    return Output(
        DatasetArtifact(dataset=tokenized, registry=ledger_dataset.registry(), text_spec=text_spec),
        metadata={
            "tokenizer": f"{type(tokenizer).__name__} ({model_settings.base_model_path})",
            "max_length": config.max_length,
            "tokens_p50": stats.p50,
            "tokens_p95": stats.p95,
            "tokens_max": stats.max,
            "truncation_rate": round(stats.truncation_rate, 4),
            "rows": stats.rows,
        },
    )
