"""`cleaned_ledger` and `rejected_ledger_rows`: typed, validated rows and the rows that failed, with why."""

from collections.abc import Iterator

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetOut, DataVersion, MetadataValue, Output, multi_asset

from acctax_assets.defs.io_managers import table_schema
from acctax_assets.defs.metadata_format import mapping_table, readable
from acctax_assets.defs.partitions import ledger_months, months_note
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.cleaning import clean_ledger, running_balances, within_file_twins
from acctax_assets.ledger.fingerprints import table_version
from acctax_assets.ledger.schema import LABEL_SOURCE


@multi_asset(
    partitions_def=ledger_months,
    group_name="ledger",
    ins={"raw_ledger": AssetIn()},
    outs={
        "cleaned_ledger": AssetOut(
            description=months_note("Typed, validated, deduplicated voucher lines of the month."),
            kinds={"pandas", "parquet"},
        ),
        "rejected_ledger_rows": AssetOut(
            description=months_note("Raw rows that failed validation, with reject_reason and reject_detail."),
            kinds={"pandas", "parquet"},
        ),
    },
)
def cleaned_ledger(
    context: AssetExecutionContext, raw_ledger: pd.DataFrame, settings: LedgerSettings
) -> Iterator[Output[pd.DataFrame]]:
    """Split the raw month into clean rows and rejected rows; together they are exactly the raw rows. Data versions
    are content digests, so re-cleaning unchanged files is not a new month for the automation downstream."""
    result = clean_ledger(raw_ledger, context.partition_key, settings.rules)
    by_reason = result.rejected_by_reason
    context.log.info(
        f"{len(raw_ledger)} raw rows -> {len(result.cleaned)} cleaned, {len(result.rejected)} rejected {by_reason}"
    )
    for file, lines in result.superseded_by.items():
        context.log.info(f"{file} superseded {lines} earlier lines of the month (the clerk's answer)")
    for file, lines in result.answers_unmatched.items():
        context.log.warning(
            f"{file}: {lines} answered lines match no line read before (by 원본파일/원본행 or by date, amount and "
            "text); kept as new lines. Fix: if they were re-sorted or edited beyond recognition, re-export the month"
        )
    balances = running_balances(raw_ledger)
    if balances["rows"]:
        context.log.info(
            f"{balances['rows']} rows of {balances['files']} files print a running balance (잔액): kept as "
            "balance_amount, not read as the amount"
        )
    yield Output(
        result.cleaned,
        output_name="cleaned_ledger",
        data_version=DataVersion(table_version(result.cleaned)),
        metadata=readable(
            {
                "rows_in": len(raw_ledger),
                "rows_out": len(result.cleaned),
                "rows_rejected": len(result.rejected),
                "rejected_by_reason": mapping_table(by_reason, "reason", "rows"),
                "duplicates_removed": by_reason.get("duplicate", 0),
                # Identical keyless lines within one file are separate payments and kept; a copy in another file is a
                # duplicate (removed above).
                "identical_lines_kept": within_file_twins(result.cleaned),
                # The clerk's answers (a reviewed export, a final export with codes): lines each answer file superseded,
                # its lines matched to no earlier line (kept as new lines), codes a later answer changed, and where
                # every label came from.
                "superseded_by_file": mapping_table(result.superseded_by, "file", "lines"),
                "answer_lines_unmatched": mapping_table(result.answers_unmatched, "file", "lines"),
                "answer_codes_changed": result.answers_changed,
                "label_sources": mapping_table(result.cleaned[LABEL_SOURCE].value_counts().to_dict(), "source", "rows"),
                "labelled_rows": int(result.cleaned["acct_code"].notna().sum()),
                "classes": int(result.cleaned["acct_code"].nunique()),
                "running_balance": mapping_table(balances, "counted", "number"),
                "schema": MetadataValue.table_schema(table_schema(result.cleaned)),
            }
        ),
    )
    yield Output(
        result.rejected,
        output_name="rejected_ledger_rows",
        data_version=DataVersion(table_version(result.rejected)),
        metadata={
            "rows": len(result.rejected),
            "by_reason": mapping_table(by_reason, "reason", "rows") if by_reason else "no rejected rows",
        },
    )
