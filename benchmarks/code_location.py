"""What loading the code location costs: every code-server start and reload, every `dagster` CLI call, every sensor
evaluation in a fresh process and every step process of the multiprocess executor pays it.

Measures, in fresh interpreters, the wall time of `import acctax_assets.definitions` + loading the Definitions and
which ML frameworks that pulls in, and the wall time of `dagster definitions validate -w workspace.yaml`. With
`--against REV` the same figures are taken for another commit (checked out in a temporary git worktree) in the same
run, so the two can be compared under the same load.

    .venv/bin/python benchmarks/code_location.py
    .venv/bin/python benchmarks/code_location.py --against 32762c2 --repeat 5
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

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = (
    "torch",
    "transformers",
    "peft",
    "deepspeed",
    "accelerate",
    "datasets",
    "sklearn",
    "tokenizers",
    "mlflow",
    "pandas",
)
PROBE = (
    "import json, sys, time\n"
    "started = time.perf_counter()\n"
    "import acctax_assets.definitions as location\n"
    "location.defs.get_repository_def()\n"
    "seconds = time.perf_counter() - started\n"
    f"print(json.dumps({{'seconds': seconds, 'loaded': [n for n in {FRAMEWORKS!r} if n in sys.modules]}}))\n"
)


def measure(tree: Path, repeat: int) -> dict[str, object]:
    """Median import + load time and validate time for the code in `tree` (imported from there, not from the venv's
    editable install)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    imports, loaded = [], []
    for _ in range(repeat):
        result = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=tree, env=env, capture_output=True, text=True, check=True
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        imports.append(figures["seconds"])
        loaded = figures["loaded"]
    dagster = Path(sys.executable).with_name("dagster")
    validates = []
    with tempfile.TemporaryDirectory() as home:
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run(
                [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                cwd=tree,
                env={**env, "DAGSTER_HOME": home},
                capture_output=True,
                check=True,
            )
            validates.append(time.perf_counter() - started)
    return {
        "import_seconds": statistics.median(imports),
        "validate_seconds": statistics.median(validates),
        "loaded": loaded,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default=None, help="another commit to measure in the same run (the reference)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh interpreters per figure (the median is printed)")
    args = parser.parse_args(argv)
    trees = {"working tree": REPO}
    with tempfile.TemporaryDirectory() as scratch:
        if args.against:
            reference = Path(scratch) / "reference"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(reference), args.against],
                cwd=REPO,
                capture_output=True,
                check=True,
            )
            trees = {f"{args.against} (reference)": reference, **trees}
        try:
            results = {name: measure(tree, args.repeat) for name, tree in trees.items()}
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(reference)], cwd=REPO, capture_output=True)
    first = next(iter(results.values()))
    print(
        "| code | import + load Definitions (s) | vs first | `dagster definitions validate` (s) | vs first | frameworks loaded |"
    )
    print("|---|---|---|---|---|---|")
    for name, figures in results.items():
        print(
            f"| {name} | {figures['import_seconds']:.2f} | {figures['import_seconds'] / first['import_seconds']:.2f}× "
            f"| {figures['validate_seconds']:.2f} | {figures['validate_seconds'] / first['validate_seconds']:.2f}× "
            f"| {', '.join(figures['loaded']) or 'none'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
