"""Benchmark batch prediction (what `ledger_predictions` does): rows/s per batch size on CPU (or GPU) and
peak RSS, plus the TF-IDF baseline's rows/s for scale.

Uses a stored adapter when given one (e.g. $ACCTAX_HOME/storage/account_classifier/<version>); otherwise
builds an untrained LoRA adapter on the bundled base model (speed does not depend on the weights' values).

    .venv/bin/python benchmarks/predict.py                       # 2000 demo rows, batch 32/64/128
    .venv/bin/python benchmarks/predict.py --rows 5000 --adapter .acctax/storage/account_classifier/<version>
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch
from peft import LoraConfig, TaskType, get_peft_model
from transformers import AutoModelForSequenceClassification

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.demo_ledger import write_demo_ledger
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file
from acctax_assets.ml.adapter import TRAINED_CLASSES_FILE, AdapterRef
from acctax_assets.ml.baseline import BaselineSettings, train_baseline
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.inference import Predictor
from acctax_assets.ml.serialization import DEFAULT_TEXT_FEATURES, TextSpec, serialize_rows
from acctax_assets.ml.tokenization import default_base_model, load_tokenizer


def demo_features(folder: Path, rows: int) -> tuple[list[str], list[str]]:
    """(model texts, codes) of one cleaned demo month, serialized as ledger_dataset does."""
    landing = folder / "landing"
    path = write_demo_ledger(landing, ["2024-03"], rows, seed=11, encoding="utf-8")[0]
    cleaned = clean_ledger(combine([read_ledger_file(path, load_column_map(), landing)]), "2024-03-01", CleaningRules()).cleaned
    features = build_features(cleaned)
    return serialize_rows(features, DEFAULT_TEXT_FEATURES).astype(str).tolist(), features["acct_code"].astype(str).tolist()


def untrained_adapter(folder: Path, codes: list[str], max_length: int) -> AdapterRef:
    """A LoRA adapter with freshly initialised weights, laid out exactly like the trainer's output."""
    registry = LabelRegistry().with_codes(codes)
    base_path = default_base_model()
    base = AutoModelForSequenceClassification.from_pretrained(base_path, num_labels=registry.max_classes, local_files_only=True)
    model = get_peft_model(base, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, target_modules=["query", "value"]))
    model.save_pretrained(str(folder))
    load_tokenizer(base_path).save_pretrained(str(folder))
    registry.save(folder / REGISTRY_FILE)
    TextSpec(DEFAULT_TEXT_FEATURES, max_length=max_length).save(folder)
    ids = list(range(registry.used))
    (folder / TRAINED_CLASSES_FILE).write_text(json.dumps({"class_ids": ids, "codes": list(registry.codes), "counts": [1] * len(ids)}))
    return AdapterRef(folder)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000, help="demo rows to predict")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--adapter", type=Path, default=None, help="a stored adapter version folder (default: untrained)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--max-length", type=int, default=160)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        texts, codes = demo_features(Path(temp), args.rows)
        adapter = AdapterRef(args.adapter) if args.adapter else untrained_adapter(Path(temp) / "adapter", codes, args.max_length)
        print(f"{len(texts):,} rows, adapter {adapter.path}, torch threads {torch.get_num_threads()}, RSS before model {peak_rss_mib():.0f} MiB")
        print("| batch | device | rows/s | seconds | peak RSS MiB |")
        print("|---|---|---|---|---|")
        for batch_size in args.batch_sizes:
            predictor = Predictor(adapter, device=args.device, batch_size=batch_size)
            predictor.predict(texts[:batch_size])
            result = predictor.predict(texts)
            print(f"| {batch_size} | {predictor.device} | {result.rows_per_second:.1f} | {result.seconds:.1f} | {peak_rss_mib():.0f} |")
        started = time.perf_counter()
        baseline = train_baseline(texts, codes, BaselineSettings())
        fitted = time.perf_counter() - started
        started = time.perf_counter()
        baseline.predict(texts)
        print(f"baseline TF-IDF + logistic regression: fit {fitted:.1f} s, predict {len(texts) / (time.perf_counter() - started):,.0f} rows/s")


if __name__ == "__main__":
    main()
