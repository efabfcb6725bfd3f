"""ledger_dataset's build at an office's size: the pandas path it had (before this benchmark's commit) against the
Arrow path it has now, on the same month partitions, measured in the same run.

What each side does, as the asset does it: read every month of `model_text` through the real Parquet IO manager
(`load_from_path`: DataFrames for the old side, pyarrow Tables with `AS_ARROW` for the new one), concatenate the
months, register the codes, split train/valid/test (stratified, seed 42, text leakage removed), build one
`datasets.Dataset` per split and save them (old: `save_to_disk`; new: `save_dataset`, as DatasetIOManager now
does). The old side's split and build are kept below verbatim (`legacy_split_frame`, `legacy_build_dataset`) as
the reference. Each side runs in its own child process, so its peak RSS (`ru_maxrss` from `os.wait4`) is its
own; wall time per stage is measured inside the child, after the imports. At the end the two saved datasets are
compared split by split: the same schema, rows, labels and order, or the run fails.

The data is generated cheaply: `--base-months` real demo months (`write_demo_ledger` through ingestion, cleaning,
features and `model_text` serialization, ~1.5 s each), repeated with altered month keys to `--months` months.
Each copy is changed so that it is not a duplicate of its base month: the account code's last digit is replaced by
one of six variants chosen by the client company (~250 codes with the demo's long tail, like an office), and
four rows in five get the month appended to their text (the fifth keeps a text seen in other months: realistic
leakage candidates). Files are written as the IO manager writes them (`DataFrame.to_parquet`, one per month).

    .venv/bin/python benchmarks/dataset_build.py                 # 24 months x 58,000 rows
    .venv/bin/python benchmarks/dataset_build.py --months 60     # an office: 3.4 M labelled rows

At 60 months (3.41 M rows, ~250 codes; 2 cores shared with other work, load ~3, two runs at bd961c5): old
41.2-46.8 s and 5.78 GB peak RSS, new 7.8-10.8 s and 2.24-2.25 GB (4.3-5.3x faster, 2.6x less memory); the
split and build stage 33.6-35.7 s vs 3.8-5.2 s; identical splits (2,728,320 / 285,962 / 285,983 rows).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIDES = ("old", "new")
SEED = 42


def month_keys(count: int) -> list[str]:
    return [f"{2020 + index // 12}-{index % 12 + 1:02d}-01" for index in range(count)]


def base_months(folder: Path, count: int, rows: int) -> list[pd.DataFrame]:
    """`count` demo months through the real data chain, as the model_text asset stores them."""
    from acctax_assets.demo import write_demo_ledger
    from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
    from acctax_assets.ledger.column_map import load_column_map
    from acctax_assets.ledger.features import build_features
    from acctax_assets.ledger.ingestion import combine, read_ledger_file
    from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, model_text

    column_map = load_column_map()
    names = [f"2024-{month:02d}" for month in range(1, count + 1)]
    frames = []
    for path in write_demo_ledger(folder, names, rows, seed=7, encoding="utf-8"):
        month = f"{path.stem.split('_')[-1]}-01"
        raw = combine([read_ledger_file(path, column_map, folder)])
        features = build_features(clean_ledger(raw, month, CleaningRules()).cleaned)
        frames.append(model_text(features, month, DEFAULT_TEXT_FEATURES))
    return frames


def office_month(base: pd.DataFrame, month: str, index: int) -> pd.DataFrame:
    """A copy of a demo month as another month of an office with more codes (see the module docstring)."""
    company = base["text"].str.extract(r"^co:([^|]*)", expand=False).fillna("")
    variant = company.map({name: zlib.crc32(name.encode()) % 6 for name in company.unique()})
    rows = np.arange(len(base))
    fresh = (rows + index) % 5 != 0
    return base.assign(
        text=base["text"].where(~fresh, base["text"] + f" · {month[:7]}"),
        code=base["code"].str[:4] + variant.astype(str),
        month=month,
        source_file=f"ledger_{month[:7]}.csv",
    )


def write_partitions(data: Path, months: int, rows: int, bases: int) -> int:
    """model_text partitions `<data>/model_text/<month>.parquet`; returns the number of rows written."""
    with tempfile.TemporaryDirectory() as scratch:
        frames = base_months(Path(scratch), bases, rows)
    folder = data / "model_text"
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for index, month in enumerate(month_keys(months)):
        frame = office_month(frames[index % len(frames)], month, index)
        frame.to_parquet(folder / f"{month}.parquet", index=False)
        total += len(frame)
    return total


def partition_reader(data: Path, as_arrow: bool) -> Callable[[], dict[str, Any]]:
    """Reads every month through the real IO manager's `load_from_path`, as ledger_dataset's input receives them
    (Dagster is imported and the context built before the clock starts)."""
    from dagster import build_input_context
    from upath import UPath

    from acctax_assets.defs.io_managers import AS_ARROW, _ParquetUPathIOManager

    manager = _ParquetUPathIOManager(base_path=UPath(data))
    context = build_input_context(definition_metadata={AS_ARROW: True} if as_arrow else {})
    paths = sorted((data / "model_text").glob("*.parquet"))
    return lambda: {path.stem: manager.load_from_path(context, UPath(path)) for path in paths}


def legacy_stratified_positions(
    labels: np.ndarray, valid_size: float, test_size: float, min_rows: int, seed: int
) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(labels), dtype="int8")
    train_only = []
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        if len(positions) < min_rows:
            train_only.append(label)
            continue
        rng.shuffle(positions)
        n_test = max(1, int(round(len(positions) * test_size))) if test_size > 0 else 0
        n_valid = max(1, int(round(len(positions) * valid_size))) if valid_size > 0 else 0
        n_valid = min(n_valid, len(positions) - n_test - 1)
        assignment[positions[:n_test]] = 2
        assignment[positions[n_test : n_test + n_valid]] = 1
    return assignment, train_only


def legacy_split_frame(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The old `split_frame` (stratified, default sizes), without its report's label table."""
    assignment, _ = legacy_stratified_positions(frame["code"].to_numpy(), 0.1, 0.1, 3, SEED)
    parts = {
        name: frame.iloc[np.flatnonzero(assignment == index)] for index, name in enumerate(("train", "valid", "test"))
    }
    train_texts = set(parts["train"]["text"])
    for name in ("valid", "test"):
        parts[name] = parts[name].loc[~parts[name]["text"].isin(train_texts)]
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def legacy_build_dataset(rows: pd.DataFrame) -> Any:
    """The old `build_dataset`: registry from pandas, pandas split, `Dataset.from_pandas` per split."""
    from datasets import Dataset, DatasetDict

    from acctax_assets.ml.data.dataset import DATASET_COLUMNS, hf_features
    from acctax_assets.ml.data.label_slots import LabelSlots

    names = rows.drop_duplicates("code").set_index("code")["name"].to_dict()
    label_slots = LabelSlots().with_codes(rows["code"].unique(), names)
    features = hf_features(label_slots)
    splits = {}
    for name, part in legacy_split_frame(rows).items():
        table = part.assign(label=label_slots.ids(part["code"]))[list(DATASET_COLUMNS)]
        splits[name] = Dataset.from_pandas(table, features=features, preserve_index=False)
    return DatasetDict(splits)


def run_side(side: str, data: Path, out: Path) -> dict[str, float]:
    """One side's stages, timed; the dataset is saved under `out`."""
    from datasets import disable_progress_bars

    from acctax_assets.ml.data.dataset import build_dataset, save_dataset
    from acctax_assets.ml.data.label_slots import LabelSlots
    from acctax_assets.ml.data.serialization import concat_model_tables, concat_model_text
    from acctax_assets.ml.data.splits import SplitSettings

    disable_progress_bars()
    read = partition_reader(data, as_arrow=side == "new")
    times: dict[str, float] = {}
    started = time.perf_counter()
    months = read()
    times["read"] = time.perf_counter() - started
    mark = time.perf_counter()
    if side == "new":
        rows = concat_model_tables(months[month] for month in sorted(months))
        times["concat"] = time.perf_counter() - mark
        mark = time.perf_counter()
        dataset, _, _ = build_dataset(rows, LabelSlots(), SplitSettings(seed=SEED))
    else:
        frame = concat_model_text(months[month] for month in sorted(months))
        times["concat"] = time.perf_counter() - mark
        mark = time.perf_counter()
        dataset = legacy_build_dataset(frame)
    times["split_and_build"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if side == "new":
        save_dataset(dataset, out)
    else:
        dataset.save_to_disk(str(out))
    times["save"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    return times


def measure(side: str, data: Path, out: Path) -> dict[str, Any]:
    """Run one side in a child process: its stage times and its own peak RSS."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--side", side, "--data", str(data), "--out", str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
    )
    stdout = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, for its rusage: Popen must not wait
    if process.returncode != 0:
        raise RuntimeError(f"the {side} side failed with exit code {process.returncode}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "peak_rss_gb": usage.ru_maxrss / 2**20}


def same_dataset(old: Path, new: Path) -> dict[str, int]:
    """Rows per split; raises if a split differs in schema, rows or order."""
    from datasets import load_from_disk

    before, after = load_from_disk(str(old)), load_from_disk(str(new))
    sizes = {}
    for name in before:
        if before[name].features != after[name].features or not before[name].data.table.equals(after[name].data.table):
            raise AssertionError(f"split {name} differs between the old and the new build")
        sizes[name] = len(after[name])
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--rows-per-month", type=int, default=58_000)
    parser.add_argument("--base-months", type=int, default=6, help="real demo months the others copy")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.side:
        print(json.dumps(run_side(options.side, options.data, options.out)))
        return

    with tempfile.TemporaryDirectory(prefix="dataset_build.") as root:
        data = Path(root)
        started = time.perf_counter()
        rows = write_partitions(data, options.months, options.rows_per_month, options.base_months)
        print(f"{options.months} months, {rows:,} labelled rows generated in {time.perf_counter() - started:.0f} s")
        results = {side: measure(side, data, data / side) for side in SIDES}
        sizes = same_dataset(data / "old", data / "new")
    print(f"splits identical: {sizes}")
    stages = [key for key in results["old"] if key != "peak_rss_gb"]
    print(f"{'stage':<16}{'old s':>9}{'new s':>9}{'old/new':>9}")
    for stage in stages:
        old, new = results["old"][stage], results["new"][stage]
        print(f"{stage:<16}{old:>9.2f}{new:>9.2f}{old / max(new, 0.01):>9.1f}")
    old_rss, new_rss = results["old"]["peak_rss_gb"], results["new"]["peak_rss_gb"]
    print(f"{'peak RSS GB':<16}{old_rss:>9.2f}{new_rss:>9.2f}{old_rss / new_rss:>9.1f}")


if __name__ == "__main__":
    main()
