"""`prediction_export`: the month's proposals as a file in the office's layout under $ACCTAX_HOME/exports."""

from typing import Literal

import pandas as pd
from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from acctax_assets.defs.partitions import explain_months, ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.export import office_layout, write_export


class ExportConfig(Config):
    format: Literal["csv", "xlsx"] = Field(default="csv", description="csv: UTF-8 with BOM; xlsx: one sheet")


@asset(partitions_def=ledger_months, group_name="predictions", kinds={"csv", "excel"})
@explain_months
def prediction_export(
    context: AssetExecutionContext,
    config: ExportConfig,
    raw_ledger: pd.DataFrame,
    rejected_ledger_rows: pd.DataFrame,
    ledger_predictions: pd.DataFrame,
    settings: LedgerSettings,
) -> MaterializeResult:
    """Every raw line of the month with the proposed 계정과목코드/계정과목 and 검토필요, ready to import. Written with
    ledger_predictions, so it is grey for the same months: coded months are not predicted."""
    month = context.partition_key[:7]
    try:
        layout = office_layout(raw_ledger, ledger_predictions, rejected_ledger_rows)
    except ValueError as exc:
        raise Failure(description=f"prediction_export {month}: {exc}") from exc
    path = write_export(
        layout, settings.acctax_home.exports / f"account_proposals_{month}.{config.format}", config.format
    )
    review = int((layout["검토필요"] == "Y").sum())
    context.log.info(f"Wrote {len(layout)} rows ({review} to review) to {path}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "rows": len(layout),
            "rows_to_review": review,
            "rows_rejected": len(rejected_ledger_rows),
            "format": config.format,
        }
    )
