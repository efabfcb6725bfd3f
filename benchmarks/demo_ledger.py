"""Demo months through the data layer's own functions: the setup that dataset_build, evidence_hit_rate, tokenization
and training share, written once so they build their rows the same way."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from acctax_assets.demo import write_demo_ledger
from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file


def ledger_month_features(folder: Path, paths: Iterable[Path]) -> dict[str, pd.DataFrame]:
    """Month start (YYYY-MM-01) → features of one ledger file a month (`ledger_YYYY-MM.*` in `folder`), read, cleaned
    and featurized as raw_ledger, cleaned_ledger and ledger_features do."""
    column_map = load_column_map()
    features = {}
    for path in paths:
        month = f"{path.stem.split('_')[-1]}-01"
        raw = combine([read_ledger_file(path, column_map, folder)])
        features[month] = build_features(clean_ledger(raw, month, CleaningRules()).cleaned)
    return features


def demo_month_features(folder: Path, months: Sequence[str], rows: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """`months` (YYYY-MM) of the demo ledger written into `folder` as UTF-8 CSV, then `ledger_month_features`."""
    return ledger_month_features(folder, write_demo_ledger(folder, list(months), rows, seed, encoding="utf-8"))
