"""Partition-aware Parquet storage that writes atomically: a crash mid-write leaves the previous file."""

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    ConfigurableIOManagerFactory,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
    UPathIOManager,
)
from pydantic import Field
from upath import UPath

from acctax_assets.atomic_writes import stream_file
from acctax_assets.defs.dagster_internals import partition_paths, safe_partition_segment
from acctax_assets.defs.metadata_format import preview_table
from acctax_assets.ledger.parsing import read_parquet_frame
from acctax_assets.paths import AcctaxHome

PREVIEW_ROWS = 5
# Input metadata (`AssetIn(metadata={AS_ARROW: True})`) asking for pyarrow Tables instead of DataFrames: an input
# of many partitions read without pandas object columns (ledger_dataset reads every month of model_text).
AS_ARROW = "acctax/as_arrow"


def table_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(columns=[TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()])


class _ParquetUPathIOManager(UPathIOManager):
    extension = ".parquet"

    def make_safe_partition_path(self, base_path: UPath, partition: str) -> UPath:
        return base_path / safe_partition_segment(partition)

    def dump_to_path(self, context: OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: the Parquet IO manager stores DataFrames, got {type(obj).__name__}"
            )
        stream_file(path, lambda stream: obj.to_parquet(stream, index=False))

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame | pa.Table:
        with path.open("rb") as handle:
            if context.definition_metadata.get(AS_ARROW):
                return pq.read_table(handle)
            return read_parquet_frame(handle)

    def load_partitions(
        self, context: InputContext
    ) -> pd.DataFrame | pa.Table | dict[str, pd.DataFrame] | dict[str, pa.Table]:
        """All-months inputs get the months that exist, with one line naming the missing ones (instead of
        a warning per unmaterialized month of the whole partition range)."""
        keys = context.asset_partition_keys
        if len(keys) == 1:
            return super().load_partitions(context)
        paths = partition_paths(self, context)
        present = {key: path for key, path in paths.items() if path.exists()}
        missing = sorted(set(keys) - set(present))
        if missing:
            context.log.info(
                f"{context.asset_key.to_user_string()}: {len(present)} of {len(keys)} partitions materialized; not loaded: {missing[0]} … {missing[-1]} ({len(missing)})"
            )
        return {key: self.load_from_path(context, path) for key, path in sorted(present.items())}

    def get_metadata(self, context: OutputContext, obj: pd.DataFrame) -> dict[str, MetadataValue]:
        return {
            "dagster/row_count": MetadataValue.int(len(obj)),
            "dagster/column_schema": MetadataValue.table_schema(table_schema(obj)),
            "preview": preview_table(obj.head(PREVIEW_ROWS)),
        }


class ParquetIOManager(ConfigurableIOManagerFactory):
    """Stores DataFrames as `<base_path>/<asset>/<partition>.parquet`; base_path may be any fsspec URL."""

    base_path: str | None = Field(default=None, description="Default: $ACCTAX_HOME/storage")

    def create_io_manager(self, context: Any) -> _ParquetUPathIOManager:
        base = UPath(self.base_path) if self.base_path else UPath(AcctaxHome.from_env().storage)
        return _ParquetUPathIOManager(base_path=base)


def stored_column(asset: str, partitions: Sequence[str], column: str) -> dict[str, pd.Series]:
    """One column of each partition of `asset` that ParquetIOManager (default base path) has stored, read without
    the other columns: a figure over many months that needs one field of each must not load whole ledgers."""
    base = UPath(AcctaxHome.from_env().storage) / asset
    found = {}
    for key in partitions:
        path = base / f"{safe_partition_segment(key)}{_ParquetUPathIOManager.extension}"
        if path.exists():
            with path.open("rb") as handle:
                found[key] = pq.read_table(handle, columns=[column]).column(0).to_pandas()
    return found
