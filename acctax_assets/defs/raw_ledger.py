"""`raw_ledger`: every landing file of the partition's month, stacked as text with its lineage."""

import pandas as pd
from dagster import AssetExecutionContext, DataVersion, Failure, Output, asset

from acctax_assets.defs.metadata_format import frame_table, listing, mapping_table, readable
from acctax_assets.defs.partitions import explain_months, ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.fingerprints import landing_version
from acctax_assets.ledger.ingestion import combine, read_ledger_files


@asset(partitions_def=ledger_months, group_name="ledger", kinds={"pandas", "parquet"})
@explain_months
def raw_ledger(context: AssetExecutionContext, settings: LedgerSettings) -> Output[pd.DataFrame]:
    """The month's landing files as read: Korean headers mapped to canonical names, values untouched. Its data
    version is the digest of those files (`landing_version`), which ledger_file_sensor compares with the folder."""
    month = context.partition_key
    home = settings.acctax_home
    column_map = settings.column_map()
    files, unmapped = settings.landing_months().files_for_month(month)
    for problem in unmapped:
        context.log.warning(f"Skipped a file whose month cannot be determined: {problem}")
    if not files:
        raise Failure(
            description=(
                f"No landing file belongs to {month[:7]} in {home.landing}. Fix: drop that month's export there "
                f"(a file name containing {month[:7]} or {month[:4]}{month[5:7]}), or materialize a month that has files."
            )
        )
    ledger_files = read_ledger_files(files, column_map, home.landing)
    raw = combine(ledger_files)
    unknown = sorted({h for f in ledger_files for h in f.mapping.unknown})
    if unknown:
        context.log.warning(
            f"Unknown columns kept as snake_case: {unknown}. Map them in {home.column_map_override} if they matter."
        )
    for warning in (w for f in ledger_files for w in f.warnings):
        context.log.warning(warning)
    for note in (n for f in ledger_files for n in f.notes):
        context.log.info(note)
    for ledger in ledger_files:
        if ledger.columns_missing:
            context.log.info(f"{ledger.source_file}: no column for {', '.join(ledger.columns_missing)} (left empty)")
    files_table = pd.DataFrame(
        {
            "file": [f.source_file for f in ledger_files],
            "format": [f.kind for f in ledger_files],
            "encoding": [f.encoding for f in ledger_files],
            "rows": [f.rows for f in ledger_files],
            "labelled_rows": [f.labelled_rows for f in ledger_files],
            "preamble_rows": [f.preamble_rows for f in ledger_files],
            "structure_lines": [
                ", ".join(f"{kind} {count}" for kind, count in f.structure_lines.items()) for f in ledger_files
            ],
            "malformed_lines": [f.malformed_lines for f in ledger_files],
            "dates_completed": [
                ", ".join(f"{origin} {count}" for origin, count in f.dates_completed.items()) for f in ledger_files
            ],
            "company": [f.company_source for f in ledger_files],
            "columns_missing": [len(f.columns_missing) for f in ledger_files],
        }
    )
    version = landing_version(files, home.landing)
    return Output(
        raw,
        data_version=DataVersion(version),
        metadata=readable(
            {
                "landing_version": version,
                "source_files": frame_table(files_table),
                "files": len(files),
                "rows": len(raw),
                "columns_mapped": listing(sorted({h for f in ledger_files for h in f.mapping.mapped})),
                "columns_unknown": listing(unknown),
                "files_unmapped": listing(unmapped),
                # Files and sheets read but holding no ledger (a cover page, a 일계표, a summary); also in the log.
                "files_skipped": [note for f in ledger_files for note in f.skipped],
                "preamble_rows": mapping_table(
                    {f.source_file: f.preamble_rows for f in ledger_files if f.preamble_rows}, "file", "rows"
                ),
                "columns_missing": mapping_table(
                    {f.source_file: f.columns_missing for f in ledger_files if f.columns_missing}, "file", "columns"
                ),
                "companies_assigned": mapping_table(
                    {f.source_file: f.company_source for f in ledger_files if f.company}, "file", "company from"
                ),
                # Reviewed exports of the platform coming back (their 원본파일/원본행 columns): cleaning lets them
                # supersede the lines they answer (cleaned_ledger's superseded_by_file).
                "answer_files": mapping_table(
                    {f.source_file: f.rows for f in ledger_files if "origin_file" in f.mapping.rename.values()},
                    "file",
                    "rows",
                ),
                # Dates not printed in full on their line: the year read from the period line/title/file name, or the
                # date filled from the line above in a day-by-day print.
                "dates_completed": mapping_table(
                    {f.source_file: f.dates_completed for f in ledger_files if f.dates_completed},
                    "file",
                    "dates completed",
                ),
            }
        ),
    )
