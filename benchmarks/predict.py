"""Benchmark prediction as `ledger_predictions` runs it: rows/s of every registered candidate of the newest
dataset version on one month's `ledger_features`, side by side in one run, with the adapter in fp32 (the
reference) and with int8 dynamic quantization (the CPU default), and the champion the registry serves.

With `--against REV` it instead times the champion with git revision REV's code (checked out in a temporary
worktree) and with this tree's, each timing in a fresh process (torch's thread count is fixed per process, by
OMP_NUM_THREADS), sides interleaved, best of --repeat; per precision, batch size and thread count: rows/s, rows
per CPU-second (steadier than rows/s on a machine other work shares), the month's seconds, and how often this
tree's top-1 agrees with REV's and by how much their top-1 probabilities differ.

Needs a home where `acctax materialize` ran (a trained adapter, baseline and ensemble, registered in MLflow).

    .venv/bin/python benchmarks/predict.py                      # $ACCTAX_HOME or ./.acctax, newest month
    .venv/bin/python benchmarks/predict.py --month 2025-01 --batch-sizes 64 256
    .venv/bin/python benchmarks/predict.py --month 2024-05 --against HEAD~1 --threads 1 2 --rows 5000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from revisions import REPO, checkout

from acctax_assets.defs.ml_resources import tracking_uri
from acctax_assets.ml.data.serialization import serialize_rows
from acctax_assets.ml.serving.model_registry import ModelRegistry, RegisteredCandidate
from acctax_assets.ml.serving.served_model import ServedModel, load_served
from acctax_assets.paths import AcctaxHome

SAMPLE_SEED = 0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def month_texts(home: AcctaxHome, month: str | None, served: ServedModel, rows: int | None) -> tuple[str, list[str]]:
    """The month's model texts; `rows` of them drawn at random (seeded, so every run times the same rows)."""
    folder = home.storage / "ledger_features"
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise SystemExit(f"no ledger_features in {folder}: run `acctax materialize` first")
    path = folder / f"{month}-01.parquet" if month else files[-1]
    texts = serialize_rows(pd.read_parquet(path), served.text_spec.text_features).astype(str).tolist()
    if rows is not None and rows < len(texts):
        chosen = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(texts), rows, replace=False))
        texts = [texts[i] for i in chosen]
    return path.stem[:7], texts


def newest_candidates(registry: ModelRegistry) -> list[RegisteredCandidate]:
    versions = [v for v in registry.versions() if v.path.is_dir()]
    if not versions:
        raise SystemExit("no registered candidate with files: run `acctax materialize` first")
    newest = versions[-1].dataset_version
    return [v for v in versions if v.dataset_version == newest]


def timed(served: ServedModel, texts: list[str], warmup: int) -> tuple[float, np.ndarray]:
    served.predict(texts[:warmup])
    result = served.predict(texts)
    return result.rows_per_second, result.ids[:, 0]


def candidates_table(args: argparse.Namespace) -> None:
    """Every candidate of the newest dataset version in this process, fp32 and int8, per batch size."""
    if args.threads:
        torch.set_num_threads(args.threads[0])
    home = AcctaxHome(args.home.resolve())
    registry = ModelRegistry(tracking_uri(home))
    candidates = newest_candidates(registry)
    champion = registry.resolve()
    first = load_served(candidates[0], device=args.device)
    month, texts = month_texts(home, args.month, first, args.rows)
    print(f"{month}: {len(texts):,} rows, torch threads {torch.get_num_threads()}, champion {champion.label}")
    print("| model | int8 | batch | rows/s | vs adapter fp32 | same top-1 as fp32 | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    reference: dict[int, tuple[float, np.ndarray]] = {}
    for entry in sorted(candidates, key=lambda c: (c.kind != "adapter", c.kind)):
        quantize_options = (False, True) if entry.kind in ("adapter", "ensemble") else (True,)
        for batch_size in args.batch_sizes if entry.kind != "baseline" else args.batch_sizes[:1]:
            for quantize in quantize_options:
                served = load_served(entry, device=args.device, batch_size=batch_size, quantize=quantize)
                speed, top1 = timed(served, texts, batch_size)
                if entry.kind == "adapter" and not quantize:
                    reference[batch_size] = (speed, top1)
                base_speed, base_top1 = reference.get(batch_size, (float("nan"), None))
                agreement = f"{(top1 == base_top1).mean():.3f}" if base_top1 is not None else "-"
                star = " (champion)" if entry.registry_version == champion.registry_version else ""
                print(
                    f"| {entry.label}{star} | {'yes' if quantize and entry.kind != 'baseline' else 'no'} | {batch_size} | "
                    f"{speed:,.0f} | {speed / base_speed:.2f}x | {agreement} | {peak_rss_mib():.0f} |"
                )


def measure(args: argparse.Namespace) -> None:
    """One timing of the champion with whichever `acctax_assets` PYTHONPATH points at (a `--against` side):
    a JSON line on stdout, top-k ids and probabilities in `args.measure` (.npz). Only calls both sides have."""
    home = AcctaxHome(args.home.resolve())
    champion = ModelRegistry(tracking_uri(home)).resolve()
    served = load_served(
        champion, device=args.device, batch_size=args.batch_sizes[0], quantize=args.precision == "int8"
    )
    month, texts = month_texts(home, args.month, served, args.rows)
    served.predict(texts[: args.batch_sizes[0] * 4])
    cpu, wall = time.process_time(), time.perf_counter()
    result = served.predict(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    np.savez(args.measure, ids=result.ids, probs=result.probs)
    month_rows = pq.read_metadata(home.storage / "ledger_features" / f"{month}-01.parquet").num_rows
    print(
        json.dumps(
            {
                "rows": len(texts),
                "month_rows": month_rows,
                "seconds": wall,
                "cpu_seconds": cpu,
                "threads": torch.get_num_threads(),
                "champion": champion.label,
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    )


def side_timing(
    tree: Path, args: argparse.Namespace, precision: str, batch_size: int, threads: int, out: Path
) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", str(out), "--home", str(args.home), "--device", args.device]
    command += ["--precision", precision, "--batch-sizes", str(batch_size)]
    command += ["--month", args.month] if args.month else []
    command += ["--rows", str(args.rows)] if args.rows else []
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"predict.py --measure failed with the code of {tree}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def compare_revisions(args: argparse.Namespace) -> None:
    """The champion with REV's code and with this tree's, every setting interleaved, best of --repeat."""
    threads_options = args.threads or [torch.get_num_threads()]
    settings = [(p, b, t) for p in args.precisions for b in args.batch_sizes for t in threads_options]
    sides = (args.against, "this tree")
    best: dict[tuple[str, str, int, int], dict[str, float]] = {}
    with checkout(args.against) as old, tempfile.TemporaryDirectory() as folder:
        trees = {args.against: old, "this tree": REPO}
        outputs = {}
        for round_ in range(args.repeat):
            for precision, batch_size, threads in settings:
                for side in sides[:: 1 if round_ % 2 == 0 else -1]:
                    key = (side, precision, batch_size, threads)
                    out = Path(folder) / f"{len(outputs)}.npz"
                    timing = side_timing(trees[side], args, precision, batch_size, threads, out)
                    outputs.setdefault(key, out)
                    if key not in best or timing["seconds"] < best[key]["seconds"]:
                        best[key] = timing
                    print(f"  {side} {precision} batch {batch_size} threads {threads}: {timing}", flush=True)
        loaded = {key: np.load(path) for key, path in outputs.items()}
    first = next(iter(best.values()))
    print(
        f"\n{first['champion']}: {first['rows']:,} of the month's {first['month_rows']:,} rows timed, best of "
        f"{args.repeat} per side, each in a fresh process, sides interleaved; month s = month rows / rows/s"
    )
    print(
        f"| precision | batch | threads | rows/s {args.against} | rows/s this | this/{args.against} | "
        f"rows/CPU-s {args.against} | rows/CPU-s this | month s {args.against} | month s this | same top-1 | "
        "max |Δ top-1 p| |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for precision, batch_size, threads in settings:
        old_t, new_t = (best[(side, precision, batch_size, threads)] for side in sides)
        old_o, new_o = (loaded[(side, precision, batch_size, threads)] for side in sides)
        speeds = [t["rows"] / t["seconds"] for t in (old_t, new_t)]
        per_cpu = [t["rows"] / t["cpu_seconds"] for t in (old_t, new_t)]
        month_s = [t["month_rows"] / s for t, s in zip((old_t, new_t), speeds, strict=True)]
        same = (old_o["ids"][:, 0] == new_o["ids"][:, 0]).mean()
        delta = np.abs(old_o["probs"][:, 0] - new_o["probs"][:, 0]).max()
        print(
            f"| {precision} | {batch_size} | {threads} | {speeds[0]:,.0f} | {speeds[1]:,.0f} | "
            f"{speeds[1] / speeds[0]:.2f} | {per_cpu[0]:,.0f} | {per_cpu[1]:,.0f} | {month_s[0]:,.0f} | "
            f"{month_s[1]:,.0f} | {same:.4f} | {delta:.1e} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("ACCTAX_HOME") or ".acctax"))
    parser.add_argument("--month", default=None, help="YYYY-MM (default: the newest month with ledger_features)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--rows", type=int, default=None, help="time N of the month's rows, drawn at random (seeded)")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=None, help="torch threads (default: torch's, every core)"
    )
    parser.add_argument("--against", metavar="REV", help="time the champion with REV's code and this tree's")
    parser.add_argument("--precisions", nargs="+", choices=("int8", "fp32"), default=["int8"], help="for --against")
    parser.add_argument("--repeat", type=int, default=1, help="timings per side and setting for --against")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--precision", choices=("int8", "fp32"), default="int8", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args)
    elif args.against:
        compare_revisions(args)
    else:
        candidates_table(args)


if __name__ == "__main__":
    main()
