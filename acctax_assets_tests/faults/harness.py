"""Helpers of the fault-injection suite: the template home's months, the faults themselves, and the check that no
row was lost on the way (the generic run helpers are in support/dagster_runs.py)."""

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import AssetKey, ExecuteInProcessResult
from fsspec.implementations.local import LocalFileOpener

from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import JANUARY, PER_MONTH_ASSETS, stored

# The template home (faults/conftest.py): rows per account code of each month; no codes = an uncoded export.
TEMPLATE_CODES: dict[str, dict[str, int]] = {
    "2024-01-01": {"81100": 30, "82200": 26, "83000": 1},
    "2024-02-01": {"81100": 12},
    "2024-03-01": {},
}
# ledger_dataset's run config where the template's months are built into a dataset: they have two labelled months,
# fewer than the default temporal split needs (3), and the faults under test are not about the split.
STRATIFIED: dict[str, Any] = {"ops": {"ledger_dataset": {"config": {"split_strategy": "stratified"}}}}


def disk_full() -> OSError:
    """What a write raises when the disk is full."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def temp_files(root: Path) -> list[Path]:
    """Temp files or staging folders a write left behind."""
    return sorted(path for path in root.rglob("*") if path.name.endswith(".tmp"))


def identities(frame: pd.DataFrame) -> list[tuple[str, int]]:
    """(source file, spreadsheet row) of every row: a raw row's identity through cleaning."""
    return list(zip(frame["source_file"].astype(str), frame["source_row"].astype(int), strict=True))


def assert_no_row_lost(home: AcctaxHome, result: ExecuteInProcessResult, month: str = JANUARY) -> None:
    """raw rows = cleaned + rejected, on the stored Parquet files and in cleaned_ledger's metadata, and every raw
    row identity (source file, row) is in exactly one of the two."""
    raw, cleaned, rejected = (stored(home, asset, month) for asset in PER_MONTH_ASSETS[:3])
    assert len(raw) == len(cleaned) + len(rejected), (len(raw), len(cleaned), len(rejected))
    kept = identities(cleaned) + identities(rejected)
    assert len(set(kept)) == len(kept), "a raw row is in both cleaned and rejected"
    assert set(kept) == set(identities(raw))
    metadata = next(
        m.metadata
        for m in result.asset_materializations_for_node("cleaned_ledger")
        if m.asset_key == AssetKey("cleaned_ledger")
    )
    counts = (metadata["rows_in"].value, metadata["rows_out"].value, metadata["rows_rejected"].value)
    assert counts == (len(raw), len(cleaned), len(rejected)), counts


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, to compare a folder before and after a fault."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()
    }


def arrow_disk_full_after(free: int) -> Callable[..., Any]:
    """fsspec's local file `write` (what `save_to_disk` writes its Arrow files through) on a disk with `free` bytes
    left for Arrow files: the write that crosses the limit stores the bytes that fit, then it and every later
    Arrow write fail the way a full disk does."""
    original = LocalFileOpener.write
    left = [free]

    def write(self: LocalFileOpener, data: Any, *args: Any, **kwargs: Any) -> Any:
        if not str(self.path).endswith(".arrow"):
            return original(self, data, *args, **kwargs)
        chunk = memoryview(data).cast("B")
        if len(chunk) > left[0]:
            original(self, chunk[: left[0]].tobytes())
            left[0] = 0
            raise disk_full()
        left[0] -= len(chunk)
        return original(self, data, *args, **kwargs)

    return write
