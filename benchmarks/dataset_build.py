"""ledger_dataset's build at an office's size: the pandas path it had before bd961c5 (the code of REFERENCE, its
parent, checked out in a temporary worktree by `revisions.py`) against the Arrow path of this tree, on the same month
partitions, measured in the same run.

What each side does, as the asset does it: read every month of `model_text` through the real Parquet IO manager
(`load_from_path`: DataFrames for the old side, pyarrow Tables with `AS_ARROW` for the new one), concatenate the
months, register the codes, split train/valid/test (stratified, seed 42, text leakage removed), build one
`datasets.Dataset` per split and save them (old: `save_to_disk`; new: `save_dataset`, as DatasetIOManager now
does). Each side runs in its own child process with PYTHONPATH at its tree (the old side calls REFERENCE's
`ml.dataset.build_dataset`, from before `ml/` had rooms), so its peak RSS (`ru_maxrss` from `os.wait4`) is its own;
wall time per stage is measured inside the child, after the imports. At the end the two saved datasets are compared
split by split: the same schema, rows, labels and order, or the run fails.

The data is generated cheaply: `--base-months` real demo months (`write_demo_ledger` through ingestion, cleaning,
features and `model_text` serialization, ~1.5 s each), repeated with altered month keys to `--months` months.
Each copy is changed so that it is not a duplicate of its base month: the account code's last digit is replaced by
one of six variants chosen by the client company (~250 codes with the demo's long tail, like an office), and
four rows in five get the month appended to their text (the fifth keeps a text seen in other months: realistic
leakage candidates). Files are written as the IO manager writes them (`DataFrame.to_parquet`, one per month).

    .venv/bin/python benchmarks/dataset_build.py                 # 24 months x 58,000 rows
    .venv/bin/python benchmarks/dataset_build.py --months 60     # an office: 3.4 M labelled rows

At 60 months (3.41 M rows, ~250 codes; 2 cores shared with other work, load ~3, two runs at bd961c5, whose old
side was a copy of the pandas split and build): old
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from revisions import REPO, checkout

SIDES = ("old", "new")
SEED = 42
# The parent of bd961c5, which brought the Arrow build: its ledger_dataset is the pandas path measured as "old".
REFERENCE = "1d81b54"


def month_keys(count: int) -> list[str]:
    return [f"{2020 + index // 12}-{index % 12 + 1:02d}-01" for index in range(count)]


def base_months(folder: Path, count: int, rows: int) -> list[pd.DataFrame]:
    """`count` demo months through the real data chain, as the model_text asset stores them."""
    from demo_ledger import demo_month_features  # this tree's package: not imported by the sides' processes

    from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, model_text

    names = [f"2024-{month:02d}" for month in range(1, count + 1)]
    features = demo_month_features(folder, names, rows)
    return [model_text(frame, month, DEFAULT_TEXT_FEATURES) for month, frame in features.items()]


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


def partition_reader(data: Path, metadata: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """Reads every month through the real IO manager's `load_from_path`, as ledger_dataset's input receives them
    (Dagster is imported and the context built before the clock starts)."""
    from dagster import build_input_context
    from upath import UPath

    from acctax_assets.defs.io_managers import _ParquetUPathIOManager

    manager = _ParquetUPathIOManager(base_path=UPath(data))
    context = build_input_context(definition_metadata=metadata)
    paths = sorted((data / "model_text").glob("*.parquet"))
    return lambda: {path.stem: manager.load_from_path(context, UPath(path)) for path in paths}


Stages = Sequence[tuple[str, Callable[[Any], Any]]]


def old_stages(data: Path, out: Path) -> Stages:
    """REFERENCE's ledger_dataset, with its module paths: DataFrames from the IO manager, the pandas concat, split and
    `Dataset.from_pandas` build, `save_to_disk`."""
    from acctax_assets.ml.dataset import build_dataset
    from acctax_assets.ml.label_registry import LabelRegistry
    from acctax_assets.ml.serialization import concat_model_text
    from acctax_assets.ml.splits import SplitSettings

    read = partition_reader(data, {})
    return (
        ("read", lambda _: read()),
        ("concat", lambda months: concat_model_text(months[month] for month in sorted(months))),
        ("split_and_build", lambda rows: build_dataset(rows, LabelRegistry(), SplitSettings(seed=SEED))[0]),
        ("save", lambda dataset: dataset.save_to_disk(str(out))),
    )


def new_stages(data: Path, out: Path) -> Stages:
    """This tree's ledger_dataset: pyarrow Tables (AS_ARROW), the Arrow concat, split and build, `save_dataset`."""
    from acctax_assets.defs.io_managers import AS_ARROW
    from acctax_assets.ml.data.dataset import build_dataset, save_dataset
    from acctax_assets.ml.data.label_slots import LabelSlots
    from acctax_assets.ml.data.serialization import concat_model_tables
    from acctax_assets.ml.data.splits import SplitSettings

    read = partition_reader(data, {AS_ARROW: True})
    return (
        ("read", lambda _: read()),
        ("concat", lambda months: concat_model_tables(months[month] for month in sorted(months))),
        ("split_and_build", lambda rows: build_dataset(rows, LabelSlots(), SplitSettings(seed=SEED))[0]),
        ("save", lambda dataset: save_dataset(dataset, out)),
    )


def run_side(side: str, data: Path, out: Path) -> dict[str, float]:
    """One side's stages, each fed the one before and timed, and their total; the dataset is saved under `out`."""
    from datasets import disable_progress_bars

    disable_progress_bars()
    stages = old_stages(data, out) if side == "old" else new_stages(data, out)
    times: dict[str, float] = {}
    value: Any = None
    started = time.perf_counter()
    for name, stage in stages:
        mark = time.perf_counter()
        value = stage(value)
        times[name] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    return times


def measure(side: str, tree: Path, data: Path, out: Path) -> dict[str, Any]:
    """Run one side in a child process with the `acctax_assets` of `tree`: its stage times and its own peak RSS."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--side", side, "--data", str(data), "--out", str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
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
        with checkout(REFERENCE) as old:
            trees = {"old": old, "new": REPO}
            results = {side: measure(side, trees[side], data, data / side) for side in SIDES}
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
