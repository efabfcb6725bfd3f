"""Benchmark prediction as `ledger_predictions` runs it: rows/s of every registered candidate of the newest
dataset version on one month's `ledger_features`, side by side in one run, with the adapter in fp32 (the
reference) and with int8 dynamic quantization (the CPU default), and the champion the registry serves.

Needs a home where `acctax materialize` ran (a trained adapter, baseline and ensemble, registered in MLflow).

    .venv/bin/python benchmarks/predict.py                      # $ACCTAX_HOME or ./.acctax, newest month
    .venv/bin/python benchmarks/predict.py --month 2025-01 --batch-sizes 64 256
"""

from __future__ import annotations

import argparse
import os
import resource
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from acctax_assets.defs.ml_resources import tracking_uri
from acctax_assets.ml.model_registry import ModelRegistry, RegisteredCandidate
from acctax_assets.ml.serialization import serialize_rows
from acctax_assets.ml.serving import ServedModel, load_served
from acctax_assets.paths import AcctaxHome


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def month_texts(home: AcctaxHome, month: str | None, served: ServedModel) -> tuple[str, list[str]]:
    folder = home.storage / "ledger_features"
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise SystemExit(f"no ledger_features in {folder}: run `acctax materialize` first")
    path = folder / f"{month}-01.parquet" if month else files[-1]
    features = pd.read_parquet(path)
    return path.stem[:7], serialize_rows(features, served.text_spec.text_features).astype(str).tolist()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("ACCTAX_HOME") or ".acctax"))
    parser.add_argument("--month", default=None, help="YYYY-MM (default: the newest month with ledger_features)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args()

    home = AcctaxHome(args.home.resolve())
    registry = ModelRegistry(tracking_uri(home))
    candidates = newest_candidates(registry)
    champion = registry.resolve()
    first = load_served(candidates[0], device=args.device)
    month, texts = month_texts(home, args.month, first)
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


if __name__ == "__main__":
    main()
