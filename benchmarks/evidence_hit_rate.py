"""How often the evidence beside a proposal names the clerk's code on the rows the review queue holds.

The demo ledger (seed 7, 2024-01..2024-12 as `acctax materialize` writes it), or a folder of real monthly ledger
files (`--ledger`, months found as the platform finds them), goes through the real reader, cleaning, features and
serialization; the last month is the one proposed, the month before it chooses the review threshold, every earlier
month trains — as `ledger_dataset`'s time split does. The proposing model is the TF-IDF
baseline at its default settings (no grid: a minute on 2 cores); the evidence is fitted on every month before the
proposed one, as a precedent candidate refitted on all labelled rows would be when that month arrives. Prints what
`ledger_predictions` records as `evidence_hit_rate_review`, and what the strong-precedent rule adds to the queue.

    .venv/bin/python benchmarks/evidence_hit_rate.py [--rows-per-month 2000] [--seed 7] [--min-bookings 5 --min-share 0.9]
    .venv/bin/python benchmarks/evidence_hit_rate.py --ledger /work/shared/realdata/calderdale/months
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from demo_ledger import demo_month_features

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_files
from acctax_assets.ledger.landing import list_landing_files, month_of_file
from acctax_assets.ml.candidates.baseline import BaselineSettings, slot_probabilities, train_baseline
from acctax_assets.ml.candidates.evidence import BookingEvidence, NeighbourIndex, StrongPrecedent, evidence_hit_rates
from acctax_assets.ml.candidates.precedent import MODEL_FILE, NEIGHBOURS_FILE, PrecedentLookup, booking_dates
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, model_text, serialize_rows
from acctax_assets.ml.evaluation.confidence import ReviewPolicy
from acctax_assets.ml.serving.predictions import DISAGREES_WITH_PRECEDENT, Predictions, prediction_table

DEMO_MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]


def demo_features(folder: Path, rows: int, seed: int) -> dict[str, pd.DataFrame]:
    """The demo year, keyed by month (YYYY-MM) as `ledger_features` keys a real folder."""
    features = demo_month_features(folder, DEMO_MONTHS, rows, seed)
    return {month[:7]: frame for month, frame in features.items()}


def ledger_features(folder: Path) -> dict[str, pd.DataFrame]:
    """Every month of a folder of ledger files, cleaned with the column map's chart, as the data layer does."""
    column_map = load_column_map()
    by_month: dict[str, list[Path]] = {}
    for path in list_landing_files(folder):
        month = month_of_file(path, column_map, folder)
        if month is None:
            raise SystemExit(f"{path}: neither its name nor its dates say which month it belongs to")
        by_month.setdefault(month[:7], []).append(path)
    rules = CleaningRules(chart=column_map.chart)
    return {
        month: build_features(
            clean_ledger(combine(read_ledger_files(paths, column_map, folder)), f"{month}-01", rules).cleaned
        )
        for month, paths in sorted(by_month.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-month", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ledger", type=Path, default=None, help="a folder of real monthly ledger files")
    parser.add_argument("--min-bookings", type=int, default=5, help="strong precedent: at least this many bookings")
    parser.add_argument("--min-share", type=float, default=0.9, help="strong precedent: this share on one code")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        if args.ledger is not None:
            features = ledger_features(args.ledger)
        else:
            features = demo_features(Path(work) / "landing", args.rows_per_month, args.seed)
        months = sorted(features)
        text = {m: model_text(f, f"{m}-01", DEFAULT_TEXT_FEATURES) for m, f in features.items()}
        train = pd.concat([text[m] for m in months[:-2]], ignore_index=True)
        valid, history = text[months[-2]], pd.concat([text[m] for m in months[:-1]], ignore_index=True)
        all_rows = pd.concat(text.values(), ignore_index=True)
        names = dict(zip(all_rows["code"], all_rows["name"], strict=True))
        label_slots = LabelSlots(max_classes=128).with_codes(sorted(set(all_rows["code"])), names)

        pipeline = train_baseline(train["text"].tolist(), label_slots.ids(train["code"].tolist()), BaselineSettings())
        trained = np.asarray(pipeline.classes_, dtype=np.int64)
        valid_top = Predictions.top(slot_probabilities(pipeline, valid["text"].tolist(), 128), trained, 0.0)
        truth = np.asarray(label_slots.ids(valid["code"].tolist()))
        threshold = ReviewPolicy(target_accuracy=0.97).threshold(valid_top.probs[:, 0], valid_top.ids[:, 0] == truth)

        labels, texts = label_slots.ids(history["code"].tolist()), history["text"].tolist()
        dates = booking_dates(texts, history["month"].tolist())
        folder = Path(work) / "precedent"
        folder.mkdir()
        joblib.dump(PrecedentLookup.fit(texts, labels, 128, dates=dates), folder / MODEL_FILE)
        joblib.dump(NeighbourIndex.fit(texts, labels, dates), folder / NEIGHBOURS_FILE)
        label_slots.save(folder / LABEL_SLOTS_FILE)
        evidence = BookingEvidence.load(folder)

        month = features[months[-1]]
        month_texts = serialize_rows(month, DEFAULT_TEXT_FEATURES).astype(str).tolist()
        proposals = Predictions.top(slot_probabilities(pipeline, month_texts, 128), trained, 0.0)
        explained = evidence.explain(month_texts)
        strong = StrongPrecedent(args.min_bookings, args.min_share)
        table = prediction_table(month, proposals, label_slots, threshold, "baseline", explained, strong)
        without = prediction_table(month, proposals, label_slots, threshold, "baseline")
    added = table["review_reason"] == DISAGREES_WITH_PRECEDENT
    # Where the clerk must correct the proposal: how often the evidence already names the right code.
    wrong = table[table["needs_review"] & ~table["correct"].astype(bool)]
    truth = wrong["true_code"].astype("string")
    figures = {
        "ledger": str(args.ledger) if args.ledger is not None else f"demo, seed {args.seed}",
        "month": months[-1],
        "strong_precedent": f">= {args.min_bookings} bookings, >= {args.min_share:.0%} on one code",
        "rows": len(table),
        "accuracy": round(float(table["correct"].mean()), 4),
        "review_share_by_confidence": round(float(without["needs_review"].mean()), 4),
        "review_share": round(float(table["needs_review"].mean()), 4),
        "review_added_by_precedent": int(added.sum()),
        "added_rows_wrong": int((added & ~table["correct"].astype(bool)).sum()),
        "rows_with_pair_precedent": int(table["precedent"].str.startswith("this client + counterparty").sum()),
        "evidence_hit_rate_review": evidence_hit_rates(table),
        "wrong_review_rows": len(wrong),
        "right_where_proposal_wrong": {
            column: round(float((wrong[column].astype("string") == truth).fillna(False).mean()), 4)
            for column in ("precedent_code", "neighbour_code", "top2_code")
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
