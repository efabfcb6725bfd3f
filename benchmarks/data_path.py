"""Benchmark the data layer: demo month(s) of N rows → raw → cleaned → features → model text → Parquet.

Runs the same pure functions the Dagster assets call and prints rows/s per stage and peak RSS. With
`--files N` the same rows are also split into N files, one per client company as an office exports them,
and the raw stage (listing, month detection, reading, combining) of the N files is timed against the one
file in the same run (best of --repeat), as a ratio. With `--against REV` the stages raw → text are also
timed with the code of git revision REV (checked out in a temporary worktree) and with this tree's code, on
the same files in the same run, each measurement in its own process, the two sides interleaved, best of
--repeat, and printed side by side with the ratio this tree / REV.

    .venv/bin/python benchmarks/data_path.py                       # 1,000,000 rows, one month, UTF-8 CSV
    .venv/bin/python benchmarks/data_path.py --rows 200000 --encoding cp949
    .venv/bin/python benchmarks/data_path.py --rows 58000 --files 400
    .venv/bin/python benchmarks/data_path.py --rows 200000 --against HEAD~3
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from revisions import REPO, checkout

from acctax_assets.demo import write_demo_ledger
from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import ColumnMap, load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_files
from acctax_assets.ledger.landing import files_for_month, list_landing_files
from acctax_assets.ledger.parsing import read_parquet_frame
from acctax_assets.ledger.schema import COMPANY_COLUMN, KOREAN_HEADERS
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, serialize_rows


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, rows: int, work: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = work()
    seconds = time.perf_counter() - start
    print(f"{label:<22} {seconds:8.2f} s {rows / seconds:>12,.0f} rows/s   peak RSS {peak_rss_mib():8,.0f} MiB")
    return value, seconds


def raw_stage(landing: Path, month_key: str, column_map: ColumnMap) -> pd.DataFrame:
    """What raw_ledger does: the month's files found, read and combined."""
    files, _ = files_for_month(list_landing_files(landing), month_key, column_map, landing)
    return combine(read_ledger_files(files, column_map, landing))


def split_by_company(source: Path, out: Path, files: int, encoding: str) -> None:
    """The rows of `source` in `files` files, one client company after another (a company with many rows
    spans several files), as an office that exports one file per client writes them."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding=encoding)
    frame = frame.iloc[np.argsort(frame[KOREAN_HEADERS[COMPANY_COLUMN]].to_numpy(), kind="stable")]
    out.mkdir()
    for number, rows in enumerate(np.array_split(np.arange(len(frame)), files)):
        frame.iloc[rows].to_csv(
            out / f"client{number:04d}_{source.stem.split('_')[-1]}.csv", index=False, encoding=encoding
        )


def compare_file_counts(
    landing: Path, files: int, month_key: str, column_map: ColumnMap, encoding: str, repeat: int
) -> None:
    """Raw stage of the month as one file and as `files` files, interleaved, best of `repeat` each."""
    split = landing.parent / "split"
    split_by_company(list_landing_files(landing)[0], split, files, encoding)
    best = {landing: float("inf"), split: float("inf")}
    for _ in range(repeat):
        for folder in best:
            started = time.perf_counter()
            raw_stage(folder, month_key, column_map)
            best[folder] = min(best[folder], time.perf_counter() - started)
    print(f"{'raw, 1 file':<22} {best[landing]:8.3f} s")
    print(
        f"{f'raw, {files} files':<22} {best[split]:8.3f} s   {best[split] / best[landing]:.2f}× the one file "
        f"(best of {repeat}, same rows, same run)"
    )


# Stage keys of stage_times.py and how this script labels them.
STAGES = {
    "raw": "raw (read + map)",
    "cleaned": "cleaned (+ rejected)",
    "features": "features",
    "text": "text (serialize)",
}


def side_times(tree: Path, landing: Path, month_key: str) -> dict[str, float]:
    """One timing of the stages with the `acctax_assets` of `tree`, in a fresh process (stage_times.py)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("stage_times.py")), str(landing), month_key],
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"stage_times.py failed with the code of {tree}:\n{done.stderr}")
    times = json.loads(done.stdout.splitlines()[-1])
    return {**times, "raw → text": sum(times[stage] for stage in STAGES)}


def compare_revisions(landing: Path, month_key: str, revision: str, repeat: int) -> None:
    """Stages raw → text with REV's code and with this tree's, interleaved, best of `repeat` each."""
    best: dict[str, dict[str, float]] = {revision: {}, "this tree": {}}
    peak = dict.fromkeys(best, 0.0)
    with checkout(revision) as old:
        trees = {revision: old, "this tree": REPO}
        for round_ in range(repeat):
            for side in list(trees)[:: 1 if round_ % 2 == 0 else -1]:
                times = side_times(trees[side], landing, month_key)
                peak[side] = max(peak[side], times.pop("peak_rss_mib"))
                best[side] = {stage: min(best[side].get(stage, float("inf")), s) for stage, s in times.items()}
    print(f"against {revision}: best of {repeat} per side, each timing in its own process, sides interleaved")
    print(f"{'':<22} {revision:>10} {'this tree':>10}   this tree / {revision}")
    for stage, label in [*STAGES.items(), ("raw → text", "raw → text")]:
        old_s, new_s = best[revision][stage], best["this tree"][stage]
        print(f"{label:<22} {old_s:8.2f} s {new_s:8.2f} s   {new_s / old_s:.2f}")
    print(
        f"{'peak RSS (MiB)':<22} {peak[revision]:10,.0f} {peak['this tree']:10,.0f}   {peak['this tree'] / peak[revision]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per month (default 1,000,000)")
    parser.add_argument("--month", default="2024-03", help="month to generate (YYYY-MM)")
    parser.add_argument("--encoding", default="utf-8", choices=["utf-8", "utf-8-sig", "cp949"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--files", type=int, default=1, help="also time the raw stage of the same rows split into N files"
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also time raw → text with git revision REV's code and this tree's, side by side",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timings per side for --files and --against (best is kept)"
    )
    args = parser.parse_args()
    month_key = f"{args.month}-01"

    with tempfile.TemporaryDirectory() as folder:
        landing = Path(folder) / "landing"
        started = time.perf_counter()
        write_demo_ledger(landing, [args.month], args.rows, args.seed, encoding=args.encoding)
        size_mib = sum(p.stat().st_size for p in landing.iterdir()) / 2**20
        print(
            f"generated {args.rows:,} rows ({size_mib:,.0f} MiB {args.encoding} CSV) in {time.perf_counter() - started:.1f} s (not timed below)"
        )
        column_map = load_column_map()

        if args.files > 1:
            compare_file_counts(landing, args.files, month_key, column_map, args.encoding, args.repeat)
        if args.against:
            compare_revisions(landing, month_key, args.against, args.repeat)
        raw, t_raw = timed("raw (read + map)", args.rows, lambda: raw_stage(landing, month_key, column_map))
        result, t_clean = timed("cleaned (+ rejected)", len(raw), lambda: clean_ledger(raw, month_key, CleaningRules()))
        features, t_features = timed("features", len(result.cleaned), lambda: build_features(result.cleaned))
        text_rss = peak_rss_mib()
        text, t_text = timed("text (serialize)", len(features), lambda: serialize_rows(features, DEFAULT_TEXT_FEATURES))
        frame_mib = features.memory_usage(deep=True).sum() / 2**20
        print(
            f"{'':<22} serialization peak RSS +{peak_rss_mib() - text_rss:,.0f} MiB over {frame_mib:,.0f} MiB of features "
            f"({len(text):,} texts)"
        )
        buffers: dict[str, io.BytesIO] = {}

        def write_all() -> None:
            for name, frame in (
                ("raw", raw),
                ("cleaned", result.cleaned),
                ("rejected", result.rejected),
                ("features", features),
            ):
                buffers[name] = io.BytesIO()
                frame.to_parquet(buffers[name], index=False)

        _, t_write = timed("parquet write (4)", len(raw), write_all)
        _, t_read_raw = timed(
            "parquet read raw", len(raw), lambda: read_parquet_frame(io.BytesIO(buffers["raw"].getvalue()))
        )
        timed(
            "parquet read features",
            len(features),
            lambda: read_parquet_frame(io.BytesIO(buffers["features"].getvalue())),
        )
        total = t_raw + t_clean + t_features + t_text
        print(
            f"{'raw → text':<22} {total:8.2f} s {len(raw) / total:>12,.0f} rows/s   "
            f"({len(result.cleaned):,} cleaned, {len(result.rejected):,} rejected; +{t_write:.1f} s Parquet)"
        )
        print(f"reading raw back: Parquet {t_read_raw:.2f} s vs CSV {t_raw:.2f} s ({t_raw / t_read_raw:.2f}x)")
        print(f"peak RSS {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
