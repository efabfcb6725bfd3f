"""Benchmark the data layer: demo month(s) of N rows → raw → cleaned → features → Parquet.

Runs the same pure functions the Dagster assets call and prints rows/s per stage and peak RSS.

    .venv/bin/python benchmarks/data_path.py                       # 1,000,000 rows, one month, UTF-8 CSV
    .venv/bin/python benchmarks/data_path.py --rows 200000 --encoding cp949
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.demo_ledger import write_demo_ledger
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, list_landing_files, read_ledger_file


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, rows: int, work: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = work()
    seconds = time.perf_counter() - start
    print(f"{label:<22} {seconds:8.2f} s {rows / seconds:>12,.0f} rows/s   peak RSS {peak_rss_mib():8,.0f} MiB")
    return value, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per month (default 1,000,000)")
    parser.add_argument("--month", default="2024-03", help="month to generate (YYYY-MM)")
    parser.add_argument("--encoding", default="utf-8", choices=["utf-8", "utf-8-sig", "cp949"])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    month_key = f"{args.month}-01"

    with tempfile.TemporaryDirectory() as folder:
        landing = Path(folder)
        started = time.perf_counter()
        write_demo_ledger(landing, [args.month], args.rows, args.seed, encoding=args.encoding)
        size_mib = sum(p.stat().st_size for p in landing.iterdir()) / 2**20
        print(f"generated {args.rows:,} rows ({size_mib:,.0f} MiB {args.encoding} CSV) in {time.perf_counter() - started:.1f} s (not timed below)")
        column_map = load_column_map()

        raw, t_raw = timed("raw (read + map)", args.rows, lambda: combine(
            [read_ledger_file(p, column_map, landing) for p in list_landing_files(landing)]))
        result, t_clean = timed("cleaned (+ rejected)", len(raw), lambda: clean_ledger(raw, month_key, CleaningRules()))
        features, t_features = timed("features", len(result.cleaned), lambda: build_features(result.cleaned))

        def write_all() -> None:
            for frame in (raw, result.cleaned, result.rejected, features):
                frame.to_parquet(io.BytesIO(), index=False)

        _, t_write = timed("parquet (4 tables)", len(raw), write_all)
        total = t_raw + t_clean + t_features
        print(f"{'raw → features':<22} {total:8.2f} s {len(raw) / total:>12,.0f} rows/s   "
              f"({len(result.cleaned):,} cleaned, {len(result.rejected):,} rejected; +{t_write:.1f} s Parquet)")
        print(f"peak RSS {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
