"""`tokenized_dataset`: the dataset tokenized for the configured base model (truncated, never padded), with the
base tokenizer extended by the train split's frequent words (ml/data/vocabulary.py) and saved in the same folder."""

from dagster import AssetExecutionContext, Config, Failure, Output, asset
from pydantic import Field

from acctax_assets.defs.artifact_io_managers import DatasetArtifact, SavedDataset
from acctax_assets.defs.metadata_format import listing, percent
from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.ml.data.base_model import BaseModelError
from acctax_assets.ml.data.serialization import MissingTextSpecError, TextSpec


class TokenizationConfig(Config):
    max_length: int = Field(
        default=160, ge=8, le=32_768, description="Tokens kept per row (the collator pads per batch)"
    )
    num_proc: int = Field(default=1, ge=1, le=64, description="Processes for datasets.map")
    vocab_max_words: int = Field(
        default=4000,
        ge=0,
        le=200_000,
        description="Frequent train-split words added to the tokenizer as whole tokens (0: base tokenizer only)",
    )
    vocab_min_count: int = Field(
        default=3, ge=1, le=1_000_000, description="A word must occur this often in train to be added"
    )


@asset(group_name="ml", io_manager_key="dataset_io_manager", kinds={"huggingface"})
def tokenized_dataset(
    context: AssetExecutionContext,
    config: TokenizationConfig,
    ledger_dataset: SavedDataset,
    model_settings: ModelSettings,
) -> Output[DatasetArtifact]:
    """Token ids for train/valid/test with length statistics, so truncation is visible before training."""
    # Imported here, when the asset runs: the code location itself stays free of transformers and torch.
    from acctax_assets.ml.data.tokenization import load_tokenizer, mean_tokens, tokenize_dataset
    from acctax_assets.ml.data.vocabulary import extend_tokenizer

    try:
        tokenizer = load_tokenizer(model_settings.base_model_path)
        spec = ledger_dataset.text_spec()
    except (BaseModelError, MissingTextSpecError) as exc:
        raise Failure(description=str(exc)) from exc
    dataset = ledger_dataset.load()
    train_texts = dataset["train"]["text"]
    tokens_before = mean_tokens(train_texts, tokenizer)
    vocabulary = extend_tokenizer(tokenizer, train_texts, config.vocab_min_count, config.vocab_max_words)
    tokenized, stats = tokenize_dataset(dataset, tokenizer, config.max_length, config.num_proc)
    if stats.truncation_rate > 0.05:
        context.log.warning(
            f"{stats.truncation_rate:.1%} of rows exceed max_length={config.max_length} tokens and are truncated"
        )
    text_spec = TextSpec(
        spec.text_features, max_length=config.max_length, ledger_dataset_version=ledger_dataset.path.name
    )
    return Output(
        DatasetArtifact(
            dataset=tokenized, label_slots=ledger_dataset.label_slots(), text_spec=text_spec, tokenizer=tokenizer
        ),
        metadata={
            "tokenizer": f"{type(tokenizer).__name__} ({model_settings.base_model_path}) + {len(vocabulary.added)} added words",
            "added_tokens": len(vocabulary.added),
            "added_examples": listing(vocabulary.added[:20]),
            "frequent_words_already_single_token": vocabulary.already_single_token,
            "tokens_per_row_base": round(tokens_before, 1),
            "tokens_per_row": round(stats.mean, 1),
            "max_length": config.max_length,
            "tokens_p50": stats.p50,
            "tokens_p95": stats.p95,
            "tokens_max": stats.max,
            "truncation_rate": percent(stats.truncation_rate),
            "rows": stats.rows,
        },
    )
