"""README's Dagster commands work as written: the workspace loads and one month re-materializes from the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from acctax_assets import demo
from acctax_assets.paths import AcctaxHome

REPO = Path(__file__).resolve().parents[1]
DAGSTER = [sys.executable, "-m", "dagster"]


def dagster(*args: str, home: AcctaxHome | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if home is not None:
        env.update(ACCTAX_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home))
    return subprocess.run([*DAGSTER, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_workspace_yaml_loads_the_code_location() -> None:
    result = dagster("definitions", "validate", "-w", "workspace.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


@pytest.mark.slow
def test_rematerialize_one_month_from_the_cli(home: AcctaxHome) -> None:
    demo.main(["--start", "2024-02", "--end", "2024-03", "--rows-per-month", "300", "--out", str(home.landing)])
    result = dagster(
        "asset",
        "materialize",
        "-m",
        "acctax_assets.definitions",
        "--select",
        "raw_ledger,cleaned_ledger,rejected_ledger_rows,ledger_features",
        "--partition",
        "2024-03-01",
        home=home,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(pd.read_parquet(home.storage / "ledger_features" / "2024-03-01.parquet")) > 250
    assert not (home.storage / "raw_ledger" / "2024-02-01.parquet").exists(), "only the requested month runs"
