"""`model_text`: one month's labelled rows as the text the classifiers read, with their account code.

Partitioned like the ledger and materialized by ledger_data_job right after ledger_features, so serializing rows (the
costly part of building a dataset) happens once per month: a new month costs one month, and ledger_dataset only
concatenates the months and splits them. Each materialization records the text features it used, so
ledger_dataset can refuse to mix months serialized differently.
"""

import pandas as pd
from dagster import AssetExecutionContext, DataVersion, Failure, MetadataValue, Output, asset

from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.defs.partitions import explain_months, ledger_months
from acctax_assets.errors import FeatureConfigError
from acctax_assets.ledger.fingerprints import table_version
from acctax_assets.ml.data.serialization import model_text as serialize_month

# Metadata key naming the text features a month was serialized with (ledger_dataset compares it).
TEXT_FEATURES = "text_features"


@asset(partitions_def=ledger_months, group_name="ledger", kinds={"pandas", "parquet"})
@explain_months
def model_text(
    context: AssetExecutionContext, ledger_features: pd.DataFrame, model_settings: ModelSettings
) -> Output[pd.DataFrame]:
    """The month's labelled rows serialized with `model_settings.text_features`; an uncoded month gives no rows."""
    try:
        text = serialize_month(
            ledger_features, context.partition_key, model_settings.text_features, model_settings.unreviewed_labels
        )
    except FeatureConfigError as exc:
        raise Failure(description=f"model_text {context.partition_key[:7]}: {exc}") from exc
    return Output(
        text,
        data_version=DataVersion(table_version(text)),
        metadata={
            "rows": len(text),
            "rows_left_out": len(ledger_features) - len(text),
            "unreviewed_labels": model_settings.unreviewed_labels,
            "codes": int(text["code"].nunique()),
            TEXT_FEATURES: list(model_settings.text_features),
            "text_example": MetadataValue.md(f"`{text['text'].iloc[0]}`") if len(text) else "none: no labelled row",
        },
    )
