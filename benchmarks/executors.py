"""Which executor the data jobs should run on: the wall time of one real `ledger_data_job` run (raw_ledger →
cleaned_ledger + rejected_ledger_rows → ledger_features and their checks, one month) launched by `dagster job
execute`, once with the code location's in-process executor and once with the multiprocess executor (one process
per step, each loading the code location).

Both runs use the same demo month in the same fresh ACCTAX_HOME and alternate, so they see the same load; the
multiprocess variant is the same Definitions with only the executor replaced.

    .venv/bin/python benchmarks/executors.py --rows-per-month 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANT_MODULE = """
from dagster import multiprocess_executor
from dagster_shared.record import copy

import acctax_assets.definitions

defs = copy(acctax_assets.definitions.defs, executor=multiprocess_executor)
"""
MONTH = "2024-01"


def run_job(module: str, env: dict[str, str], workdir: Path) -> float:
    """Seconds `dagster job execute` takes for ledger_data_job on MONTH; a failed run stops the benchmark."""
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "job",
        "execute",
        "-m",
        module,
        "-j",
        "ledger_data_job",
        "--tags",
        json.dumps({"dagster/partition": f"{MONTH}-01"}),
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{module}: ledger_data_job failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows-per-month", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        home = root / "acctax"
        (root / "executor_variant.py").write_text(VARIANT_MODULE, encoding="utf-8")
        env = {
            **os.environ,
            "ACCTAX_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        (home / "dagster").mkdir(parents=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "acctax_assets.demo",
                "--start",
                MONTH,
                "--end",
                MONTH,
                "--rows-per-month",
                str(args.rows_per_month),
                "--out",
                str(home / "landing"),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        variants = {
            "in-process (code location default)": "acctax_assets.definitions",
            "multiprocess": "executor_variant",
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, module in variants.items():
                times[name].append(run_job(module, env, root))

    reference = statistics.median(times["in-process (code location default)"])
    print(
        f"ledger_data_job, one month of {args.rows_per_month} demo rows, {args.repeat} runs each, `dagster job execute`:"
    )
    print(f"{'executor':<38} {'median s':>9} {'min s':>7} {'vs in-process':>14}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<38} {median:9.2f} {min(values):7.2f} {median / reference:13.2f}x")


if __name__ == "__main__":
    main()
