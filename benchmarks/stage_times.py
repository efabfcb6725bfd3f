"""Time raw → cleaned → features → text once on a landing folder and print the seconds per stage as JSON.

Run by `data_path.py --against REV` in a fresh process per measurement, with PYTHONPATH pointing at one
revision's checkout: whichever `acctax_assets` is importable is the code measured, so only the stage functions
every revision has are used here.

    PYTHONPATH=. .venv/bin/python benchmarks/stage_times.py LANDING 2024-03-01
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_files
from acctax_assets.ledger.landing import files_for_month, list_landing_files

try:
    from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, serialize_rows
except ImportError:  # a revision from before ml/ had rooms (55c7c8f)
    from acctax_assets.ml.serialization import DEFAULT_TEXT_FEATURES, serialize_rows


def stage_times(landing: Path, month_key: str) -> dict[str, float]:
    """Seconds per stage, as the assets run them, and the process's peak RSS in MiB."""
    column_map = load_column_map()
    seconds = {}
    started = time.perf_counter()
    files, _ = files_for_month(list_landing_files(landing), month_key, column_map, landing)
    raw = combine(read_ledger_files(files, column_map, landing))
    seconds["raw"] = time.perf_counter() - started
    started = time.perf_counter()
    cleaned = clean_ledger(raw, month_key, CleaningRules()).cleaned
    seconds["cleaned"] = time.perf_counter() - started
    started = time.perf_counter()
    features = build_features(cleaned)
    seconds["features"] = time.perf_counter() - started
    started = time.perf_counter()
    serialize_rows(features, DEFAULT_TEXT_FEATURES)
    seconds["text"] = time.perf_counter() - started
    return {**seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


if __name__ == "__main__":
    print(json.dumps(stage_times(Path(sys.argv[1]), sys.argv[2])))
