"""Parquet IO manager: partition paths, metadata, atomic writes, and fsspec URLs."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetExecutionContext, DailyPartitionsDefinition, ExecuteInProcessResult, asset, materialize
from upath import UPath

from acctax_assets.defs.io_managers import ParquetIOManager
from acctax_assets.ledger.parsing import TEXT
from acctax_assets.paths import AcctaxHome

days = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=days)
def table(context: AssetExecutionContext) -> pd.DataFrame:
    if context.run.tags.get("fail") == "yes":
        return pd.DataFrame({"value": [object()]})
    return pd.DataFrame({"value": [1, 2, 3], "text": ["a", "b", None]})


def run(base: str | None, partition: str = "2024-01-02", tags: dict[str, str] | None = None) -> ExecuteInProcessResult:
    return materialize(
        [table],
        partition_key=partition,
        resources={"io_manager": ParquetIOManager(base_path=base)},
        tags=tags or {},
        raise_on_error=False,
    )


def test_partitioned_parquet_with_metadata(tmp_path: Path) -> None:
    result = run(str(tmp_path))
    assert result.success
    path = tmp_path / "table" / "2024-01-02.parquet"
    assert pd.read_parquet(path)["value"].tolist() == [1, 2, 3]
    metadata = result.asset_materializations_for_node("table")[0].metadata
    assert metadata["dagster/row_count"].value == 3
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == ["value", "text"]
    preview = [record.data for record in metadata["preview"].records]
    assert [row["value"] for row in preview] == [1, 2, 3] and "" in [row["text"] for row in preview], (
        "the preview is a table; a missing text is an empty cell"
    )


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path: Path) -> None:
    assert run(str(tmp_path)).success
    path = tmp_path / "table" / "2024-01-02.parquet"
    before = path.read_bytes()
    assert not run(str(tmp_path), tags={"fail": "yes"}).success
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["2024-01-02.parquet"]


def test_default_base_path_is_inside_acctax_home(home: AcctaxHome) -> None:
    assert run(None).success
    assert (home.storage / "table" / "2024-01-02.parquet").exists()


@pytest.mark.parametrize("scheme", ["file://", "memory://"])
def test_fsspec_urls(tmp_path: Path, scheme: str) -> None:
    base = f"file://{tmp_path}" if scheme == "file://" else "memory://acctax-test"
    assert run(base).success
    assert run(base, partition="2024-01-03").success
    stored = UPath(base) / "table"
    assert sorted(p.name for p in stored.iterdir()) == ["2024-01-02.parquet", "2024-01-03.parquet"]


@asset(partitions_def=days)
def reader(table: pd.DataFrame) -> None:
    """Downstream of `table`: what the IO manager hands an asset (checked in the asset, where the value lives)."""
    assert table["text"].dtype == TEXT, "text comes back Arrow-backed, not as Python str objects"
    assert table["text"].isna().tolist() == [False, False, True]
    assert table["value"].tolist() == [1, 2, 3]


def test_text_columns_load_as_arrow_backed_strings(tmp_path: Path) -> None:
    result = materialize(
        [table, reader],
        partition_key="2024-01-02",
        resources={"io_manager": ParquetIOManager(base_path=str(tmp_path))},
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
